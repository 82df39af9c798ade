/**
 * A live run: frames from a source (a libpcap capture, or a capture file
 * read as if live) through the same {@link Pipeline} as `apply`, scored in
 * tumbling windows (an alert per domain at or over the threshold when a
 * window closes) and as a whole (the stream view, scored at each window's
 * close: a domain that reaches the threshold there without ever doing so in
 * one window — a channel too slow for a window — alerts once, with
 * `horizon: "stream"`). The run is stored like an `apply` run —
 * `running` while it captures, its results so far committed at each
 * window's close (a crash loses at most the open window), `complete` on a
 * clean stop, `failed` (keeping its closed windows) when the source dies.
 *
 * @module
 */

import type { DomainFinding } from "../analysis/analyze.ts";
import type { ModelConfig } from "../analysis/model.ts";
import { emptyStats } from "../ingest/frames.ts";
import type { FileStats } from "../ingest/types.ts";
import type { PairingOptions } from "../ingest/transactions.ts";
import type { CaptureCounters } from "../ingest/live/protocol.ts";
import type { SourceReady } from "../ingest/live/source.ts";
import type { Store } from "../store/store.ts";
import type { SqliteSeedSpill } from "../store/seed_spill.ts";
import type { RunRecord, SourceRecord } from "../store/types.ts";
import { markSuppressed, Pipeline, type RunSettings, settingsRecord } from "./pipeline.ts";
import { RunCheckpointer } from "./checkpointer.ts";
import { RunClock } from "./clock.ts";
import { type StreamAlert, WindowAlerter } from "./window_alerter.ts";
import {
  type LiveSource,
  openLiveSource,
  sourceConfig,
  sourceFacts,
  sourceIdentity,
  type StreamSource,
  wallClock,
} from "./live_source.ts";

/**
 * Seconds a query waits for its answer on the live path by default.
 * Transactions leave the pairing stage in query order, so an unanswered
 * query holds back the answered ones after it this long, or until
 * `PAIRING_MAX_HELD` of them wait (`apply` gives 30 s; resolvers give up
 * sooner).
 */
const LIVE_PAIRING_SECS = 5;
/**
 * Seconds a window stays open past its end, beyond a query's wait for its
 * answer: for frames held in kernel buffers and batches. A window's alerts
 * come out the wait and this long after it ends; a transaction later still
 * counts in the next window, as late.
 */
const LIVE_GRACE_SECS = 1;
export type { StreamSource } from "./live_source.ts";
export type { StreamAlert } from "./window_alerter.ts";

/** Options of {@link StreamRun}. */
export interface StreamOptions extends RunSettings {
  model: ModelConfig;
  source: StreamSource;
  /** Window length (seconds). */
  windowSecs: number;
  /** Alert at this window score or more (0-100). */
  threshold: number;
  /** Store transactions (config `store_transactions`). */
  storeTransactions: boolean;
  /** Transactions stored per window at most (the rest are counted as unstored). */
  storeLimit: number;
  /** Stop after this many seconds (0: no limit). */
  durationSecs: number;
  /** Keep the stored transactions of the last this many closed windows (0: all). */
  retainWindows?: number;
  /** Alert for domains the allow-list suppressed too (marked so); by default they are held back and counted. */
  includeSuppressed?: boolean;
  /** The pairing stage's limits (default: a query waits {@link LIVE_PAIRING_SECS} for its answer). */
  pairing?: PairingOptions;
  /** Each alert, as its window closes. */
  onAlert(a: StreamAlert): void;
  /** Each window, after its alerts. */
  onWindow?(w: WindowSummary): void;
  /** The source is open and the run stored as running. */
  onReady?(r: SourceReady & { runId: number }): void;
}

/** A closed window, as the status line reports it. */
export interface WindowSummary {
  index: number;
  start: string;
  end: string;
  transactions: number;
  late: number;
  domains: number;
  alerts: number;
}

