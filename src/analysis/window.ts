/**
 * Tumbling windows: a window is a corpus with a time bound. Each window is a
 * fresh {@link Analyzer} over the same feature code as `apply`; when the
 * clock passes its end it is scored and handed on, and dropped, so memory
 * holds one window whatever the stream's length.
 *
 * Under the `tunnel` model every feature is on an absolute scale, so a
 * domain's window score depends only on its own traffic in that window (and
 * that of the sibling zones it is linked to, if any).
 * Under the corpus-relative baseline presets (`default`, `optimized`,
 * `regularized`) the window is the corpus: a domain is normalized against
 * the other domains of the same window, so its score can change with its
 * neighbours from one window to the next (a quiet window with one domain
 * gives that domain the maximum of every min-max feature).
 *
 * @module
 */

import type { DeflatePool } from "./deflate_pool.ts";
import type { Transaction } from "../ingest/types.ts";
import { Analyzer, type DomainFinding, type SiteOptions } from "./analyze.ts";
import type { ModelConfig } from "./model.ts";

/** One closed window and its scored domains. */
export interface WindowResult {
  /** Window number, from 0 at the stream's first window. */
  index: number;
  /** Start (inclusive) and end (exclusive), seconds since the epoch. */
  start: number;
  /** End of the window (exclusive), seconds since the epoch. */
  end: number;
  /** Transactions in the window (late ones included: see {@link WindowResult.late}). */
  transactions: number;
  /** Transactions that arrived after their window had closed, counted in this one. */
  late: number;
  /** Every domain of the window, highest score first. */
  findings: DomainFinding[];
}

/** Options of {@link TumblingWindows}. */
export interface WindowOptions extends SiteOptions {
  /** Window length in seconds (> 0). */
  secs: number;
  /** The scoring model each window's analyzer uses. */
  model: ModelConfig;
  /** Called with each window as it closes, in order. */
  onClose: (w: WindowResult) => void;
  /** Where windows are aligned: a window starts at `origin + k * secs` (default 0: the epoch). */
  origin?: number;
  /** Where each window's analyzer deflates full blocks of the name-information bound (absent: on this thread). */
  deflate?: DeflatePool;
}

/** Cuts a stream of transactions into tumbling windows and scores each. */
export class TumblingWindows {
  readonly #o: WindowOptions;
  #analyzer: Analyzer | null = null;
  #start = 0;
  #index = 0;
  #late = 0;
  #first = -1;
  /** The end of the last closed window. */
  #closedUntil = -Infinity;

  /** Windows of `options.secs` seconds (throws a RangeError for a length that is not positive). */
  constructor(options: WindowOptions) {
    if (!(options.secs > 0) || !Number.isFinite(options.secs)) {
      throw new RangeError(`window length must be a positive number of seconds, not ${options.secs}`);
    }
    this.#o = options;
  }

  /** The open window's start and end, or null before the first transaction. */
  get current(): { index: number; start: number; end: number } | null {
    return this.#analyzer === null ? null : { index: this.#index, start: this.#start, end: this.#start + this.#o.secs };
  }

  #startOf(ts: number): number {
    const origin = this.#o.origin ?? 0;
    return origin + Math.floor((ts - origin) / this.#o.secs) * this.#o.secs;
  }

  /** Add one transaction; closes the open window first when `tx` is past its end. */
  add(tx: Transaction): void {
    if (this.#analyzer !== null && tx.ts >= this.#start + this.#o.secs) this.#close();
    // A transaction older than a closed window (a query that timed out, a frame held in a buffer) is late
    // in the window after it: a closed window never opens again.
    if (this.#analyzer === null) this.#open(Math.max(tx.ts, this.#closedUntil));
    if (tx.ts < this.#start) this.#late++;
    this.#analyzer!.add(tx);
  }

  #open(ts: number): void {
    const start = this.#startOf(ts);
    if (this.#first < 0) this.#first = start;
    this.#index = Math.round((start - this.#first) / this.#o.secs);
    this.#start = start;
    this.#late = 0;
    this.#analyzer = new Analyzer({
      model: this.#o.model,
      c2Domains: this.#o.c2Domains,
      resolvers: this.#o.resolvers,
      deflate: this.#o.deflate,
    });
  }

  /**
   * The clock reached `now` (seconds, capture time): the open window closes
   * when `now` is at or past its end, even when no transaction came.
   */
  advance(now: number): void {
    if (this.#analyzer !== null && now >= this.#start + this.#o.secs) this.#close();
  }

  /** End of stream: the open window closes as it stands. */
  end(): void {
    if (this.#analyzer !== null) this.#close();
  }

  #close(): void {
    const a = this.#analyzer!;
    this.#analyzer = null;
    this.#closedUntil = this.#start + this.#o.secs;
    this.#o.onClose({
      index: this.#index,
      start: this.#start,
      end: this.#start + this.#o.secs,
      transactions: a.transactions,
      late: this.#late,
      findings: a.findings(),
    });
  }
}
