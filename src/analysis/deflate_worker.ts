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
let blocks: Uint8Array | null = null;
/** A slot's block is copied out of shared memory first (zlib takes no view of it). */
const block = new Uint8Array(65536);

scope.onmessage = (e: MessageEvent<DeflateMessage>) => {
  const m = e.data;
  if ("results" in m) {
    results = new Int32Array(m.results);
    blocks = new Uint8Array(m.blocks);
    return;
  }
  if (results === null || blocks === null) return;
  const at = m.slot * block.length;
  block.set(blocks.subarray(at, at + m.length));
  Atomics.store(results, m.slot, deflatedLength(block.subarray(0, m.length)));
  Atomics.notify(results, m.slot);
};