/** Counters of a live run so far. */
export interface StreamStatus {
  /** Frames handed to the decoder. */
  packets: number;
  /** DNS transactions. */
  transactions: number;
  /** libpcap's counters (null for a file). */
  counters: CaptureCounters | null;
  domains: number;
  windows: number;
  alerts: number;
  /** Alerts the allow-list held back (the domains are scored and stored, marked suppressed). */
  suppressed: number;
  /** Transactions past a window's store limit. */
  unstored: number;
  /** Packets and DNS messages too broken to decode (counted and skipped, as `validate` counts them). */
  malformed: number;
}

/** What a finished live run gave. */
export interface StreamResult {
  run: RunRecord;
  status: StreamStatus;
  /** Why the source stopped, when it failed (the run is then `failed`). */
  error: Error | null;
}

/** A live run in a workspace's store. */
export class StreamRun {
  readonly #store: Store;
  readonly #o: StreamOptions;
  readonly #stats: FileStats;
  #source: LiveSource | null = null;
  #counters: CaptureCounters | null = null;
  #windows = 0;
  #alerts = 0;
  /** Alerts the allow-list held back. */
  #suppressed = 0;
  #pipeline: Pipeline | null = null;
  #stopRequested = false;
  /** The capture filter in force (libpcap's thread says it once open). */
  #filter: string | null = null;

  constructor(store: Store, options: StreamOptions) {
    if (!(options.windowSecs > 0)) throw new RangeError("the window must be a positive number of seconds");
    this.#store = store;
    this.#o = options;
    const { path, format } = sourceIdentity(options.source);
    this.#stats = emptyStats(path);
    this.#stats.format = format;
  }

  /** Counters so far. */
  status(): StreamStatus {
    return {
      packets: this.#stats.packets,
      transactions: this.#pipeline?.analyzer.transactions ?? 0,
      counters: this.#counters,
      domains: this.#pipeline?.analyzer.domainCount ?? 0,
      windows: this.#windows,
      alerts: this.#alerts,
      suppressed: this.#suppressed,
      unstored: this.#pipeline?.unstored ?? 0,
      malformed: this.#stats.malformed,
    };
  }

  /** Stop cleanly: the source stops, the open window closes, the run completes. */
  stop(): void {
    this.#stopRequested = true;
    this.#source?.stop();
  }

  /** Stop at once (a second interrupt): the source thread ends; the run is left for the next writer to mark. */
  kill(): void {
    this.#source?.kill();
  }

  #sourceRecord(): SourceRecord {
    const s = this.#o.source;
    const st = this.status();
    return {
      path: this.#stats.path,
      size: null,
      sha256: null,
      format: this.#stats.format,
      stats: {
        ...this.#stats,
        ...sourceFacts(s, this.#source, { filter: this.#filter, counters: st.counters }),
        window_secs: this.#o.windowSecs,
        threshold: this.#o.threshold,
        windows: st.windows,
        alerts: st.alerts,
        suppressed_alerts: st.suppressed,
        unstored: st.unstored,
      },
    };
  }

  /** Run until the source ends, {@link StreamRun.stop} is called, or the duration passes. */
  async run(): Promise<StreamResult> {
    const o = this.#o;
    const store = this.#store;
    const src = o.source;
    const runId = store.startRun({
      mode: "stream",
      model: o.model,
      ...settingsRecord(o),
      window_secs: o.windowSecs,
      threshold: o.threshold,
      ...sourceConfig(src),
    });
    const t0 = performance.now();
    const release = store.holdLease(runId);
    let spill: SqliteSeedSpill | null = null;
    try {
      spill = store.seedSpill(runId);
      return await this.#run(runId, t0, spill);
    } catch (e) {
      // The spill could not be made (its folder is full): the run never began.
      if (spill === null) store.failRun(runId, (e as Error).message);
      throw e;
    } finally {
      this.#pipeline?.close();
      spill?.close();
      release();
    }
  }

