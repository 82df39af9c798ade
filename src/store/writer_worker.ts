/**
 * The writer thread of {@link TransactionWriter}: inserts column batches
 * through its own SQLite connection and acknowledges each one.
 *
 * @module
 */

import type { WriterReply, WriterRequest } from "./batch.ts";
import { TransactionInserter } from "./inserter.ts";
import { workerScope } from "../thread.ts";

const scope = workerScope<WriterRequest>();

let inserter: TransactionInserter | null = null;
let failed = false;

scope.onmessage = (e: MessageEvent<WriterRequest>) => {
  const m = e.data;
  if (failed) {
    // The failure was reported; a close still gets its answer, so no one waits for it.
    if (m.kind === "close") {
      try {
        inserter?.close();
      } catch { /* already broken */ }
      inserter = null;
      scope.postMessage({ kind: "done", written: 0 } satisfies WriterReply);
    }
    return;
  }
  try {
    if (m.kind === "open") inserter = new TransactionInserter(m.path);
    else if (m.kind === "batch") {
      inserter!.insert(m.batch);
      scope.postMessage({ kind: "ack" } satisfies WriterReply);
    } else {
      const written = inserter?.written ?? 0;
      inserter?.close();
      inserter = null;
      scope.postMessage({ kind: "done", written } satisfies WriterReply);
    }
  } catch (err) {
    failed = true;
    scope.postMessage({ kind: "error", message: (err as Error).message } satisfies WriterReply);
  }
};
