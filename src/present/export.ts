/**
 * Export documents: JSON (the contract scripts depend on), CSV and Sigma.
 * Every attacker-chosen string is made inert for its sink: JSON and YAML get
 * well-formed Unicode text (bytes that are not UTF-8 escaped as `\xHH`), CSV
 * cells that a spreadsheet would run as formulas get a leading quote.
 *
 * @module
 */

import { stringify as csvStringify } from "npm:csv-stringify@6.9.0/sync";
import { stringify as yamlStringify } from "npm:yaml@2.9.1";
import { createHash } from "node:crypto";
import type { DomainFinding } from "../analysis/analyze.ts";
import { atLeast, roundScore } from "../analysis/model.ts";
import type { DomainEvidence } from "../analysis/accumulator.ts";
import type { PayloadSummary } from "../analysis/types.ts";
import type { Severity } from "../analysis/model.ts";
import { isLiveConfig, type RunRecord, type StoredTransaction } from "../store/types.ts";
import type { ResultsReader } from "../store/reader.ts";
import type { StreamAlert } from "../run/window_alerter.ts";
import { displayText, neutralizeFormula } from "./escape.ts";

/** Round for output (scores to 0.1, other numbers to 6 significant places). */
function round(x: number | null, digits = 6): number | null {
  if (x === null || !Number.isFinite(x)) return null;
  return Number(x.toPrecision(digits));
}

/** The run object of the JSON contract. */
function runObject(run: RunRecord): Record<string, unknown> {
  return {
    id: run.id,
    sources: run.sources.map((s) => ({ path: displayText(s.path), size: s.size, sha256: s.sha256, format: s.format })),
    started_at: run.started_at,
    finished_at: run.finished_at,
    transactions: run.transactions,
    config: run.config,
  };
}

/** What a live run's record says of its capture (see `plumbum stream`), as its last window's commit stored it. */
export function liveSummary(r: RunRecord): Record<string, unknown> {
  const st = (r.sources[0]?.stats ?? {}) as Record<string, unknown>;
  const keys = [
    "interface",
    "filter",
    "speed",
    "listen",
    "follow",
    "files",
    "truncations",
    "connections",
    "packets",
    "captured",
    "dropped",
    "if_dropped",
    "window_secs",
    "threshold",
    "windows",
    "alerts",
    "suppressed_alerts",
    "unstored",
    "malformed",
  ];
  return Object.fromEntries(keys.filter((k) => k in st).map((k) => [k, st[k]]));
}

/** A run as `runs --json` lists it: its record without the sources' parse counters, and a live run's capture facts. */
export function runRecordObject(r: RunRecord): Record<string, unknown> {
  return {
    ...r,
    sources: r.sources.map((s) => ({ ...s, path: displayText(s.path), stats: undefined })),
    ...(isLiveConfig(r.config) ? { live: liveSummary(r) } : {}),
  };
}

/** One domain's object of the JSON contract. */
export function domainObject(f: DomainFinding): Record<string, unknown> {
  return {
    domain: displayText(f.domain),
    score: roundScore(f.score),
    severity: f.severity,
    is_c2: f.is_c2,
    tool: f.tool ? { name: f.tool.name, evidence: displayText(f.tool.evidence) } : null,
    suppressed: suppressedObject(f),
    features: Object.fromEntries(Object.entries(f.features).map(([k, v]) => [k, typeof v === "number" ? round(v) : v])),
    components: f.components.map((c) => ({
      feature: c.feature,
      raw: round(c.raw),
      norm: round(c.norm),
      weight: c.weight,
      contribution: round(c.contribution),
      share: round(c.share),
    })),
  };
}

/** A finding's allow-list entry as every output gives it (`{reason, expires, entry}`), or null. */
export function suppressedObject(f: DomainFinding): Record<string, unknown> | null {
  const s = f.suppressed;
  return s ? { reason: displayText(s.reason), expires: s.expires, entry: displayText(s.entry) } : null;
}

/**
 * One line of `stream`'s NDJSON: a domain at or over the threshold as a
 * window closed, its names written as every other output writes them
 * ({@link displayText}: the text `show` and `explain` take back).
 */
export function alertObject(a: StreamAlert): Record<string, unknown> {
  const f = a.finding, x = f.features;
  const client = f.evidence.clients[0];
  const sample = f.evidence.sample_names[0];
  return {
    horizon: a.horizon,
    domain: displayText(f.domain),
    score: roundScore(f.score),
    severity: f.severity,
    query_count: x.query_count,
    client_count: x.client_count,
    subdomain_count: x.subdomain_count,
    mean_entropy: x.mean_entropy,
    cv: x.cv,
    mean_txt_length: x.mean_txt_length,
    window_secs: a.windowSecs,
    is_c2: f.is_c2,
    tool: f.tool ? { name: f.tool.name, evidence: displayText(f.tool.evidence) } : null,
    suppressed: suppressedObject(f),
    window_start: new Date(a.start * 1000).toISOString(),
    window_end: new Date(a.end * 1000).toISOString(),
    components: f.components.map((c) => ({ feature: c.feature, norm: c.norm, contribution: c.contribution })),
    evidence: {
      // Bytes that could have moved through the domain in the window (up in distinct names, down in distinct answers).
      capacity_bytes: Math.round(x.upstream_capacity + x.downstream_capacity),
      busiest_client: client === undefined ? null : { client: displayText(client.client), queries: client.queries },
      sample_name: sample === undefined ? null : displayText(sample),
    },
  };
}

