/**
 * The main thread's side of storing a run's transactions: rows gathered
 * into column batches and handed to a writer thread (writer_worker.ts),
 * with ingest held back while the thread is behind.
 *
 * @module
 */

import type { Transaction } from "../ingest/types.ts";
import { spawnWorker } from "../thread.ts";
import { ByNameRef, queryRefOf } from "../ingest/name_ref.ts";
import { BATCH_ROWS, newBatch, type TransactionBatch, type WriterReply, type WriterRequest } from "./batch.ts";

/**
 * Batches in flight before ingest is held back (bounds the memory rows wait
 * in: ~300 KB a batch, and its new texts). The writer works in bursts (a
 * WAL checkpoint, its collector); with 4 the decoder waited through them,
 * 0.3-1.0 s of an `apply` of the bench capture; with 16 `apply` took 0.89
 * of the time (median of 10 alternating pairs, 8 faster), peak RSS the same.
 */
const MAX_IN_FLIGHT = 16;
/**
 * Characters of new texts in flight before ingest is held back, whatever
 * the batches: where every name is new (tunnels), a batch brings 8192 names
 * of up to 255 characters, and 16 such batches could hold ~32 MB of them.
 */
const MAX_TEXT_IN_FLIGHT = 4 << 20;

/** Texts the writer side remembers before both sides start their table over (bounds its memory). */
const TEXT_LIMIT = 1 << 16;

/**
 * Collects a run's transactions into column batches and hands them to a
 * writer thread. {@link TransactionWriter.ready} holds the producer back
 * while too many batches wait; {@link TransactionWriter.flush} writes the
 * rest and resolves when every row is committed (or rejects with the
 * thread's error).
 */
export class TransactionWriter {
  readonly #worker: Worker;
  readonly #runId: number;
  #batch: TransactionBatch;
  /** Texts sent so far, by number (the writer thread keeps the same table). */
  readonly #textIds = new Map<string, number>();
  /** Per text column (client, server, query, domain): the text of its last row and that text's number. */
  readonly #lastText: (string | undefined)[] = [undefined, undefined, undefined, undefined];
  readonly #lastId = new Int32Array(4);
  /** Query texts' numbers by the query name's number (see {@link Transaction.queryRef}). */
  readonly #byRef = new ByNameRef<number>(16);
  /** Per batch in flight, in the order sent: the characters of its new texts. */
  readonly #inFlight: number[] = [];
  /** Their sum. */
  #textChars = 0;
  /** Characters of the texts of the batch being filled. */
  #batchChars = 0;
  /** Who waits for an acknowledgement (ready and sync may wait at once). */
  #waiting: (() => void)[] = [];
  #closed: ((written: number) => void) | null = null;
  #error: Error | null = null;
  #fail: ((e: Error) => void) | null = null;

