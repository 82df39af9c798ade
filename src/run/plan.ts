/**
 * A dry run of `apply`: the inputs read through the same ingest path, and
 * counted (time span, domains, distinct names, clients, record types) with
 * the time a full `apply` would take; nothing is scored or written.
 *
 * @module
 */
import { parentDomain } from "../analysis/domain.ts";
import { DistinctCounter } from "../analysis/sketch.ts";
import { typeName } from "../ingest/dns/mod.ts";
import type { Transaction } from "../ingest/types.ts";
import { ingestSources, type SourcesProgress } from "./ingest.ts";

/** What {@link planFiles} found. */
export interface Plan {
  files: {
    path: string;
    format: string;
    compression: string | null;
    bytes: number;
    transactions: number;
    malformed: number;
  }[];
  first_ts: number | null;
  last_ts: number | null;
  span_secs: number;
  transactions: number;
  parent_domains: number;
  /** Distinct query names: exact up to 2048, estimated past that (±1.6 %). */
  distinct_names: number;
  new_name_share: number;
  clients: number;
  record_types: Record<string, number>;
  busiest_domains: { domain: string; transactions: number }[];
  bytes: number;
  decode_secs: number;
  expected_apply_secs: number;
}

/**
 * How much longer a full `apply` (analysis and SQLite) takes than this dry
 * run, by the share of transactions that ask a name not asked before (a new
 * name is split, measured, counted and compressed by `apply`, and split and
 * counted here). As measured on the bench's captures, plan and apply by
 * turns, whole commands: 1.7× on the repeated mixed capture (share 0.003;
 * 1.27–1.86 in six pairs), 2.85× on the unique-name tunnels (share 1;
 * 2.59–2.96 in six).
 *
 * @internal Exported for its tests.
 */
export const APPLY_OVER_PLAN = { repeatedNames: 1.7, newNames: 2.85 };

/** Names whose parent domains `plan` remembers at once (the table starts over when full). */
const PARENTS_KEPT = 65536;

/** Options of {@link planFiles}. */
export interface PlanOptions {
  dnsPorts?: number[];
  c2Domains?: string[];
  onSourcesProgress?: (p: SourcesProgress) => void;
}

/** Read `files` as `apply` would, counting what it would analyze; nothing is scored or written. */
export async function planFiles(files: string[], opts: PlanOptions = {}): Promise<Plan> {
  const parents = new Map<string, number>();
  const clients = new Set<string>();
  const types = new Map<string, number>();
  const names = new DistinctCounter();
  // Names seen lately, with their parent domains (bounded): a repeated name costs one lookup.
  const parentOf = new Map<string, string>();
  const c2 = opts.c2Domains ?? [];
  const t0 = performance.now();
  const stats = await ingestSources(files, {
    dnsPorts: opts.dnsPorts,
    onSourcesProgress: opts.onSourcesProgress,
    onTransaction(tx: Transaction) {
      const key = tx.queryKey;
      if (key !== "") {
        let p = parentOf.get(key);
        if (p === undefined) {
          p = parentDomain(key, c2);
          // Counted again after the cache starts over, a name changes nothing.
          names.add(key);
          if (parentOf.size >= PARENTS_KEPT) parentOf.clear();
          parentOf.set(key, p);
        }
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
  const newNameShare = Math.min(1, names.count / Math.max(1, transactions));
  const { repeatedNames, newNames } = APPLY_OVER_PLAN;
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
    // Distinct query names: exact up to 2048, estimated past that (±1.6 %).
    distinct_names: names.count,
    new_name_share: newNameShare,
    clients: clients.size,
    record_types: Object.fromEntries(typeMix),
    busiest_domains: busiest.map(([domain, n]) => ({ domain, transactions: n })),
    bytes,
    decode_secs: secs,
    expected_apply_secs: secs * (repeatedNames + (newNames - repeatedNames) * newNameShare),
  };
  return doc;
}
