/**
 * A stored run over files: the run recorded as `running`, the files read
 * through the {@link Pipeline} (every transaction stored unless the config
 * says not to), scores, evidence and sources committed with `complete` —
 * or the run marked `failed`, its rows removed, when anything goes wrong.
 *
 * @module
 */

import type { DomainFinding } from "../analysis/analyze.ts";
import type { ModelConfig } from "../analysis/model.ts";
import type { FileStats } from "../ingest/types.ts";
import type { Store } from "../store/store.ts";
import type { RunRecord } from "../store/types.ts";
import type { SourcesProgress } from "./ingest.ts";
import { Pipeline } from "./pipeline.ts";

/** Options of {@link applyFiles}. */
export interface ApplyFilesOptions {
  /** The scoring model. */
  model: ModelConfig;
  /** Suffixes named as C2. */
  c2Domains: string[];
  /** Ports that carry plain DNS. */
  dnsPorts: number[];
  /** Store every transaction (config `store_transactions`). */
  storeTransactions: boolean;
  /** Progress of reading the inputs, now and then. */
  onSourcesProgress?: (p: SourcesProgress) => void;
}

/** What a completed run gave. */
export interface ApplyResult {
  /** The completed run as stored. */
  run: RunRecord;
  /** Its scored domains, highest score first. */
  findings: DomainFinding[];
  /** Counters of each input, in order. */
  stats: FileStats[];
}

/** Analyze `files` into a new run of `store`; throws (after marking the run failed) when it cannot complete. */
export async function applyFiles(store: Store, files: string[], o: ApplyFilesOptions): Promise<ApplyResult> {
  const runId = store.startRun({ model: o.model, c2_domains: o.c2Domains, dns_ports: o.dnsPorts, files });
  const t0 = performance.now();
  const release = store.holdLease(runId);
  const writer = o.storeTransactions ? store.transactionWriter(runId) : null;
  try {
    const pipeline = new Pipeline({ model: o.model, c2Domains: o.c2Domains, dnsPorts: o.dnsPorts, writer });
    const stats = await pipeline.ingest(files, { sha256: true, onSourcesProgress: o.onSourcesProgress });
    await pipeline.end();
    const t1 = performance.now();
    const findings = pipeline.findings();
    const t2 = performance.now();
    store.completeRun(runId, {
      sources: stats.map((s) => ({
        path: s.path,
        size: s.bytes,
        sha256: s.sha256 ?? null,
        format: s.format + (s.compression ? "+gzip" : ""),
        stats: s as unknown as Record<string, unknown>,
      })),
      findings,
      transactions: pipeline.analyzer.transactions,
      // Reading, decoding, accumulating and storing every transaction; then scoring.
      timings: { ingest_secs: (t1 - t0) / 1000, analysis_secs: (t2 - t1) / 1000 },
    });
    return { run: store.run(runId)!, findings, stats };
  } catch (e) {
    await writer?.abort();
    try {
      store.failRun(runId, (e as Error).message);
    } catch {
      // The store cannot take even that (a full disk): the run stays `running` until the next writer finds its
      // process gone and marks it failed. The first failure is the one to report.
    }
    throw e;
  } finally {
    release();
  }
}
