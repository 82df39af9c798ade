/**
 * Raw deflate's output size of full 64 KB blocks, computed on a thread of
 * its own. The name-information bound of a tunnel ({@link CompressedSize})
 * deflates everything a domain's new names and answers carried: on traffic
 * whose every name is new that was a fifth of the main thread's time. The
 * sizes are the same zlib's at the same level, whichever thread computes
 * them, so a finding does not depend on where (or whether) a block went.
 *
 * A block waits in one of {@link SLOTS} slots of shared memory (4 MB in
 * all, nothing copied between the threads but into its slot): the thread
 * writes its size beside it, read (waited for if need be) when the domain
 * is scored. With every slot taken, a block is deflated where it is, so
 * reading never waits for the thread; and a block stays in its slot until
 * its size is read, so a thread that died costs time, not a result.
 *
 * @module
 */

import { deflateRawSync } from "node:zlib";
import { spawnWorker } from "../thread.ts";

/** Blocks waiting for their size at once, at most. */
const SLOTS = 64;
/** Bytes of a slot: a full block of {@link CompressedSize}. */
const SLOT_BYTES = 65536;
/** Longest wait for one block's size before it is deflated here (ms). */
const WAIT_MS = 10_000;

/** The deflate level of the bound (zlib's default). */
export const DEFLATE_LEVEL = 6;

/** Raw deflate's output size for `bytes` at {@link DEFLATE_LEVEL}. */
export function deflatedLength(bytes: Uint8Array): number {
  return deflateRawSync(bytes, { level: DEFLATE_LEVEL }).length;
}

/** What the deflate thread is sent: the shared memory once, then which slot holds a block of how many bytes. */
export type DeflateMessage = { results: SharedArrayBuffer; blocks: SharedArrayBuffer } | {
  slot: number;
  length: number;
};

/** Sizes of blocks deflated by a thread; see the module's notes. */
export class DeflatePool {
  readonly #results = new Int32Array(new SharedArrayBuffer(4 * SLOTS));
  /** Each slot's block, where the thread reads it (and where it stays until its size is read). */
  readonly #blocks = new Uint8Array(new SharedArrayBuffer(SLOTS * SLOT_BYTES));
  readonly #lengths = new Int32Array(SLOTS);
  readonly #free: number[] = Array.from({ length: SLOTS }, (_, i) => SLOTS - 1 - i);
  #worker: Worker | null = null;
  #closed = false;
  /** Blocks deflated by the thread, and here for want of a slot (or of the thread). */
  readonly counts = { thread: 0, here: 0 };

  /** A slot now deflating a copy of `block` (at most 64 KB), or null when none is free (deflate it yourself). */
  submit(block: Uint8Array): number | null {
    if (this.#closed || this.#free.length === 0 || block.length > SLOT_BYTES) {
      this.counts.here++;
      return null;
    }
    const slot = this.#free.pop()!;
    this.#blocks.set(block, slot * SLOT_BYTES);
    this.#lengths[slot] = block.length;
    Atomics.store(this.#results, slot, -1);
    try {
      this.#thread().postMessage({ slot, length: block.length } satisfies DeflateMessage);
    } catch {
      // No thread (its module cannot start here): the block waits to be deflated when it is read.
    }
    return slot;
  }

  /** The size of `slot`'s block (waiting for the thread if it is not done yet); the slot is free again. */
  take(slot: number): number {
    let n = Atomics.load(this.#results, slot);
    if (n < 0 && this.#worker !== null) {
      // A thread that takes this long on one block is taken for dead, and stopped: no slot is given out again, so
      // no late answer can land on another block.
      if (Atomics.wait(this.#results, slot, -1, WAIT_MS) === "timed-out") this.close();
      n = Atomics.load(this.#results, slot);
    }
    if (n >= 0) this.counts.thread++;
    else {
      n = deflatedLength(this.#blocks.slice(slot * SLOT_BYTES, slot * SLOT_BYTES + this.#lengths[slot]));
      this.counts.here++;
    }
    this.#free.push(slot);
    return n;
  }

  /** Whether `slot`'s size is known (taking it will not wait). */
  done(slot: number): boolean {
    return Atomics.load(this.#results, slot) >= 0;
  }

  /** Stop the thread; blocks still waiting are deflated here when read, and later ones at once. */
  close(): void {
    this.#closed = true;
    this.#worker?.terminate();
    this.#worker = null;
  }

  #thread(): Worker {
    if (this.#worker === null) {
      const w = spawnWorker({ role: "plumbum:deflate", url: new URL("./deflate_worker.ts", import.meta.url) });
      w.onerror = (e) => {
        // Its blocks are deflated here when read.
        e.preventDefault();
        this.close();
      };
      w.postMessage(
        {
          results: this.#results.buffer as SharedArrayBuffer,
          blocks: this.#blocks.buffer as SharedArrayBuffer,
        } satisfies DeflateMessage,
      );
      this.#worker = w;
    }
    return this.#worker;
  }
}
