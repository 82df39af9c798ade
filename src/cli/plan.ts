/**
 * `plumbum plan`: a dry run of what `apply` would analyze.
 *
 * @module
 */
import { parentDomain } from "../analysis/domain.ts";
import { typeName } from "../ingest/dns.ts";
import type { Transaction } from "../ingest/types.ts";
import { escapeTerminal } from "../present/escape.ts";
import { formatBytes } from "../present/progress.ts";
import { ingestWithProgress, out } from "./common.ts";
import { isoTime } from "../present/text.ts";

/**
 * Ratio of a full `apply` (analysis and SQLite) to a decode-only pass, as
 * `deno task bench` measured it (medians of three: 1.9–2.9 over six runs).
 */
export const APPLY_OVER_DECODE = 2.3;

/** Options of `plan`. */
export interface PlanOptions {
  json?: boolean;
  dnsPorts?: number[];
  c2Domains?: string[];
}

/** Run `plan`. Returns the exit code. */
export async function runPlan(files: string[], opts: PlanOptions): Promise<number> {
  const parents = new Map<string, number>();
  const clients = new Set<string>();
  const types = new Map<string, number>();
  const c2 = opts.c2Domains ?? [];
  const t0 = performance.now();
  const stats = await ingestWithProgress(files, {
    dnsPorts: opts.dnsPorts,
    onTransaction(tx: Transaction) {
      if (tx.queryKey !== "") {
        const p = parentDomain(tx.queryKey, c2);
        parents.set(p, (parents.get(p) ?? 0) + 1);
      }
      clients.add(tx.client);
      const t = typeName(tx.qtype);
      types.set(t, (types.get(t) ?? 0) + 1);
    },
  });
  const secs = (performance.now() - t0) / 1000;
  const first = Math.min(...stats.map((s) => s.first_ts ?? Infinity));
  const last = Math.max(...stats.map((s) => s.last_ts ?? -Infinity));
  const transactions = stats.reduce((a, s) => a + s.transactions, 0);
  const bytes = stats.reduce((a, s) => a + s.bytes, 0);
  const typeMix = [...types.entries()].sort((a, b) => b[1] - a[1]);
  const busiest = [...parents.entries()].sort((a, b) => b[1] - a[1]).slice(0, 10);
  const doc = {
    files: stats.map((s) => ({
      path: s.path,
      format: s.format,
      compression: s.compression,
      bytes: s.bytes,
      transactions: s.transactions,
      malformed: s.malformed,
    })),
    first_ts: Number.isFinite(first) ? first : null,
    last_ts: Number.isFinite(last) ? last : null,
    span_secs: Number.isFinite(first) && Number.isFinite(last) ? last - first : 0,
    transactions,
    parent_domains: parents.size,
    clients: clients.size,
    record_types: Object.fromEntries(typeMix),
    busiest_domains: busiest.map(([domain, n]) => ({ domain, transactions: n })),
    bytes,
    decode_secs: secs,
    expected_apply_secs: secs * APPLY_OVER_DECODE,
  };
  if (opts.json) {
    out(JSON.stringify(doc) + "\n");
    return 0;
  }
  const lines = ["Plan (dry run, nothing written):", ""];
  for (const f of doc.files) {
    lines.push(
      `  ${escapeTerminal(f.path)}  ${f.format}${f.compression ? "+gzip" : ""}  ${
        formatBytes(f.bytes)
      }  ${f.transactions} transactions${f.malformed ? `, ${f.malformed} malformed` : ""}`,
    );
  }
  lines.push("");
  lines.push(`  time span       ${isoTime(doc.first_ts)} .. ${isoTime(doc.last_ts)} (${doc.span_secs.toFixed(1)} s)`);
  lines.push(`  transactions    ${transactions}`);
  lines.push(`  parent domains  ${parents.size}`);
  lines.push(`  clients         ${clients.size}`);
  lines.push(
    `  record types    ${
      typeMix.slice(0, 8).map(([t, n]) => `${t} ${(100 * n / Math.max(1, transactions)).toFixed(1)}%`).join(", ")
    }`,
  );
  lines.push(`  busiest         ${busiest.slice(0, 5).map(([d, n]) => `${escapeTerminal(d)} (${n})`).join(", ")}`);
  lines.push("");
  lines.push(
    `apply would analyze ${parents.size} domains; expected time ≈ ${
      doc.expected_apply_secs.toFixed(1)
    } s (this read took ${secs.toFixed(1)} s)`,
  );
  out(lines.join("\n") + "\n");
  return 0;
}
