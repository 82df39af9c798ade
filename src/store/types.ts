/**
 * What the store keeps, as readers see it: runs, their sources, stored
 * transactions and findings.
 *
 * @module
 */

import type { DomainFinding } from "../analysis/analyze.ts";

/** A run as stored. */
export interface RunRecord {
  /** The run's number. */
  id: number;
  /** `running` while it works, `complete` once its results are committed, `failed` with `error`. */
  status: "running" | "complete" | "failed";
  /** The process that ran it. */
  pid: number | null;
  /** When it started (ISO 8601). */
  started_at: string;
  /** When it ended (ISO 8601), or null while it runs. */
  finished_at: string | null;
  /** The settings it ran with (model, C2 suffixes, ports, inputs; a live run's interface and window). */
  config: Record<string, unknown>;
  /** Transactions analysed. */
  transactions: number;
  /** Domains scored. */
  domains: number;
  /** Why it failed, or null. */
  error: string | null;
  /** Seconds spent by stage, or null before it completes. */
  timings: Record<string, number> | null;
  /** Its inputs. */
  sources: SourceRecord[];
}

/** One input of a run. */
export interface SourceRecord {
  /** The input's path (or `interface:NAME` for a live capture). */
  path: string;
  /** Its size in bytes, or null when unknown. */
  size: number | null;
  /** SHA-256 of its bytes, or null. */
  sha256: string | null;
  /** Its format (`pcap`, `pcapng`, `zeek-tsv`, `zeek-json`, with `+gzip`; `live` or `replay`). */
  format: string | null;
  /** Its counters (see FileStats; a live source adds its capture facts). */
  stats: Record<string, unknown> | null;
}

/** One stored transaction, as `explain --feature --json` lists them. */
export interface StoredTransaction {
  /** Time of the query, seconds since the epoch. */
  ts: number;
  /** The host that asked. */
  client: string;
  /** The host that answered (or was asked). */
  server: string;
  /** The query name, as stored. */
  query: string;
  /** The record type asked for. */
  qtype: number;
  /** The response code, or null without a response. */
  rcode: number | null;
  /** Records in the answer section. */
  answers: number;
}

/** A stored domain score with its evidence. */
export type StoredFinding = DomainFinding;

/** What a run's results commit stores (see `Store.completeRun`). */
export interface RunResults {
  /** The run's inputs. */
  sources: SourceRecord[];
  /** Its scored domains: an array, or an iterator that scores each as it is written (memory holds one at a time). */
  findings: Iterable<DomainFinding>;
  /** Transactions analysed. */
  transactions: number;
  /** Seconds spent by stage. */
  timings: Record<string, number>;
}

/** Whether a run's config (as stored, JSON) is a live run's (`stream`): its closed windows stay readable. */
export function isLiveConfig(config: string | Record<string, unknown>): boolean {
  try {
    const c = typeof config === "string" ? JSON.parse(config) : config;
    return c !== null && typeof c === "object" && c.mode === "stream";
  } catch {
    return false;
  }
}

/**
 * Whether a run's results can be read: a complete run, or a live one (its
 * results are committed at every window's close, so they are readable while
 * it runs and after it failed).
 */
export function isReadableRun(run: Pick<RunRecord, "status" | "config">): boolean {
  return run.status === "complete" || isLiveConfig(run.config);
}
