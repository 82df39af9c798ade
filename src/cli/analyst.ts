/**
 * The analyst's commands: `init`, `apply`, `show`, `explain`, `export`, `runs`.
 *
 * @module
 */

import { isWithin, writeAll } from "../files.ts";
import type { DomainFinding } from "../analysis/analyze.ts";
import { atLeast, SEVERITIES, type Severity } from "../analysis/model.ts";
import { reportData, reportHtml } from "../present/report.ts";
import { carve } from "../evidence/carve.ts";
import { keepCarving } from "../workspace/carving.ts";
import { StoreError } from "../store/errors.ts";
import { carveDocument, streamKey, streamLine } from "../present/carve.ts";
import { VERSION } from "../version.ts";
import { ConfigError } from "../config/config.ts";
import { featureProblem, lookupDomain, nameTooLong } from "../present/lookup.ts";
import { colors } from "../present/colors.ts";
import { displayText, escapeTerminal } from "../present/escape.ts";
import {
  domainObject,
  evidenceObject,
  explainDocument,
  exportCsv,
  exportDocument,
  exportSigma,
  runRecordObject,
} from "../present/export.ts";
import { exportEcs, exportRpz } from "../present/siem.ts";
import { type AllowEntry, expired } from "../analysis/allow.ts";
import { explainText, featureText, findingLine, showText, summaryLine } from "../present/text.ts";
import type { ResultsReader } from "../store/reader.ts";
import { applyFiles } from "../run/apply.ts";
import { checkInput, InputError } from "../ingest/source.ts";
import { err, out, UsageError, withSourcesProgress } from "./common.ts";
import {
  openOutputFile,
  openResults,
  openStore,
  sayMigrate,
  selectRun,
  storeFailure,
  storeProblem,
  type Workspace,
  workspace,
} from "./workspace.ts";
import { initWorkspace, prepareWorkspace, type RunWorkspace } from "../workspace/workspace.ts";

/** Create the workspace: config.hcl (unless present) and the database. */
export async function runInit(o: { dir?: string; force?: boolean; quiet?: boolean }): Promise<number> {
  const ws = workspace(o.dir);
  let made;
  try {
    made = await initWorkspace(ws, { force: o.force, onMigrate: sayMigrate(ws) });
  } catch (e) {
    throw storeFailure(e, ws);
  }
  const { wrote, existed: exists } = made;
  if (!o.quiet) {
    out(
      wrote
        ? `Wrote ${ws.configPath}${exists ? " (replaced: --force)" : ""}\nDatabase ${ws.dbPath} ready\n`
        : `${ws.configPath} exists and was kept (use --force to rewrite it with defaults)\nDatabase ${ws.dbPath} ready\n`,
    );
  }
  return 0;
}

/** Options of `apply`. */
export interface ApplyOptions {
  dir?: string;
  c2Domains?: string[];
  weights?: string;
  json?: boolean;
  all?: boolean;
  includeSuppressed?: boolean;
  dnsPorts?: number[];
}

/**
 * What a command that makes a run needs: the workspace (initialized with
 * defaults when it is new), its config, the model and the run settings.
 */
export async function prepareRun(
  o: { dir?: string; weights?: string; c2Domains?: string[]; dnsPorts?: number[] },
): Promise<RunWorkspace> {
  const ws = workspace(o.dir);
  let run;
  try {
    run = await prepareWorkspace(o, sayMigrate(ws));
  } catch (e) {
    if (e instanceof ConfigError) throw new UsageError(e.message);
    throw storeFailure(e, ws);
  }
  if (run.initialized) console.error(`Initialized ${ws.dir}/ with default settings (plumbum init writes the same).`);
  return run;
}