/** Evidence with every name made displayable. */
export function evidenceObject(e: DomainEvidence): Record<string, unknown> {
  return {
    ...e,
    sample_names: e.sample_names.map(displayText),
    longest_name: displayText(e.longest_name),
    clients: e.clients.map((c) => ({ client: displayText(c.client), queries: c.queries })),
    busiest_subzone: e.busiest_subzone === null
      ? null
      : { subzone: displayText(e.busiest_subzone.subzone), queries: e.busiest_subzone.queries },
    subzones: e.subzones.map((s) => ({ subzone: displayText(s.subzone), queries: s.queries })),
    ...(e.payload === undefined ? {} : { payload: payloadObject(e.payload) }),
    ...(e.file_header === undefined
      ? {}
      : { file_header: { ...e.file_header, name: displayText(e.file_header.name) } }),
  };
}

/** A stored transaction with its texts made displayable. */
export function transactionObject(t: StoredTransaction): StoredTransaction {
  return { ...t, query: displayText(t.query), client: displayText(t.client), server: displayText(t.server) };
}

/**
 * The `explain --json` document of finding `f` of run `runId`; with a
 * `feature`, the domain's first stored transactions come with it.
 */
export function explainDocument(
  reader: ResultsReader,
  runId: number,
  f: DomainFinding,
  feature?: string,
): Record<string, unknown> {
  const doc: Record<string, unknown> = { ...domainObject(f), evidence: evidenceObject(f.evidence), run: runId };
  if (feature !== undefined) {
    doc.feature = feature;
    doc.transactions = reader.transactions(runId, f.domain).map(transactionObject);
  }
  return doc;
}

/** The export JSON document. */
export function exportDocument(
  run: RunRecord,
  findings: DomainFinding[],
  payloads: Map<string, PayloadSummary> = new Map(),
): Record<string, unknown> {
  return {
    run: runObject(run),
    domains: findings.map((f) => {
      const p = payloads.get(f.domain);
      return p === undefined ? domainObject(f) : { ...domainObject(f), payload: payloadObject(p) };
    }),
  };
}

/** A carving's summary with its texts made displayable. */
function payloadObject(p: PayloadSummary): PayloadSummary {
  return {
    ...p,
    streams: p.streams.map((s) => ({ ...s, client: displayText(s.client), looks_like: displayText(s.looks_like) })),
  };
}

/** CSV: one row per domain, raw features and contributions as columns. */
export function exportCsv(findings: DomainFinding[]): string {
  const featureKeys = findings.length > 0 ? Object.keys(findings[0].features) : [];
  const componentKeys = findings.length > 0 ? findings[0].components.map((c) => c.feature) : [];
  const header = [
    "domain",
    "score",
    "severity",
    "is_c2",
    ...featureKeys,
    ...componentKeys.map((c) => `${c}_contribution`),
  ];
  const rows = findings.map((f) => {
    const d = domainObject(f);
    const feats = d.features as Record<string, unknown>;
    return [
      neutralizeFormula(d.domain as string),
      d.score,
      f.severity,
      f.is_c2 ? "true" : "false",
      ...featureKeys.map((k) => feats[k] ?? ""),
      ...f.components.map((c) => round(c.contribution)),
    ];
  });
  return csvStringify([header, ...rows], { cast: { number: (v: number) => String(v) } });
}

/** A stable UUID (version-5 layout) from a SHA-1 of `text`. */
function stableUuid(text: string): string {
  const h = createHash("sha1").update("plumbum-sigma:" + text).digest();
  h[6] = (h[6] & 0x0f) | 0x50;
  h[8] = (h[8] & 0x3f) | 0x80;
  const x = Array.from(h.subarray(0, 16), (b) => b.toString(16).padStart(2, "0")).join("");
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}

const SIGMA_LEVEL: Record<Severity, string> = { CRITICAL: "critical", HIGH: "high", MEDIUM: "medium", LOW: "low" };

/** One Sigma rule (YAML) matching queries under the flagged domains. */
export function exportSigma(run: RunRecord, findings: DomainFinding[]): string {
  const domains = findings.map((f) => displayText(f.domain)).sort();
  const top = findings.reduce<Severity>((m, f) => atLeast(f.severity, m) ? f.severity : m, "LOW");
  const date = (run.finished_at ?? run.started_at).slice(0, 10);
  const rule = {
    title: `DNS tunnelling suspected under ${domains.length} domain${
      domains.length === 1 ? "" : "s"
    } (Plumbum run #${run.id})`,
    id: stableUuid(domains.join("\n")),
    status: "experimental",
    description: `Queries under domains that Plumbum scored as likely DNS tunnels: ${
      findings.map((f) => `${displayText(f.domain)} (${f.severity} ${roundScore(f.score).toFixed(1)})`)
        .join(", ")
    }. Each score is a sum of named feature contributions; run \`plumbum explain DOMAIN\` for the decomposition and evidence.`,
    author: "Plumbum",
    date,
    tags: ["attack.command-and-control", "attack.t1071.004", "attack.exfiltration", "attack.t1048.003"],
    logsource: { category: "dns" },
    detection: {
      selection_domain: { query: domains },
      selection_subdomain: { "query|endswith": domains.map((d) => `.${d}`) },
      condition: "1 of selection_*",
    },
    falsepositives: [
      "Services that legitimately encode data in names (antivirus reputation lookups, DNSBLs); check the explanation before blocking",
    ],
    level: SIGMA_LEVEL[top],
  };
  return yamlStringify(rule, { lineWidth: 0, defaultStringType: "QUOTE_DOUBLE", defaultKeyType: "PLAIN" });
}
