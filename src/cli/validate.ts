/**
 * `plumbum validate`: parse each file and report what it holds.
 *
 * @module
 */
import { threadCount } from "../thread.ts";
import type { FileStats } from "../ingest/types.ts";
import { displayText, escapeTerminal } from "../present/escape.ts";
import { formatBytes, progressLine } from "../present/progress.ts";
import { isoTime } from "../present/text.ts";
import { linkTypeName } from "../ingest/packet.ts";
import { err, ingestWithProgress, out, UsageError } from "./common.ts";
import { validateInThreads } from "../ingest/parallel.ts";
import { checkInput, InputError } from "../ingest/source.ts";

/** The validate JSON document for a list of file stats. */
function validateDocument(stats: FileStats[]): { files: Record<string, unknown>[] } {
  return {
    files: stats.map((s) => ({
      path: s.path,
      format: s.format,
      compression: s.compression,
      link_types: s.link_types,
      packets: s.packets,
      dns_messages: s.dns_messages,
      transactions: s.transactions,
      queries: s.queries,
      responses: s.responses,
      txt: s.txt,
      malformed: s.malformed,
      first_ts: s.first_ts,
      last_ts: s.last_ts,
      bytes: s.bytes,
      skipped: s.skipped,
      first_malformed: s.first_malformed,
      malformed_reasons: s.malformed_reasons,
      ...(s.dnstap === undefined ? {} : { dnstap: s.dnstap }),
    })),
  };
}

/** Run `validate`. Returns the exit code. */
export async function runValidate(
  files: string[],
  opts: { json?: boolean; dnsPorts?: number[]; jobs?: number },
): Promise<number> {
  // Each file on its own: one unreadable file does not hide the report on the others.
  const stats: FileStats[] = [];
  const errors: { path: string; error: string }[] = [];
  const jobs = threadCount(opts.jobs);
  if (jobs > 1 && files.length > 1 && !files.includes("-")) {
    // Side by side, a file a thread; said and ordered as one thread reading them in turn would. Looked at here
    // first: a missing permission is this thread's to say (a file's own problems are the threads').
    for (const f of files) {
      try {
        checkInput(f);
      } catch (e) {
        if (!(e instanceof InputError)) throw e;
      }
    }
    const progress = progressLine();
    try {
      const outcomes = await validateInThreads(files, {
        jobs,
        dnsPorts: opts.dnsPorts,
        onDone: (done, of) => progress.update(`read ${done} of ${of} files (${Math.min(jobs, of)} threads)`),
      });
      for (const o of outcomes) {
        if ("stats" in o) stats.push(o.stats);
        else if (o.error instanceof InputError) errors.push({ path: o.path, error: o.error.message });
        else throw o.error;
      }
    } finally {
      progress.done();
    }
  } else {
    for (const f of files) {
      try {
        stats.push(...await ingestWithProgress([f], { dnsPorts: opts.dnsPorts }));
      } catch (e) {
        if (!(e instanceof UsageError)) throw e;
        errors.push({ path: f, error: e.message });
      }
    }
  }
  const code = errors.length > 0 ? 1 : 0;
  if (opts.json) {
    const doc = validateDocument(stats);
    out(
      JSON.stringify({ files: [...doc.files, ...errors.map((e) => ({ path: displayText(e.path), error: e.error }))] }) +
        "\n",
    );
    for (const e of errors) err(`plumbum: ${escapeTerminal(e.error)}`);
    return code;
  }
  for (const e of errors) err(`plumbum: ${escapeTerminal(e.error)}`);
  for (const s of stats) {
    const lines = [
      `${escapeTerminal(s.path)}: ${s.format}${s.compression ? ` (${s.compression})` : ""}, ${formatBytes(s.bytes)}`,
    ];
    if (s.format === "pcap" || s.format === "pcapng") {
      lines.push(`  link types     ${s.link_types.map((t) => `${linkTypeName(t)} (${t})`).join(", ") || "-"}`);
      lines.push(`  packets        ${s.packets} (${s.skipped} without DNS)`);
    }
    if (s.dnstap !== undefined) {
      const types = Object.entries(s.dnstap).map(([t, n]) => `${n} ${t}`).join(", ");
      lines.push(`  dnstap         ${s.packets} messages: ${types || "-"}`);
      if (s.skipped > 0) lines.push(`                 ${s.skipped} of the resolver's own or others, left out`);
    }
    lines.push(`  DNS messages   ${s.dns_messages} (${s.queries} queries, ${s.responses} responses)`);
    lines.push(`  transactions   ${s.transactions} (${s.txt} TXT)`);
    lines.push(`  time span      ${isoTime(s.first_ts)} .. ${isoTime(s.last_ts)}`);
    lines.push(`  malformed      ${s.malformed}`);
    if (s.first_malformed !== null) {
      const f = s.first_malformed;
      const where = f.line !== undefined
        ? `line ${f.line}`
        : `packet ${f.packet ?? "?"}${f.offset !== undefined ? ` at byte ${f.offset}` : ""}`;
      lines.push(`  first problem  ${where}: ${escapeTerminal(f.reason)}`);
      for (const [reason, n] of Object.entries(s.malformed_reasons)) lines.push(`    ${n} × ${escapeTerminal(reason)}`);
    }
    out(lines.join("\n") + "\n");
  }
  return code;
}