export async function runApply(files: string[], o: ApplyOptions): Promise<number> {
  const { ws, cfg, model, c2Domains: c2, dnsPorts, resolvers, allow } = await prepareRun(o);
  noteExpired(allow ?? []);
  // Refuse missing inputs before a run is recorded.
  for (const f of files) {
    try {
      checkInput(f);
    } catch (e) {
      if (e instanceof InputError) throw new UsageError(escapeTerminal(e.message));
      throw e;
    }
  }
  const store = openStore(ws);
  try {
    let result;
    try {
      result = await withSourcesProgress((onSourcesProgress) =>
        applyFiles(store, files, {
          model,
          c2Domains: c2,
          dnsPorts,
          resolvers,
          allow,
          storeTransactions: cfg.storeTransactions,
          onSourcesProgress,
        })
      );
    } catch (e) {
      throw storeProblem(e, ws) ?? e;
    }
    const { run, stats, domains } = result;
    // The run holds its MEDIUM and above; every domain is read back from the store when asked for.
    const all = o.json || o.all ? store.findings(run.id) : result.findings;
    const findings = withoutAllowed(all, o.includeSuppressed);
    const allowed = all.length - findings.length;
    for (const s of stats) {
      if (s.malformed > 0) {
        console.error(
          `note: ${escapeTerminal(s.path)}: ${s.malformed} malformed packets or lines skipped (plumbum validate ${
            escapeTerminal(s.path)
          } says where)`,
        );
      }
    }
    if (o.json) {
      out(JSON.stringify(exportDocument(run, findings)) + "\n");
      return 0;
    }
    out(
      findingsReport(findings, { all: o.all, total: domains - allowed }) +
        `\nArtifacts written to ${escapeTerminal(ws.dbPath)} (run #${run.id})\n\n${summaryLine(findings, domains)}${
          allowed > 0 ? `, ${allowed} allowed by config.hcl (not listed)` : ""
        }\n`,
    );
    return 0;
  } finally {
    store.close();
  }
}

/** The findings table: every domain at MEDIUM or above (all with `all`); `total`: domains scored, when more than given. */
function findingsReport(findings: DomainFinding[], o: { all?: boolean; total?: number } = {}): string {
  const c = colors();
  const shown = o.all ? findings : findings.filter((f) => atLeast(f.severity, "MEDIUM"));
  const lines = ["Plumbum Findings:", ""];
  if (shown.length === 0) lines.push("No domain scored MEDIUM or above.");
  for (const f of shown) lines.push(findingLine(c, f));
  const hidden = (o.total ?? findings.length) - shown.length;
  if (hidden > 0) {
    lines.push(
      c.dim(
        `(${hidden} LOW domain${hidden === 1 ? "" : "s"} not shown: --all lists them, plumbum export has them all)`,
      ),
    );
  }
  return lines.join("\n") + "\n";
}

function lookup(store: ResultsReader, runId: number, domain: string): DomainFinding {
  const l = lookupDomain(store, runId, domain);
  if (l.kind === "found") return l.finding;
  if (l.kind === "under") {
    throw new UsageError(
      `"${escapeTerminal(domain)}" was not scored itself: it is under ${
        escapeTerminal(l.parent)
      }; try \`plumbum explain ${escapeTerminal(l.parent)}\``,
    );
  }
  if (l.kind === "too-long") {
    throw new UsageError(nameTooLong(l.length));
  }
  throw new UsageError(
    `no domain "${escapeTerminal(domain)}" in run #${runId}` +
      (l.closest.length > 0
        ? `; closest scored: ${l.closest.map(escapeTerminal).join(", ")}`
        : "; `plumbum export` lists every scored domain"),
  );
}

/** Options shared by the readers. */
export interface ReadOptions {
  dir?: string;
  run?: number;
  json?: boolean;
}

/** `plumbum show DOMAIN`. */
export function runShow(domain: string, o: ReadOptions): number {
  const store = openResults(workspace(o.dir));
  try {
    const run = selectRun(store, o.run);
    const f = lookup(store, run.id, domain);
    if (o.json) out(JSON.stringify({ ...domainObject(f), evidence: evidenceObject(f.evidence), run: run.id }) + "\n");
    else out(showText(colors(), f));
    return 0;
  } finally {
    store.close();
  }
}

