/**
 * A stored run over files: the run recorded as `running`, the files read
 * through the {@link Pipeline} (every transaction stored unless the config
 * says not to), each domain scored as its score and evidence are written,
 * and everything committed with `complete` —
 * or the run marked `failed`, its rows removed, when anything goes wrong.
 *
 * @module
 */

import { byScore, type DomainFinding } from "../analysis/analyze.ts";
import { atLeast, type ModelConfig } from "../analysis/model.ts";
import type { FileStats } from "../ingest/types.ts";
import type { PairingOptions } from "../ingest/transactions.ts";
import type { Store } from "../store/store.ts";
import type { SqliteSeedSpill } from "../store/seed_spill.ts";
import type { RunRecord } from "../store/types.ts";
import type { SourcesProgress } from "./ingest.ts";
import { type Input, inputPath } from "../ingest/source.ts";
import { markSuppressed, Pipeline, type RunSettings, settingsRecord } from "./pipeline.ts";

/** Options of {@link applyFiles}. */
export interface ApplyFilesOptions extends RunSettings {
  /** The scoring model. */
  model: ModelConfig;
  /** Store every transaction (config `store_transactions`). */
  storeTransactions: boolean;
  /** Progress of reading the inputs, now and then. */
  onSourcesProgress?: (p: SourcesProgress) => void;
  /** The pairing stage's limits (defaults: `PAIRING_TIMEOUT_SECS`, `PAIRING_MAX_PENDING`, `PAIRING_MAX_HELD`). */
  pairing?: PairingOptions;
}

/** What a completed run gave. */
export interface ApplyResult {
  /** The completed run as stored. */
  run: RunRecord;
  /** Its domains at MEDIUM and above, highest score first (every domain is in the store: {@link ResultsReader.findings}). */
  findings: DomainFinding[];
  /** How many domains were scored. */
  domains: number;
  /** Counters of each input, in order. */
  stats: FileStats[];
}

/** Analyze `files` into a new run of `store`; throws (after marking the run failed) when it cannot complete. */
export async function applyFiles(store: Store, inputs: Input[], o: ApplyFilesOptions): Promise<ApplyResult> {
  const files = inputs.map(inputPath);
  const runId = store.startRun({ model: o.model, ...settingsRecord(o), files });
  const t0 = performance.now();
  const release = store.holdLease(runId);
  const writer = o.storeTransactions ? store.transactionWriter(runId) : null;
  let spill: SqliteSeedSpill | null = null;
  let pipeline: Pipeline | null = null;
  try {
    spill = store.seedSpill(runId);
    pipeline = new Pipeline({
      model: o.model,
      c2Domains: o.c2Domains,
      dnsPorts: o.dnsPorts,
      resolvers: o.resolvers,
      writer,
      spill,
    });
    const stats = await pipeline.ingest(inputs, {
      sha256: true,
      onSourcesProgress: o.onSourcesProgress,
      pairing: o.pairing,
    });
    await pipeline.end();
    // Each domain is scored as it is written: memory holds one domain's finding at a time, and the notable ones.
    const notable: DomainFinding[] = [];
    let domains = 0;
    const findings = function* (scored: Iterable<DomainFinding>) {
      for (const f of scored) {
        domains++;
        if (atLeast(f.severity, "MEDIUM")) notable.push(f);
        yield f;
      }
    };
    store.completeRun(runId, {
      sources: stats.map((s) => ({
        path: s.path,
        size: s.bytes,
        sha256: s.sha256 ?? null,
        format: s.format + (s.compression ? "+gzip" : ""),
        stats: s as unknown as Record<string, unknown>,
      })),
      findings: findings(markSuppressed(pipeline.analyzer.scored(), o.allow)),
      transactions: pipeline.analyzer.transactions,
      // Reading, decoding, accumulating and storing every transaction (scoring is timed as the findings are written).
      timings: { ingest_secs: (performance.now() - t0) / 1000 },
    });
    return { run: store.run(runId)!, findings: byScore(notable), domains, stats };
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
    pipeline?.close();
    spill?.close();
    release();
  }
}