  async #run(runId: number, t0: number, spill: SqliteSeedSpill): Promise<StreamResult> {
    const o = this.#o;
    const store = this.#store;
    const src = o.source;
    const writer = o.storeTransactions ? store.transactionWriter(runId) : null;
    let ending = false;
    const alerter = new WindowAlerter(o);
    const checkpoints = new RunCheckpointer(store, runId, writer, o.retainWindows ?? 0, () => this.stop());
    const results = (findings: Iterable<DomainFinding>) => ({
      sources: [this.#sourceRecord()],
      findings: markSuppressed(findings, o.allow),
      transactions: pipeline.analyzer.transactions,
      timings: { capture_secs: (performance.now() - t0) / 1000 },
    });
    const pipeline = this.#pipeline = new Pipeline({
      model: o.model,
      c2Domains: o.c2Domains,
      dnsPorts: o.dnsPorts,
      resolvers: o.resolvers,
      writer,
      spill,
      windows: {
        secs: o.windowSecs,
        storeLimit: o.storeLimit,
        onClose: (w) => {
          // Only the domains that changed since the last window can have crossed the threshold or need storing again.
          const changed = pipeline.analyzer.takeChanged();
          const { alerts, suppressed } = alerter.close(w, pipeline.analyzer.scored(undefined, changed));
          for (const a of alerts) o.onAlert(a);
          this.#windows++;
          this.#alerts += alerts.length;
          this.#suppressed += suppressed;
          o.onWindow?.({
            index: w.index,
            start: new Date(w.start * 1000).toISOString(),
            end: new Date(w.end * 1000).toISOString(),
            transactions: w.transactions,
            late: w.late,
            domains: w.findings.length,
            alerts: alerts.length,
          });
          // The whole stream so far, committed with the rows before it: the changed domains scored again as they
          // are written (the stream view of every domain is never held at once), the others as stored.
          if (!ending) checkpoints.queue(pipeline.stored, () => results(pipeline.analyzer.scored(undefined, changed)));
        },
      },
    });
    // Each window rescores and stores only the domains that changed in it.
    pipeline.analyzer.trackChanges();
    const pairing = { ...o.pairing, timeoutSecs: o.pairing?.timeoutSecs ?? LIVE_PAIRING_SECS };
    const frames = pipeline.frames(this.#stats, pairing);
    const advance = (now: number) => pipeline.advance(now, now - pairing.timeoutSecs - LIVE_GRACE_SECS);
    const source = this.#source = openLiveSource(src, {
      pipeline,
      frames,
      stats: this.#stats,
      advance,
      // Reading waits while the store is behind.
      behind: () => checkpoints.behind(),
      counters: (c) => this.#counters = c,
    });
    if (this.#stopRequested) source.stop();
    const clock = new RunClock();
    let error: Error | null = null;
    try {
      const ready = await source.ready;
      this.#filter = ready.filter;
      o.onReady?.({ ...ready, runId });
      clock.start({ wall: wallClock(src), advance, durationSecs: o.durationSecs, expired: () => this.stop() });
      try {
        await source.done;
      } catch (e) {
        error = e as Error;
      }
    } catch (e) {
      // It never opened: nothing to keep.
      await writer?.abort();
      store.failRun(runId, (e as Error).message);
      throw e;
    } finally {
      clock.stop();
    }
    ending = true;
    try {
      const checkpointError = await checkpoints.drain();
      await pipeline.end();
      error ??= checkpointError;
      const all = results(pipeline.analyzer.scored());
      if (error === null) store.completeRun(runId, all);
      else {
        store.checkpointRun(runId, all);
        store.failRun(runId, error.message, true);
      }
      return { run: store.run(runId)!, status: this.status(), error };
    } catch (e) {
      await writer?.abort();
      store.failRun(runId, (e as Error).message, true);
      throw e;
    }
  }
}
