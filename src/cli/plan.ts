/**
 * `plumbum plan`: a dry run of what `apply` would analyze.
 *
 * @module
 */
import { planFiles } from "../run/plan.ts";
import { escapeTerminal } from "../present/escape.ts";
import { formatBytes } from "../present/progress.ts";
import { out, withSourcesProgress } from "./common.ts";
import { isoTime } from "../present/text.ts";

/** Options of `plan`. */
export interface PlanCliOptions {
  json?: boolean;
  dnsPorts?: number[];
  c2Domains?: string[];
}

/** Run `plan`. Returns the exit code. */
export async function runPlan(files: string[], opts: PlanCliOptions): Promise<number> {
  const doc = await withSourcesProgress((onSourcesProgress) => planFiles(files, { ...opts, onSourcesProgress }));
  const secs = doc.decode_secs;
  const transactions = doc.transactions;
  const newNameShare = doc.new_name_share;
  const typeMix = Object.entries(doc.record_types);
  const busiest = doc.busiest_domains.map((b) => [b.domain, b.transactions] as const);
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
  lines.push(`  parent domains  ${doc.parent_domains}`);
  lines.push(
    `  distinct names  ${doc.distinct_names} (${(100 * newNameShare).toFixed(1)}% of transactions ask a new one)`,
  );
  lines.push(`  clients         ${doc.clients}`);
  lines.push(
    `  record types    ${
      typeMix.slice(0, 8).map(([t, n]) => `${t} ${(100 * n / Math.max(1, transactions)).toFixed(1)}%`).join(", ")
    }`,
  );
  lines.push(`  busiest         ${busiest.slice(0, 5).map(([d, n]) => `${escapeTerminal(d)} (${n})`).join(", ")}`);
  lines.push("");
  lines.push(
    `apply would analyze ${doc.parent_domains} domains; expected time ≈ ${
      doc.expected_apply_secs.toFixed(1)
    } s (this read took ${secs.toFixed(1)} s)`,
  );
  out(lines.join("\n") + "\n");
  return 0;
}
