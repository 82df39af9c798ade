/**
 * Domain names off the wire (RFC 1035 §4.1.4 compression included), built
 * once per distinct name and remembered in a bounded table that each
 * decoder owns.
 *
 * @module
 */

import type { RData } from "../types.ts";
import { MAX_NAME_LENGTH, MAX_POINTER_JUMPS } from "./codes.ts";
import { keepLeadingWords, MessageView, sameLeadingWords } from "./words.ts";

/**
 * A decoded domain name. Every occurrence of the same name bytes shares the
 * same two strings (while the name stays in its decoder's table).
 */
export interface Name {
  /** As on the wire (case preserved), labels joined with "."; "." and "\" inside a label escaped. */
  readonly name: string;
  /** ASCII-lower-cased name, for grouping. */
  readonly key: string;
}

// Scratch space for building names: at most 255 wire bytes, each byte may be
// escaped ("\." or "\\"), so 2 * 255 bytes are enough. Filled and read within
// one call, so the decoders of a process share it safely.
const scratch = new Uint8Array(2 * MAX_NAME_LENGTH + 8);
const utf8 = new TextDecoder();
// WHATWG "latin1" is windows-1252: it maps bytes 0xA0-0xFF to the same code points, 0x80-0x9F not.
const latin1 = new TextDecoder("latin1");

// Per-byte class bits: what a name byte asks of the string builder.
const UPPER = 1, HIGH = 2, ESCAPE = 4, C1 = 8;
const byteClass = new Uint8Array(256);
for (let c = 0x41; c <= 0x5a; c++) byteClass[c] = UPPER;
for (let c = 0x80; c <= 0xff; c++) byteClass[c] = c < 0xa0 ? HIGH | C1 : HIGH;
byteClass[0x2e] = ESCAPE;
byteClass[0x5c] = ESCAPE;

/** The scratch bytes as a byte string (one char per byte). */
function scratchString(n: number, flags: number): string {
  // Native decoders are several times faster than fromCharCode for long names:
  // UTF-8 for pure ASCII, windows-1252 when no byte falls in 0x80-0x9F.
  if ((flags & HIGH) === 0) return utf8.decode(scratch.subarray(0, n));
  if ((flags & C1) === 0) return latin1.decode(scratch.subarray(0, n));
  return String.fromCharCode.apply(null, scratch.subarray(0, n) as unknown as number[]);
}

/** The one word of a label of one or two bytes: its length byte and its bytes (little-endian, zero-filled). */
function shortWord(msg: Uint8Array, p: number, len: number): number {
  return len === 1 ? 1 | (msg[p + 1] << 8) : 2 | (msg[p + 1] << 8) | (msg[p + 2] << 16);
}

/** The view a name that is only checked reads through (it reads no words). */
const NO_VIEW = new DataView(new ArrayBuffer(0));

const NAME_BITS = 14;
/** Words per slot: a name of at most 255 wire bytes has at most 127 (its labels of one byte). */
const SLOT_WORDS = 128;
/** The slot number {@link NameTable.slot} gives the root name. */
export const EMPTY_SLOT = 1 << NAME_BITS;

/**
 * Names built so far in this process: a name's number (see
 * {@link Question.ref}) is unique in the process, so one consumer may be fed
 * by several decoders (the files of one run, a capture beside a file)
 * without two names sharing a number. A counter, not a table: no decoder
 * evicts another's entries through it.
 */
let namesBuilt = 0;

/**
 * Names decoded lately, by a hash of their wire bytes, in a bounded table
 * (16 384 slots in sets of four, replaced oldest first): a name repeated
 * within a capture (a response repeats its query's question; clients ask
 * for the same names) is built once, and memory stays bounded whatever the
 * capture holds. A slot keeps its name's wire bytes as words (512 bytes),
 * and a hit is taken only when they all match the name being read.
 *
 * A label of L bytes is its length byte and its L bytes: ceil((L + 1) / 4)
 * little-endian words read straight from the message, the last one ending
 * at the label's end (overlapping the one before it; a label of one or two
 * bytes is one word of its L + 1 bytes, zero-filled). The first word holds
 * the length, so the words spell the name unambiguously. The hash takes each
 * label's first and last words only; every word is compared on a hit.
 */
