/**
 * What the store keeps, as readers see it: runs, their sources, stored
 * transactions and findings.
 *
 * @module
 */

import type { DomainFinding } from "../analysis/analyze.ts";

/** A run as stored. */
export interface RunRecord {
  id: number;
  status: "running" | "complete" | "failed";
  pid: number | null;
  started_at: string;
  finished_at: string | null;
  config: Record<string, unknown>;
  transactions: number;
  domains: number;
  error: string | null;
  timings: Record<string, number> | null;
  sources: SourceRecord[];
}

/** One input of a run. */
export interface SourceRecord {
  path: string;
  size: number | null;
  sha256: string | null;
  format: string | null;
  stats: Record<string, unknown> | null;
}

/** One stored transaction, as `explain --feature --json` lists them. */
export interface StoredTransaction {
  ts: number;
  client: string;
  server: string;
  query: string;
  qtype: number;
  rcode: number | null;
  answers: number;
}

/** A stored domain score with its evidence. */
export type StoredFinding = DomainFinding;

/** What a run's results commit stores (see `Store.completeRun`). */
export interface RunResults {
  sources: SourceRecord[];
  findings: DomainFinding[];
  transactions: number;
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
