/**
 * Wire bytes kept as little-endian 32-bit words, and compared eight bytes a
 * step: the layout the name and answer tables keep to tell a repeated name
 * or answer from a new one without building its text.
 *
 * @module
 */

/**
 * Bytes `i` up to `last` of a message (`v` views it) as the words before a
 * last one: the layout the name and answer tables keep, ceil((last - i) / 4)
 * little-endian words, the final one possibly running into the last word.
 * Kept into `into` from word `at` on; returns the word after them.
 */
export function keepLeadingWords(into: Int32Array, at: number, v: DataView, i: number, last: number): number {
  for (; i < last; i += 4) into[at++] = v.getInt32(i, true);
  return at;
}

/**
 * Whether the words {@link keepLeadingWords} kept from byte `b` of `kept`
 * are bytes `i` up to `last` of the message `v` views: compared eight bytes
 * a step (V8 compiles a BigInt64 load and compare to one machine compare:
 * half the loads of four-byte steps), then the odd word.
 */
export function sameLeadingWords(kept: DataView, b: number, v: DataView, i: number, last: number): boolean {
  for (; i + 4 < last; i += 8, b += 8) if (kept.getBigInt64(b, true) !== v.getBigInt64(i, true)) return false;
  return i >= last || kept.getInt32(b, true) === v.getInt32(i, true);
}

/** One decoder's view of the buffer it reads messages from, for word loads (made once per input window). */
export class MessageView {
  #of: Uint8Array | null = null;
  #view: DataView = new DataView(new ArrayBuffer(0));

  /** The view of `msg`. */
  of(msg: Uint8Array): DataView {
    if (msg !== this.#of) {
      this.#view = new DataView(msg.buffer, msg.byteOffset, msg.byteLength);
      this.#of = msg;
    }
    return this.#view;
  }
}