export class NameTable {
  /** Per slot, side by side (a set's four in one cache line): hash, word count. */
  readonly keys: Int32Array = new Int32Array(2 << NAME_BITS);
  /** Per slot: the name's wire bytes as 32-bit words (what a hit is compared against). */
  readonly words: Int32Array = new Int32Array(SLOT_WORDS << NAME_BITS);
  /** The kept words as bytes, for eight-byte loads. */
  readonly wordBytes: DataView = new DataView(this.words.buffer);
  /**
   * Per slot, side by side: its name's text and key (two loads from one line
   * instead of a slot pointer and then an object). The pair after the last
   * slot is the empty name's.
   */
  readonly text: string[] = new Array(2 << NAME_BITS).fill("");
  /** Per set of four slots, which one to replace next. */
  readonly turn: Uint8Array = new Uint8Array(1 << (NAME_BITS - 2));
  /** Per slot: its name's number (see {@link Question.ref}). */
  readonly ref: Float64Array = new Float64Array(1 << NAME_BITS);
  /** Per slot, once an answer needs one: the shared (frozen) record data naming its name. */
  readonly data: (RData | undefined)[] = new Array(1 << NAME_BITS).fill(undefined);
  /** Offsets of the current name's label length bytes (a name has at most 127 labels). */
  readonly labelAt: Int32Array = new Int32Array(128);
  /** The view names are read through (shared with the decoder's answer table). */
  readonly view: MessageView;
  /** Offset just past the name that the last successful {@link slot} read. */
  end = 0;
  /** Reason the last {@link slot} failed. */
  error = "";

  /** An empty table reading names through `view`. */
  constructor(view: MessageView = new MessageView()) {
    this.view = view;
    this.text.push("", "");
  }

  /**
   * Read a possibly compressed domain name at `off` in the DNS message that
   * occupies `msg[base..end)` (compression pointers count from `base`).
   * Returns null when the name is broken ({@link error} says why); on
   * success {@link end} is the offset just past it. With `build` false the
   * name is only checked (every pointer followed) and an empty name is
   * returned, which costs no string.
   */
  read(msg: Uint8Array, off: number, base = 0, end = msg.length, build = true): Name | null {
    const slot = this.slot(msg, off, base, end, build);
    return slot < 0 ? null : { name: this.text[2 * slot], key: this.text[2 * slot + 1] };
  }

  /**
   * {@link read} without the object: the slot whose {@link text} pair holds
   * the name, or -1 when it is broken.
   */
  slot(msg: Uint8Array, off: number, base: number, end: number, build: boolean): number {
    // A name only checked reads no words: it needs no view of its message.
    const v = build ? this.view.of(msg) : NO_VIEW;
    const labelAt = this.labelAt;
    let pos = off;
    let next = -1;
    let jumps = 0;
    let wire = 0;
    let labels = 0;
    let nw = 0;
    let h = 0x811c9dc5 | 0;
    while (true) {
      if (pos >= end) {
        this.error = "name runs past the message";
        return -1;
      }
      const len = msg[pos];
      if (len === 0) {
        if (next < 0) next = pos + 1;
        break;
      }
      const kind = len & 0xc0;
      if (kind === 0xc0) {
        if (pos + 1 >= end) {
          this.error = "compression pointer runs past the message";
          return -1;
        }
        if (++jumps > MAX_POINTER_JUMPS) {
          this.error = "compression pointer loop";
          return -1;
        }
        if (next < 0) next = pos + 2;
        const target = base + (((len & 0x3f) << 8) | msg[pos + 1]);
        if (target >= end) {
          this.error = "compression pointer past the message";
          return -1;
        }
        pos = target;
        continue;
      }
      if (kind !== 0) {
        this.error = "unsupported label type";
        return -1;
      }
      wire += len + 1;
      if (wire + 1 > MAX_NAME_LENGTH) {
        this.error = "name longer than 255 bytes";
        return -1;
      }
      const stop = pos + 1 + len;
      if (stop > end) {
        this.error = "label runs past the message";
        return -1;
      }
      if (build) {
        labelAt[labels++] = pos;
        nw += (len + 4) >> 2;
        if (len < 3) h = Math.imul(h ^ shortWord(msg, pos, len), 0x01000193);
        else {
          h = Math.imul(h ^ v.getInt32(pos, true), 0x01000193);
          h = Math.imul(h ^ v.getInt32(stop - 4, true), 0x01000193);
        }
      }
      pos = stop;
    }
    this.end = next;
    if (labels === 0) return EMPTY_SLOT;
    h = Math.imul(h ^ nw, 0x9e3779b1);
    const keys = this.keys;
    // Four ways a set: names that share a set stay until a fifth comes.
    const set = (h >>> (32 - NAME_BITS)) & ~3;
    for (let slot = set; slot < set + 4; slot++) {
      if (keys[2 * slot] === h && keys[2 * slot + 1] === nw && this.#sameWords(msg, v, slot * SLOT_WORDS, labels)) {
        return slot;
      }
    }
    // Replace the ways in turn (oldest first).
    const slot = set + (this.turn[set >> 2]++ & 3);
    this.#build(msg, labels, slot);
    this.ref[slot] = ++namesBuilt;
    this.data[slot] = undefined;
    keys[2 * slot] = h;
    keys[2 * slot + 1] = nw;
    this.#keepWords(msg, v, slot * SLOT_WORDS, labels);
    return slot;
  }

