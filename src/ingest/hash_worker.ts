/**
 * The hashing thread of {@link hashFileInThread}: reads one file from start
 * to end and replies with its SHA-256 (or why it could not).
 *
 * @module
 */
/// <reference lib="deno.worker" />

import { createHash } from "node:crypto";

self.onmessage = (e: MessageEvent<{ path: string }>) => {
  try {
    const hash = createHash("sha256");
    const buf = new Uint8Array(1 << 20);
    using file = Deno.openSync(e.data.path, { read: true });
    for (let n = file.readSync(buf); n !== null; n = file.readSync(buf)) hash.update(buf.subarray(0, n));
    self.postMessage({ sha256: hash.digest("hex") });
  } catch (err) {
    self.postMessage({ error: (err as Error).message });
  }
};
