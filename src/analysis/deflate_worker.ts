/**
 * The thread of a {@link DeflatePool}: deflates each block it is sent and
 * writes its size into the pool's shared results.
 *
 * @module
 */

import { workerScope } from "../thread.ts";
import { deflatedLength, type DeflateMessage } from "./deflate_pool.ts";

const scope = workerScope<DeflateMessage>();
let results: Int32Array | null = null;

scope.onmessage = (e: MessageEvent<DeflateMessage>) => {
  const m = e.data;
  if ("results" in m) {
    results = new Int32Array(m.results);
    return;
  }
  if (results === null) return;
  Atomics.store(results, m.slot, deflatedLength(m.bytes));
  Atomics.notify(results, m.slot);
};