/** `plumbum explain DOMAIN [--feature NAME]`. */
export function runExplain(domain: string, o: ReadOptions & { feature?: string }): number {
  const store = openResults(workspace(o.dir));
  try {
    const run = selectRun(store, o.run);
    const f = lookup(store, run.id, domain);
    const problem = o.feature === undefined ? null : featureProblem(f, o.feature);
    if (problem !== null) throw new UsageError(`--feature: "${escapeTerminal(o.feature!)}" ${problem}`);
    if (o.json) {
      out(JSON.stringify(explainDocument(store, run.id, f, o.feature)) + "\n");
    } else {
      out(o.feature === undefined ? explainText(colors(), f) : featureText(f, o.feature));
    }
    return 0;
  } finally {
    store.close();
  }
}

/** `plumbum export`. */
export function runExport(
  o: ReadOptions & { format: string; output?: string; minSeverity?: string; includeSuppressed?: boolean },
): number {
  const format = o.format.toLowerCase();
  if (!["json", "csv", "sigma", "ecs", "rpz"].includes(format)) {
    throw new UsageError(`--format must be json, csv, sigma, ecs or rpz, not "${escapeTerminal(o.format)}"`);
  }
  const min = minSeverity(o.minSeverity);
  const ws = workspace(o.dir);
  const store = openResults(ws);
  let text: string;
  try {
    const run = selectRun(store, o.run);
    // ECS documents carry the clients, names and times of the evidence.
    const scored = store.findings(run.id, { withEvidence: format === "ecs" });
    let findings = withoutAllowed(scored, o.includeSuppressed);
    // Sigma rules are for flagged domains: MEDIUM and above unless told otherwise; a blocking zone HIGH and above.
    const floor = min ?? (format === "sigma" ? "MEDIUM" : format === "rpz" ? "HIGH" : "LOW");
    findings = findings.filter((f) => atLeast(f.severity, floor));
    if (format === "sigma" && findings.length === 0) {
      throw new UsageError(
        `no domain in run #${run.id} is ${floor} or above: there is nothing to write a Sigma rule for`,
      );
    }
    text = format === "json"
      ? JSON.stringify(exportDocument(run, findings, store.carvings(run.id))) + "\n"
      : format === "csv"
      ? exportCsv(findings)
      : format === "ecs"
      ? exportEcs(run, findings)
      : format === "rpz"
      ? exportRpz(run, findings)
      : exportSigma(run, findings);
    if (format === "rpz" && findings.length === 0) {
      err(`note: no domain in run #${run.id} is ${floor} or above: the zone blocks nothing`);
    }
  } finally {
    store.close();
  }
  writeOutput(o.output, ws, text, "the export");
  return 0;
}

/** `findings` less those config.hcl's allow-list suppressed (unless `include`), how many it left out said on stderr. */
function withoutAllowed(findings: DomainFinding[], include = false): DomainFinding[] {
  if (include) return findings;
  const listed = findings.filter((f) => !f.suppressed);
  const n = findings.length - listed.length;
  if (n > 0) {
    err(`note: ${n} domain${n === 1 ? "" : "s"} allowed by config.hcl left out (--include-suppressed lists them)`);
  }
  return listed;
}

/** Say on stderr which allow-list entries have expired (they no longer apply). */
export function noteExpired(allow: readonly AllowEntry[], now = new Date()): void {
  for (const e of allow) {
    if (expired(e, now)) {
      err(`note: allow "${escapeTerminal(e.name)}" expired on ${e.expires}: it no longer applies (renew or remove it)`);
    }
  }
}

/** `--min-severity`: a severity (any case), or undefined when not given. */
function minSeverity(value: string | undefined): Severity | undefined {
  if (value === undefined) return undefined;
  const m = value.toUpperCase();
  if (!(SEVERITIES as readonly string[]).includes(m)) {
    throw new UsageError(`--min-severity must be LOW, MEDIUM, HIGH or CRITICAL, not "${escapeTerminal(value)}"`);
  }
  return m as Severity;
}

