/**
 * The hashing thread of {@link hashFileInThread}: reads one file from start
 * to end and replies with its SHA-256 (or why it could not).
 *
 * @module
 */

import { createHash } from "node:crypto";
import { PACE_FREE, PACE_POLL_MS, PACE_READ, PACE_UNIT } from "./hash_pace.ts";
import { workerScope } from "../thread.ts";

const scope = workerScope<{ path: string; pace?: Int32Array }>();

const CHUNK = 1 << 20;

scope.onmessage = (e: MessageEvent<{ path: string; pace?: Int32Array }>) => {
  try {
    const pace = e.data.pace;
    const hash = createHash("sha256");
    const buf = new Uint8Array(CHUNK);
    using file = Deno.openSync(e.data.path, { read: true });
    let hashed = 0;
    let waits = 0;
    for (;;) {
      // Paced: stay behind the decoder's reads (see PACE_UNIT) until it lets go.
      while (pace !== undefined && Atomics.load(pace, PACE_FREE) === 0) {
        const read = Atomics.load(pace, PACE_READ);
        if (read * PACE_UNIT >= hashed + CHUNK) break;
        waits++;
        Atomics.wait(pace, PACE_READ, read, PACE_POLL_MS);
      }
      const n = file.readSync(buf);
      if (n === null) break;
      hash.update(buf.subarray(0, n));
      hashed += n;
    }
    scope.postMessage({ sha256: hash.digest("hex"), waits });
  } catch (err) {
    scope.postMessage({ error: (err as Error).message });
  }
};
