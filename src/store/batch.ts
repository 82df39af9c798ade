/**
 * Transactions in columns on their way from the main thread to the writer
 * thread, and the messages the two exchange.
 *
 * @module
 */

/** Rows handed to the writer thread at once (each batch is one SQLite transaction). */
export const BATCH_ROWS = 8192;

/**
 * Transactions in columns, as they travel to the writer thread. Texts
 * (addresses, names, domains) travel once: rows carry their numbers in a
 * table both sides keep, and a batch brings the texts first seen in it.
 */
export interface TransactionBatch {
  runId: number;
  rows: number;
  ts: Float64Array;
  qtype: Int32Array;
  /** -1 when no response was seen. */
  rcode: Int32Array;
  answers: Int32Array;
  client: Int32Array;
  server: Int32Array;
  query: Int32Array;
  domain: Int32Array;
  /** The table starts over (at number 0) with this batch. */
  reset: boolean;
  /** Texts new in this batch, numbered on from `textBase`. */
  texts: string[];
  textBase: number;
}

export function newBatch(runId: number, reset: boolean, textBase: number): TransactionBatch {
  return {
    runId,
    rows: 0,
    ts: new Float64Array(BATCH_ROWS),
    qtype: new Int32Array(BATCH_ROWS),
    rcode: new Int32Array(BATCH_ROWS),
    answers: new Int32Array(BATCH_ROWS),
    client: new Int32Array(BATCH_ROWS),
    server: new Int32Array(BATCH_ROWS),
    query: new Int32Array(BATCH_ROWS),
    domain: new Int32Array(BATCH_ROWS),
    reset,
    texts: [],
    textBase,
  };
}

/** Messages between {@link TransactionWriter} and its thread (src/store/writer_worker.ts). */
export type WriterRequest =
  | { kind: "open"; path: string }
  | { kind: "batch"; batch: TransactionBatch }
  | { kind: "close" };
/** Replies of the writer thread: a batch committed, the connection closed, or a failure. */
export type WriterReply =
  | { kind: "ack" }
  | { kind: "done"; written: number }
  | { kind: "error"; message: string };