/**
 * `text` to standard output (`-o -` or none), or to the file `-o` names:
 * opened, then proved none of the workspace's files, before anything is
 * emptied or written. Returns the bytes written.
 */
function writeOutput(path: string | undefined, ws: Workspace, text: string, what: string): number {
  const bytes = new TextEncoder().encode(text);
  if (path === undefined || path === "-") {
    out(text);
    return bytes.length;
  }
  const file = openOutputFile(path, ws, "-o", what);
  try {
    writeAll(file, bytes);
  } catch (e) {
    throw new UsageError(`-o: cannot write ${escapeTerminal(path)}: ${(e as Error).message}`);
  } finally {
    file.close();
  }
  console.error(`Wrote ${escapeTerminal(path)}`);
  return bytes.length;
}

/** `plumbum report`: one self-contained HTML page of a run. */
export function runReport(o: ReadOptions & { output?: string; minSeverity?: string }): number {
  if (o.output === undefined) {
    throw new UsageError("report writes a page: give -o FILE.html (or -o - for standard output)");
  }
  const floor = minSeverity(o.minSeverity) ?? "MEDIUM";
  const ws = workspace(o.dir);
  const store = openResults(ws);
  let html: string;
  try {
    html = reportHtml(reportData(store, selectRun(store, o.run), floor, VERSION));
  } finally {
    store.close();
  }
  const size = writeOutput(o.output, ws, html, "the report");
  if (o.output !== "-") {
    console.error(
      `${(size / 1e6).toFixed(2)} MB, self-contained: open it in any browser, offline; it prints one finding a page`,
    );
  }
  return 0;
}

/** `plumbum runs`. */
export function runRuns(o: { dir?: string; json?: boolean }): number {
  const store = openResults(workspace(o.dir));
  try {
    const runs = store.runs();
    if (o.json) {
      out(
        JSON.stringify({
          runs: runs.map(runRecordObject),
        }) + "\n",
      );
      return 0;
    }
    if (runs.length === 0) {
      out("No runs yet: plumbum apply CAPTURE\n");
      return 0;
    }
    const latest = store.run();
    const lines = ["  run  status     started                    transactions  domains  sources"];
    for (const r of runs) {
      const mark = latest !== null && r.id === latest.id ? "*" : " ";
      lines.push(
        `${mark}${String(r.id).padStart(4)}  ${r.status.padEnd(9)}  ${r.started_at.padEnd(25)}  ${
          String(r.transactions).padStart(12)
        }  ${String(r.domains).padStart(7)}  ${
          r.sources.map((s) => escapeTerminal(s.path)).join(", ") ||
          escapeTerminal(String((r.config.files as string[] | undefined)?.join(", ") ?? ""))
        }${r.error ? `  (${escapeTerminal(r.error)})` : ""}`,
      );
    }
    lines.push("", "* the run show, explain and export read by default (--run N picks another)");
    out(lines.join("\n") + "\n");
    return 0;
  } finally {
    store.close();
  }
}

/**
 * Make the carving's folder: never inside the workspace (by real path), and
 * an existing one only when empty, or with `force`.
 */
function carveFolder(dir: string, ws: Workspace, force: boolean): void {
  const shown = escapeTerminal(dir);
  let entries: string[] | null = null;
  try {
    entries = [...Deno.readDirSync(dir)].map((e) => e.name);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) {
      throw new UsageError(`-o: ${shown} cannot be used as the carving's folder: ${(e as Error).message}`);
    }
  }
  if (entries !== null && entries.length > 0 && !force) {
    throw new UsageError(`-o: ${shown} exists and is not empty: pick a new folder, or add --force to write into it`);
  }
  try {
    Deno.mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw new UsageError(`-o: cannot make the folder ${shown}: ${(e as Error).message}`);
  }
  const real = Deno.realPathSync(dir),
    wsReal = (() => {
      try {
        return Deno.realPathSync(ws.dir);
      } catch {
        return null;
      }
    })();
  if (wsReal !== null && isWithin(real, wsReal)) {
    if (entries === null) Deno.removeSync(dir);
    throw new UsageError(
      `-o: ${shown} is inside the workspace ${escapeTerminal(ws.dir)}/: carve into a folder of its own`,
    );
  }
}