  /** Whether the words kept at `at` spell the current name (its labels at {@link labelAt}; `v` views `msg`). */
  #sameWords(msg: Uint8Array, v: DataView, at: number, labels: number): boolean {
    const words = this.words;
    const labelAt = this.labelAt;
    for (let l = 0; l < labels; l++) {
      const p = labelAt[l];
      const len = msg[p];
      if (len < 3) {
        if (words[at++] !== shortWord(msg, p, len)) return false;
        continue;
      }
      // The label's bytes from its length byte on, then its last four.
      const last = p + 1 + len - 4;
      if (!sameLeadingWords(this.wordBytes, at << 2, v, p, last)) return false;
      at += (last - p + 3) >> 2;
      if (words[at++] !== v.getInt32(last, true)) return false;
    }
    return true;
  }

  /** Keep the current name's words at `at` (the layout {@link #sameWords} reads). */
  #keepWords(msg: Uint8Array, v: DataView, at: number, labels: number): void {
    const words = this.words;
    const labelAt = this.labelAt;
    for (let l = 0; l < labels; l++) {
      const p = labelAt[l];
      const len = msg[p];
      if (len < 3) {
        words[at++] = shortWord(msg, p, len);
        continue;
      }
      const last = p + 1 + len - 4;
      at = keepLeadingWords(words, at, v, p, last);
      words[at++] = v.getInt32(last, true);
    }
  }

  /** Build the name's strings from the labels at {@link labelAt} into slot `slot` of {@link text}. */
  #build(msg: Uint8Array, labels: number, slot: number): void {
    const labelAt = this.labelAt;
    let n = 0;
    let flags = 0;
    for (let l = 0; l < labels; l++) {
      const p = labelAt[l];
      if (l > 0) scratch[n++] = 0x2e;
      for (let i = p + 1, stop = p + 1 + msg[p]; i < stop; i++) {
        const c = msg[i];
        const cls = byteClass[c];
        // Escape "." and "\" inside a label so labels stay unambiguous.
        if (cls & ESCAPE) scratch[n++] = 0x5c;
        scratch[n++] = c;
        flags |= cls;
      }
    }
    const text = this.text;
    const name = text[2 * slot] = scratchString(n, flags);
    if ((flags & UPPER) === 0) text[2 * slot + 1] = name;
    else if ((flags & HIGH) === 0) text[2 * slot + 1] = name.toLowerCase();
    else {
      for (let i = 0; i < n; i++) {
        const c = scratch[i];
        if (c >= 0x41 && c <= 0x5a) scratch[i] = c | 0x20;
      }
      text[2 * slot + 1] = scratchString(n, flags);
    }
  }
}
