/**
 * A live run's checkpoints: as each window closes, the stream so far is
 * committed with the transaction rows written before it, one checkpoint
 * after another (a crash loses at most the open window). With `retain`,
 * the rows of windows older than the last `retain` are dropped as a newer
 * one is committed. Reading waits while the store is behind, and a failed
 * checkpoint is kept and reported once.
 *
 * @module
 */

import type { Store } from "../store/store.ts";
import type { RunResults } from "../store/types.ts";
import type { TransactionWriter } from "../store/writer.ts";

/** Checkpoints queued at most before reading waits for them. */
const MAX_CHECKPOINTS_QUEUED = 2;

/** Commits a live run window by window, in order. */
export class RunCheckpointer {
  readonly #store: Store;
  readonly #runId: number;
  readonly #writer: TransactionWriter | null;
  readonly #retain: number;
  readonly #onError: (e: Error) => void;
  #chain: Promise<void> = Promise.resolve();
  /** Checkpoints queued and not yet written (each holds its window's changed domains). */
  #queued = 0;
  #error: Error | null = null;
  /** Rows stored when each window closed, for `retain` (the oldest still wanted first). */
  readonly #storedAt: number[] = [];

  /**
   * Checkpoints of run `runId`, after `writer`'s rows (null: none stored);
   * `retain` keeps the rows of the last this many windows (0: all);
   * `onError` hears the first failure (the run should stop).
   */
  constructor(
    store: Store,
    runId: number,
    writer: TransactionWriter | null,
    retain: number,
    onError: (e: Error) => void,
  ) {
    this.#store = store;
    this.#runId = runId;
    this.#writer = writer;
    this.#retain = retain;
    this.#onError = onError;
  }

  /**
   * A window closed with `stored` rows written so far: commit what
   * `results` gives when its turn comes (the changed domains only, the
   * others as stored).
   */
  queue(stored: number, results: () => RunResults): void {
    this.#storedAt.push(stored);
    // Rows of windows older than the last `retain` go (one key range).
    const drop = this.#retain > 0 && this.#storedAt.length > this.#retain ? this.#storedAt.shift()! : 0;
    this.#queued++;
    this.#chain = this.#chain.then(async () => {
      await this.#writer?.sync();
      if (drop > 0) this.#store.dropTransactions(this.#runId, drop);
      this.#store.checkpointRun(this.#runId, results(), { changedOnly: true });
    }).catch((e) => {
      this.#error ??= e as Error;
      this.#onError(e as Error);
    }).finally(() => this.#queued--);
  }

  /**
   * Resolves when reading may go on: the writer thread has room, and no
   * more than {@link MAX_CHECKPOINTS_QUEUED} checkpoints wait (a replay at
   * full speed closed windows faster than they were stored, and each held
   * its domains: 1 000 000 one-query domains took `stream --read` to 537 MB).
   */
  async behind(): Promise<void> {
    if (this.#queued > MAX_CHECKPOINTS_QUEUED) await this.#chain;
    await this.#writer?.ready();
  }

  /** Every queued checkpoint written; the first that failed, or null. */
  async drain(): Promise<Error | null> {
    await this.#chain;
    return this.#error;
  }
}