/** A name as a file name: letters, digits, dot, dash and underscore kept, anything else `_`. */
function fileSafe(s: string): string {
  return displayText(s).replace(/[^A-Za-z0-9._-]/g, "_").replace(/^\.+/, "_").slice(0, 200) || "_";
}

/** `plumbum carve`: a finding's packets and the data its names and answers carried. */
export async function runCarve(
  domain: string,
  o: ReadOptions & { output?: string; client?: string; json?: boolean; pcap?: boolean; force?: boolean },
): Promise<number> {
  const ws = workspace(o.dir);
  const store = openResults(ws);
  let run, finding;
  try {
    run = selectRun(store, o.run);
    finding = lookup(store, run.id, domain);
  } finally {
    store.close();
  }
  const dir = o.output ?? `carve-${fileSafe(finding.domain)}`;
  carveFolder(dir, ws, o.force === true);
  const name = fileSafe(finding.domain);
  const pcapPath = `${dir}/${name}.pcap`;
  const c = await carve(run, finding.domain, {
    pcap: o.pcap === false ? null : () => openOutputFile(pcapPath, ws, "-o", "the capture"),
    client: o.client,
  });
  const files: Record<string, string> = {};
  for (const cl of c.clients) {
    for (const s of cl.streams) {
      if (s.bytes.length === 0) continue;
      // A file per session when the client's direction has several, else one per direction.
      const several = cl.streams.filter((x) => x.direction === s.direction).length > 1;
      const path = `${dir}/${s.direction}-${fileSafe(cl.client)}${several ? `-s${s.session}` : ""}.bin`;
      const f = openOutputFile(path, ws, "-o", "the carved data");
      try {
        writeAll(f, s.bytes);
      } finally {
        f.close();
      }
      files[streamKey(cl.client, s)] = path;
    }
  }
  const pcapWritten = o.pcap !== false && c.frames > 0;
  const doc = carveDocument(c, files, pcapWritten ? pcapPath : null);
  const json = JSON.stringify(doc, null, 2) + "\n";
  writeOutput(`${dir}/carve.json`, ws, json, "the carving");
  // Kept with the run: explain, export, the MCP server, the dashboard and the report show it.
  if (c.sources.some((s) => s.status === "read")) {
    try {
      keepCarving(ws.dbPath, c);
    } catch (e) {
      if (e instanceof StoreError) throw new UsageError(escapeTerminal(e.message));
      throw storeProblem(e, ws) ?? e;
    }
  }
  if (o.json) out(json);
  else {
    const lines = [
      `${escapeTerminal(c.domain)} in run #${c.run}: ${c.frames} packets${
        pcapWritten ? ` → ${escapeTerminal(pcapPath)}` : ""
      }; data under ${escapeTerminal(c.zone)}`,
    ];
    for (const s of c.sources.filter((x) => x.status !== "read")) {
      lines.push(`  source ${escapeTerminal(s.path)}: ${s.status}${s.detail ? ` (${escapeTerminal(s.detail)})` : ""}`);
    }
    for (const cl of c.clients) {
      lines.push(`  ${escapeTerminal(cl.client)} (${cl.queries} queries)`);
      for (const s of cl.streams) {
        lines.push(`    ${escapeTerminal(streamLine({ ...s, bytes: s.bytes.length }))}`);
        if (s.note !== null && s.framing !== "none") lines.push(`         ${escapeTerminal(s.note)}`);
      }
    }
    out(lines.join("\n") + "\n");
  }
  if (c.sources.every((s) => s.status !== "read")) {
    throw new UsageError(
      `none of run #${c.run}'s sources could be read again (${
        c.sources.map((s) => `${escapeTerminal(s.path)}: ${s.status}`).join("; ")
      }): carving reads the files the run read`,
    );
  }
  return 0;
}