  /** A writer thread for the transactions of run `runId` of the database at `path`. */
  constructor(path: string, runId: number) {
    this.#runId = runId;
    this.#batch = newBatch(runId, false, 0);
    this.#worker = spawnWorker({ role: "plumbum:writer", url: new URL("./writer_worker.ts", import.meta.url) });
    this.#worker.onmessage = (e: MessageEvent<WriterReply>) => {
      const m = e.data;
      if (m.kind === "ack") {
        this.#textChars -= this.#inFlight.shift()!;
        this.#wakeUp();
      } else if (m.kind === "done") this.#closed?.(m.written);
      else this.#failWith(new Error(`storing transactions failed: ${m.message}`));
    };
    this.#worker.onerror = (e) => {
      e.preventDefault();
      this.#failWith(new Error(`storing transactions failed: ${e.message}`));
    };
    this.#post({ kind: "open", path });
  }

  #ended = false;

  #terminate(): void {
    this.#ended = true;
    this.#worker.terminate();
  }

  #failWith(e: Error): void {
    this.#error ??= e;
    this.#fail?.(e);
    this.#wakeUp();
  }

  #wakeUp(): void {
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const w of waiting) w();
  }

  #post(m: WriterRequest): void {
    if (m.kind === "batch") {
      const b = m.batch;
      this.#inFlight.push(this.#batchChars);
      this.#textChars += this.#batchChars;
      this.#batchChars = 0;
      const columns = [b.ts, b.qtype, b.rcode, b.answers, b.client, b.server, b.query, b.domain];
      this.#worker.postMessage(m, columns.map((c) => c.buffer) as ArrayBuffer[]);
    } else this.#worker.postMessage(m);
  }

  /** Queue one transaction of `domain`. */
  add(tx: Transaction, domain: string): void {
    const b = this.#batch;
    const i = b.rows++;
    b.ts[i] = tx.ts;
    b.qtype[i] = tx.qtype;
    b.rcode[i] = tx.rcode === null ? -1 : tx.rcode;
    b.answers[i] = tx.answers.length;
    b.client[i] = this.#textId(tx.client, 0);
    b.server[i] = this.#textId(tx.server, 1);
    const ref = queryRefOf(tx);
    let query = this.#byRef.get(ref);
    if (query === undefined) {
      query = this.#textId(tx.query, 2);
      this.#byRef.set(ref, query);
    }
    b.query[i] = query;
    b.domain[i] = this.#textId(domain, 3);
    if (b.rows === BATCH_ROWS) {
      this.#post({ kind: "batch", batch: b });
      this.#batch = this.#nextBatch();
    }
  }

  /**
   * The number of a text in the shared table (new ones travel with the
   * batch). A column's rows often repeat the text before (one client's
   * burst, one domain's): that needs no lookup.
   */
  #textId(text: string, column: number): number {
    if (text === this.#lastText[column]) return this.#lastId[column];
    let id = this.#textIds.get(text);
    if (id === undefined) {
      id = this.#textIds.size;
      this.#textIds.set(text, id);
      this.#batch.texts.push(text);
      this.#batchChars += text.length;
    }
    this.#lastText[column] = text;
    this.#lastId[column] = id;
    return id;
  }

  /** A new batch; the table starts over at a batch boundary once it is full. */
  #nextBatch(): TransactionBatch {
    const reset = this.#textIds.size >= TEXT_LIMIT;
    if (reset) {
      this.#textIds.clear();
      this.#lastText.fill(undefined);
      this.#byRef.clear();
    }
    return newBatch(this.#runId, reset, this.#textIds.size);
  }

  /** Ask the thread to close once its batches are in; resolves with the rows it wrote, rejects with its failure. */
  #close(): Promise<number> {
    const done = new Promise<number>((resolve, reject) => {
      this.#closed = resolve;
      this.#fail = reject;
      if (this.#error !== null) reject(this.#error);
    });
    this.#post({ kind: "close" });
    return done;
  }

  /** Resolves once few enough batches wait; rejects when the thread failed. */
  ready(): Promise<void> {
    if (this.#error !== null) return Promise.reject(this.#error);
    const batches = this.#inFlight.length;
    if (batches < MAX_IN_FLIGHT && (this.#textChars < MAX_TEXT_IN_FLIGHT || batches === 0)) {
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => this.#waiting.push(resolve)).then(() => this.ready());
  }

  /** Commit what is queued and keep the writer open: resolves once every row so far is committed. */
  async sync(): Promise<void> {
    if (this.#batch.rows > 0) {
      this.#post({ kind: "batch", batch: this.#batch });
      this.#batch = this.#nextBatch();
    }
    for (let n = 0; this.#inFlight.length > 0 && n < 1e7; n++) {
      if (this.#error !== null) throw this.#error;
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    }
    if (this.#error !== null) throw this.#error;
  }

  /** Write what is queued; resolves with the rows written once all are committed. */
  flush(): Promise<number> {
    if (this.#batch.rows > 0) this.#post({ kind: "batch", batch: this.#batch });
    this.#batch = this.#nextBatch();
    return this.#close().finally(() => this.#terminate());
  }

  /**
   * The run failed: let the thread finish the batches it has and close its
   * connection (so no write lock outlives it), then stop it. Never rejects.
   */
  async abort(): Promise<void> {
    // A thread already ended (a flush that failed ended it) has nothing left to finish or answer.
    if (this.#ended) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<void>((resolve) => timer = setTimeout(resolve, 30_000));
    await Promise.race([this.#close().then(() => {}, () => {}), late]);
    clearTimeout(timer);
    this.#terminate();
  }
}
