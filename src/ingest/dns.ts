/**
 * DNS wire-format decoder (RFC 1035, 3596, 2782, 6891).
 *
 * Never throws on hostile input: every length is checked against the message
 * end, compression pointers are followed at most {@link MAX_POINTER_JUMPS}
 * times, names are capped at 255 wire bytes and 128 labels. Decoding stops at
 * the first broken part and reports why in `malformed`, keeping what came
 * before it.
 *
 * @module
 */

import type { DnsMessage, Edns, Question, RData, ResourceRecord } from "./types.ts";

/** Maximum compression pointers followed for one name. */
export const MAX_POINTER_JUMPS = 64;
/** Maximum wire length of a name (RFC 1035 §2.3.4). */
export const MAX_NAME_LENGTH = 255;
/** Most records decoded per section; more are counted as malformed. */
export const MAX_RECORDS_PER_SECTION = 4096;

/** Record type numbers used across Plumbum. */
export const RRType = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  NULL: 10,
  PTR: 12,
  HINFO: 13,
  MX: 15,
  TXT: 16,
  KEY: 25,
  AAAA: 28,
  SRV: 33,
  DNAME: 39,
  OPT: 41,
  DNSKEY: 48,
  SPF: 99,
  ANY: 255,
  PRIVATE: 65399,
} as const;

const TYPE_NAMES: Record<number, string> = {
  1: "A",
  2: "NS",
  3: "MD",
  4: "MF",
  5: "CNAME",
  6: "SOA",
  7: "MB",
  8: "MG",
  9: "MR",
  10: "NULL",
  11: "WKS",
  12: "PTR",
  13: "HINFO",
  14: "MINFO",
  15: "MX",
  16: "TXT",
  17: "RP",
  18: "AFSDB",
  24: "SIG",
  25: "KEY",
  28: "AAAA",
  29: "LOC",
  30: "NXT",
  33: "SRV",
  35: "NAPTR",
  38: "A6",
  39: "DNAME",
  41: "OPT",
  43: "DS",
  44: "SSHFP",
  46: "RRSIG",
  47: "NSEC",
  48: "DNSKEY",
  50: "NSEC3",
  51: "NSEC3PARAM",
  52: "TLSA",
  64: "SVCB",
  65: "HTTPS",
  99: "SPF",
  249: "TKEY",
  250: "TSIG",
  251: "IXFR",
  252: "AXFR",
  255: "*",
  256: "URI",
  257: "CAA",
  32769: "DLV",
  65399: "PRIVATE",
};

/** Mnemonic of a record type, Zeek style (`query-N` when unknown). */
export function typeName(type: number): string {
  return TYPE_NAMES[type] ?? `query-${type}`;
}

const RCODE_NAMES: Record<number, string> = {
  0: "NOERROR",
  1: "FORMERR",
  2: "SERVFAIL",
  3: "NXDOMAIN",
  4: "NOTIMP",
  5: "REFUSED",
  6: "YXDOMAIN",
  7: "YXRRSET",
  8: "NXRRSET",
  9: "NOTAUTH",
  10: "NOTZONE",
  16: "BADVERS",
};

/** Lower-case ASCII letters only (DNS names compare case-insensitively in ASCII). */
export function asciiLower(s: string): string {
  return /[A-Z]/.test(s) ? s.replace(/[A-Z]+/g, (m) => m.toLowerCase()) : s;
}

/** Mnemonic of a response code. */
export function rcodeName(rcode: number): string {
  return RCODE_NAMES[rcode] ?? `rcode-${rcode}`;
}

// Scratch space for building names: at most 255 wire bytes, each byte may be
// escaped ("\." or "\\"), so 2 * 255 bytes are enough.
const scratch = new Uint8Array(2 * MAX_NAME_LENGTH + 8);
const utf8 = new TextDecoder();

// Per-byte class bits: what a name byte asks of the string builder.
const UPPER = 1, HIGH = 2, ESCAPE = 4, C1 = 8;
const byteClass = new Uint8Array(256);
for (let c = 0x41; c <= 0x5a; c++) byteClass[c] = UPPER;
for (let c = 0x80; c <= 0xff; c++) byteClass[c] = c < 0xa0 ? HIGH | C1 : HIGH;
// WHATWG "latin1" is windows-1252: it maps bytes 0xA0-0xFF to the same code points, 0x80-0x9F not.
const latin1 = new TextDecoder("latin1");
byteClass[0x2e] = ESCAPE;
byteClass[0x5c] = ESCAPE;

/**
 * A decoded domain name. Every occurrence of the same name bytes shares the
 * same two strings (while the name stays in the decoder's table).
 */
export interface Name {
  /** As on the wire (case preserved), labels joined with "."; "." and "\" inside a label escaped. */
  readonly name: string;
  /** ASCII-lower-cased name, for grouping. */
  readonly key: string;
}

/** Offset just past the name that the last successful {@link readName} read. */
export let nameEnd = 0;

/** Reason the last {@link readName} failed. */
export let nameError = "";

/** The scratch bytes as a byte string (one char per byte). */
function scratchString(n: number, flags: number): string {
  // Native decoders are several times faster than fromCharCode for long names:
  // UTF-8 for pure ASCII, windows-1252 when no byte falls in 0x80-0x9F.
  if ((flags & HIGH) === 0) return utf8.decode(scratch.subarray(0, n));
  if ((flags & C1) === 0) return latin1.decode(scratch.subarray(0, n));
  return String.fromCharCode.apply(null, scratch.subarray(0, n) as unknown as number[]);
}

// Names decoded lately, by a hash of their wire bytes, in a bounded table
// (16 384 slots in sets of four, replaced oldest first): a name repeated
// within a capture (a response repeats its query's question; clients ask
// for the same names) is built once, and memory stays bounded whatever the
// capture holds. A slot keeps its name's wire bytes as words (512 bytes),
// and a hit is taken only when they all match the name being read.
//
// A label of L bytes is its length byte and its L bytes: ceil((L + 1) / 4)
// little-endian words read straight from the message, the last one ending
// at the label's end (overlapping the one before it; a label of one or two
// bytes is one word of its L + 1 bytes, zero-filled). The first word holds
// the length, so the words spell the name unambiguously. The hash takes each
// label's first and last words only; every word is compared on a hit.
const NAME_BITS = 14;
/** Words per slot: a name of at most 255 wire bytes has at most 127 (its labels of one byte). */
const SLOT_WORDS = 128;
/** Per slot, side by side (a set's four in one cache line): hash, word count. */
const nameKeys = new Int32Array(2 << NAME_BITS);
const nameWords = new Int32Array(SLOT_WORDS << NAME_BITS);
/**
 * Per slot, side by side: its name's text and key (two loads from one line
 * instead of a slot pointer and then an object). The pair after the last
 * slot is the empty name's.
 */
const nameText: string[] = new Array(2 << NAME_BITS).fill("");
nameText.push("", "");
/** The slot number {@link nameSlot} gives the root name. */
const EMPTY_SLOT = 1 << NAME_BITS;
/** Per set of four slots, which one to replace next. */
const nameTurn = new Uint8Array(1 << (NAME_BITS - 2));
/** Per slot: its name's number (see {@link Question.ref}): names are numbered in the order they are first built. */
const nameRef = new Float64Array(1 << NAME_BITS);
let namesBuilt = 0;
/** Per slot, once an answer needs one: the shared (frozen) record data naming its name. */
const nameData: (RData | undefined)[] = new Array(1 << NAME_BITS).fill(undefined);
// A view of the buffer names are read from, for four-byte loads: one per
// input window (the decoder reads message after message from the same one).
let viewOf: Uint8Array | null = null;
let view: DataView = new DataView(new ArrayBuffer(0));
/** The view of `msg` for four-byte loads (made once per input window). */
function viewOfMessage(msg: Uint8Array): DataView {
  if (msg !== viewOf) {
    view = new DataView(msg.buffer, msg.byteOffset, msg.byteLength);
    viewOf = msg;
  }
  return view;
}
// Offsets of the current name's label length bytes (a name has at most 127 labels).
const labelAt = new Int32Array(128);

/** The one word of a label of one or two bytes: its length byte and its bytes (little-endian, zero-filled). */
function shortWord(msg: Uint8Array, p: number, len: number): number {
  return len === 1 ? 1 | (msg[p + 1] << 8) : 2 | (msg[p + 1] << 8) | (msg[p + 2] << 16);
}

/**
 * Read a possibly compressed domain name at `off` in the DNS message that
 * occupies `msg[base..end)` (compression pointers count from `base`).
 * Returns null when the name is broken ({@link nameError} says why); on
 * success {@link nameEnd} is the offset just past it. With `build` false
 * the name is only checked (every pointer followed) and an empty name is
 * returned, which costs no string.
 */
export function readName(msg: Uint8Array, off: number, base = 0, end = msg.length, build = true): Name | null {
  const slot = nameSlot(msg, off, base, end, build);
  return slot < 0 ? null : { name: nameText[2 * slot], key: nameText[2 * slot + 1] };
}

/**
 * {@link readName} without the object: the slot whose {@link nameText} pair
 * holds the name, or -1 when it is broken.
 */
function nameSlot(msg: Uint8Array, off: number, base: number, end: number, build: boolean): number {
  const v = build ? viewOfMessage(msg) : view;
  let pos = off;
  let next = -1;
  let jumps = 0;
  let wire = 0;
  let labels = 0;
  let nw = 0;
  let h = 0x811c9dc5 | 0;
  while (true) {
    if (pos >= end) {
      nameError = "name runs past the message";
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
        nameError = "compression pointer runs past the message";
        return -1;
      }
      if (++jumps > MAX_POINTER_JUMPS) {
        nameError = "compression pointer loop";
        return -1;
      }
      if (next < 0) next = pos + 2;
      const target = base + (((len & 0x3f) << 8) | msg[pos + 1]);
      if (target >= end) {
        nameError = "compression pointer past the message";
        return -1;
      }
      pos = target;
      continue;
    }
    if (kind !== 0) {
      nameError = "unsupported label type";
      return -1;
    }
    wire += len + 1;
    if (wire + 1 > MAX_NAME_LENGTH) {
      nameError = "name longer than 255 bytes";
      return -1;
    }
    const stop = pos + 1 + len;
    if (stop > end) {
      nameError = "label runs past the message";
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
  nameEnd = next;
  if (labels === 0) return EMPTY_SLOT;
  h = Math.imul(h ^ nw, 0x9e3779b1);
  // Four ways a set: names that share a set stay until a fifth comes.
  const set = (h >>> (32 - NAME_BITS)) & ~3;
  for (let slot = set; slot < set + 4; slot++) {
    if (nameKeys[2 * slot] === h && nameKeys[2 * slot + 1] === nw && sameWords(msg, v, slot * SLOT_WORDS, labels)) {
      return slot;
    }
  }
  // Replace the ways in turn (oldest first).
  const slot = set + (nameTurn[set >> 2]++ & 3);
  buildName(msg, labels, slot);
  nameRef[slot] = ++namesBuilt;
  nameData[slot] = undefined;
  nameKeys[2 * slot] = h;
  nameKeys[2 * slot + 1] = nw;
  keepWords(msg, v, slot * SLOT_WORDS, labels);
  return slot;
}

/** The kept words as bytes, for eight-byte loads. */
const nameWordBytes = new DataView(nameWords.buffer);

/**
 * Bytes `i` up to `last` of a message (`v` views it) as the words before a
 * last one: the layout the name and answer tables keep, ceil((last - i) / 4)
 * little-endian words, the final one possibly running into the last word.
 * Kept into `into` from word `at` on; returns the word after them.
 */
function keepLeadingWords(into: Int32Array, at: number, v: DataView, i: number, last: number): number {
  for (; i < last; i += 4) into[at++] = v.getInt32(i, true);
  return at;
}

/**
 * Whether the words {@link keepLeadingWords} kept from byte `b` of `kept`
 * are bytes `i` up to `last` of the message `v` views: compared eight bytes
 * a step (V8 compiles a BigInt64 load and compare to one machine compare:
 * half the loads of four-byte steps), then the odd word.
 */
function sameLeadingWords(kept: DataView, b: number, v: DataView, i: number, last: number): boolean {
  for (; i + 4 < last; i += 8, b += 8) if (kept.getBigInt64(b, true) !== v.getBigInt64(i, true)) return false;
  return i >= last || kept.getInt32(b, true) === v.getInt32(i, true);
}

/** Whether the words kept at `at` spell the current name (its labels at {@link labelAt}; `v` views `msg`). */
function sameWords(msg: Uint8Array, v: DataView, at: number, labels: number): boolean {
  for (let l = 0; l < labels; l++) {
    const p = labelAt[l];
    const len = msg[p];
    if (len < 3) {
      if (nameWords[at++] !== shortWord(msg, p, len)) return false;
      continue;
    }
    // The label's bytes from its length byte on, then its last four.
    const last = p + 1 + len - 4;
    if (!sameLeadingWords(nameWordBytes, at << 2, v, p, last)) return false;
    at += (last - p + 3) >> 2;
    if (nameWords[at++] !== v.getInt32(last, true)) return false;
  }
  return true;
}

/** Keep the current name's words at `at` (the layout {@link sameWords} reads). */
function keepWords(msg: Uint8Array, v: DataView, at: number, labels: number): void {
  for (let l = 0; l < labels; l++) {
    const p = labelAt[l];
    const len = msg[p];
    if (len < 3) {
      nameWords[at++] = shortWord(msg, p, len);
      continue;
    }
    const last = p + 1 + len - 4;
    at = keepLeadingWords(nameWords, at, v, p, last);
    nameWords[at++] = v.getInt32(last, true);
  }
}

/** Build the name's strings from the labels at {@link labelAt} into slot `slot` of {@link nameText}. */
function buildName(msg: Uint8Array, labels: number, slot: number): void {
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
  const name = nameText[2 * slot] = scratchString(n, flags);
  if ((flags & UPPER) === 0) nameText[2 * slot + 1] = name;
  else if ((flags & HIGH) === 0) nameText[2 * slot + 1] = name.toLowerCase();
  else {
    for (let i = 0; i < n; i++) {
      const c = scratch[i];
      if (c >= 0x41 && c <= 0x5a) scratch[i] = c | 0x20;
    }
    nameText[2 * slot + 1] = scratchString(n, flags);
  }
}

// Addresses by value (direct-mapped, bounded): captures repeat a few
// addresses millions of times. A slot keeps the text and, once an answer
// needs one, a shared (frozen) address record.
/** The big-endian 32-bit word at `o`, as a signed integer. */
function word(b: Uint8Array, o: number): number {
  return (b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3];
}

const V4_BITS = 14;
const v4Keys = new Int32Array(1 << V4_BITS);
const v4Text: (string | undefined)[] = new Array(1 << V4_BITS).fill(undefined);
const v4Data: (RData | undefined)[] = new Array(1 << V4_BITS).fill(undefined);

/** The slot holding the IPv4 address in the four bytes at `o`. */
function v4Slot(b: Uint8Array, o: number): number {
  const k = word(b, o);
  const slot = Math.imul(k, 0x9e3779b1) >>> (32 - V4_BITS);
  if (v4Text[slot] === undefined || v4Keys[slot] !== k) {
    v4Text[slot] = `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`;
    v4Keys[slot] = k;
    v4Data[slot] = undefined;
  }
  return slot;
}

/** The IPv4 address in the four bytes at `o`, dotted. */
export function ipv4At(b: Uint8Array, o: number): string {
  return v4Text[v4Slot(b, o)]!;
}

const V6_BITS = 12;
const v6Keys = new Int32Array(4 << V6_BITS);
const v6Text: (string | undefined)[] = new Array(1 << V6_BITS).fill(undefined);
const v6Data: (RData | undefined)[] = new Array(1 << V6_BITS).fill(undefined);

/** The slot holding the IPv6 address in the sixteen bytes at `o`. */
function v6Slot(b: Uint8Array, o: number): number {
  const w0 = word(b, o), w1 = word(b, o + 4), w2 = word(b, o + 8), w3 = word(b, o + 12);
  const h = Math.imul(
    w0 ^ Math.imul(w1, 0x85ebca6b) ^ Math.imul(w2, 0xc2b2ae35) ^ Math.imul(w3, 0x27d4eb2f),
    0x9e3779b1,
  );
  const slot = h >>> (32 - V6_BITS);
  const k = slot * 4;
  if (
    v6Text[slot] === undefined || v6Keys[k] !== w0 || v6Keys[k + 1] !== w1 || v6Keys[k + 2] !== w2 ||
    v6Keys[k + 3] !== w3
  ) {
    v6Text[slot] = ipv6(b, o);
    v6Keys[k] = w0;
    v6Keys[k + 1] = w1;
    v6Keys[k + 2] = w2;
    v6Keys[k + 3] = w3;
    v6Data[slot] = undefined;
  }
  return slot;
}

/** The IPv6 address in the sixteen bytes at `o`, as RFC 5952 writes it (remembered like {@link ipv4At}). */
export function ipv6At(b: Uint8Array, o: number): string {
  return v6Text[v6Slot(b, o)]!;
}

/** The shared answer record of the address at `o` (4 bytes: IPv4, else IPv6). */
function addressData(b: Uint8Array, o: number, v6: boolean): RData {
  if (v6) {
    const slot = v6Slot(b, o);
    return v6Data[slot] ??= Object.freeze({ kind: "address", address: v6Text[slot]! });
  }
  const slot = v4Slot(b, o);
  return v4Data[slot] ??= Object.freeze({ kind: "address", address: v4Text[slot]! });
}

/** Format 16 bytes as an RFC 5952 IPv6 address. */
export function ipv6(b: Uint8Array, o: number): string {
  const g = new Array<number>(8);
  for (let i = 0; i < 8; i++) g[i] = (b[o + 2 * i] << 8) | b[o + 2 * i + 1];
  // Longest run of zero groups (length >= 2) becomes "::".
  let bestStart = -1, bestLen = 0;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  // IPv4-mapped addresses keep dotted form.
  if (bestStart === 0 && bestLen === 5 && g[5] === 0xffff) {
    return `::ffff:${ipv4At(b, o + 12)}`;
  }
  const parts: string[] = [];
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      parts.push(i === 0 ? ":" : "");
      i += bestLen - 1;
      if (i === 7) parts.push("");
      continue;
    }
    parts.push(g[i].toString(16));
  }
  return parts.join(":");
}

// Small copies share 64 KB slabs: one view each instead of one buffer each.
const SLAB = 1 << 16;
let slab = new Uint8Array(SLAB);
let slabUsed = SLAB;

/** A copy of `b[start..end)` that outlives the (reused) input buffer. */
export function copyBytes(b: Uint8Array, start: number, end: number): Uint8Array {
  const n = end - start;
  if (n > 1024) return b.slice(start, end);
  if (slabUsed + n > SLAB) {
    slab = new Uint8Array(SLAB);
    slabUsed = 0;
  }
  const at = slabUsed;
  for (let i = 0; i < n; i++) slab[at + i] = b[start + i];
  slabUsed += n;
  return slab.subarray(at, at + n);
}

/** Decode TXT RDATA into its character-strings (byte strings). */
export function readCharacterStrings(msg: Uint8Array, off: number, end: number): string[] | null {
  const out: string[] = [];
  let p = off;
  while (p < end) {
    const len = msg[p];
    if (p + 1 + len > end) return null;
    out.push(bytesToByteString(msg, p + 1, p + 1 + len));
    p += 1 + len;
  }
  return out;
}

// TXT and raw (NULL, private, unknown) answers by value, in a bounded table
// like the names' (16 384 slots in sets of four, oldest replaced first): a
// capture repeats its answers (a resolver's cache, a tunnel's idle polls),
// and from its second sight on a repeated one is the same frozen record
// data, decoded once, which the analysis finds again by identity instead of
// by its characters. An answer seen once is not kept (only its words are).
// A slot's RDATA is kept as little-endian words (the last one ending at its
// end) in a ring shared by all slots, and a hit is taken only when its words
// are still there and all match. Longer RDATA is decoded afresh each time.
const RD_BITS = 14;
const RD_SHARED_MAX = 1024;
/** Per slot, side by side: hash, and type << 16 | RDATA length. */
const rdKeys = new Int32Array(2 << RD_BITS);
/** Per slot: where its words start, counted in words written to the ring since the start. */
const rdStart = new Float64Array(1 << RD_BITS);
const rdData: (RData | undefined)[] = new Array(1 << RD_BITS).fill(undefined);
const rdTurn = new Uint8Array(1 << (RD_BITS - 2));
const RD_RING = 1 << 20;
const rdRing = new Int32Array(RD_RING);
const rdRingBytes = new DataView(rdRing.buffer);
/** Words written to the ring so far (a slot's words are intact while fewer than RD_RING came after them). */
let rdWritten = 0;

/** Start the answer table over, empty (tests use it to know where the ring stands). */
export function forgetSharedAnswers(): void {
  rdKeys.fill(0);
  rdData.fill(undefined);
  rdTurn.fill(0);
  rdWritten = 0;
}

/** TXT (16, 99) or raw RDATA `msg[off..end)` of record type `type`: shared when short enough. */
function sharedRData(msg: Uint8Array, type: number, off: number, end: number): RData {
  const n = end - off;
  if (n > RD_SHARED_MAX) return freshRData(msg, type, off, end);
  const v = viewOfMessage(msg);
  // The words before the last, and the last (fewer than four bytes: them, zero-filled).
  let last = off;
  let tail = 0;
  if (n >= 4) tail = v.getInt32(last = end - 4, true);
  else for (let k = 0; k < n; k++) tail |= msg[off + k] << (8 * k);
  const nw = n >= 4 ? (n + 3) >> 2 : 1;
  const tag = (type << 16) | n;
  // The first four words and the last choose the set; every word is compared on a hit.
  let h = Math.imul(0x811c9dc5 ^ tag, 0x01000193);
  for (let i = off, stop = Math.min(off + 16, last); i < stop; i += 4) {
    h = Math.imul(h ^ v.getInt32(i, true), 0x01000193);
  }
  h = Math.imul(h ^ tail, 0x9e3779b1);
  const set = (h >>> (32 - RD_BITS)) & ~3;
  for (let slot = set; slot < set + 4; slot++) {
    if (rdKeys[2 * slot] !== h || rdKeys[2 * slot + 1] !== tag) continue;
    const start = rdStart[slot];
    if (rdWritten - start > RD_RING) continue;
    // A slot's words never wrap around the ring's end (see below).
    const at = start % RD_RING;
    if (sameLeadingWords(rdRingBytes, at << 2, v, off, last) && rdRing[at + ((last - off + 3) >> 2)] === tail) {
      // Seen before: shared from now on (an answer seen once stays young garbage, as a tunnel's are).
      let data = rdData[slot];
      if (data === undefined) data = rdData[slot] = Object.freeze(freshRData(msg, type, off, end));
      return data;
    }
  }
  const data = freshRData(msg, type, off, end);
  if (data.kind === "malformed") return data;
  const slot = set + (rdTurn[set >> 2]++ & 3);
  rdKeys[2 * slot] = h;
  rdKeys[2 * slot + 1] = tag;
  let at = rdWritten % RD_RING;
  // Words that would run past the ring's end start over at its beginning.
  if (at + nw > RD_RING) {
    rdWritten += RD_RING - at;
    at = 0;
  }
  rdStart[slot] = rdWritten;
  rdWritten += nw;
  rdRing[keepLeadingWords(rdRing, at, v, off, last)] = tail;
  rdData[slot] = undefined;
  return data;
}

/** TXT or raw RDATA decoded afresh. */
function freshRData(msg: Uint8Array, type: number, off: number, end: number): RData {
  if (type !== 16 && type !== 99) return { kind: "raw", bytes: copyBytes(msg, off, end) };
  const s = readCharacterStrings(msg, off, end);
  return s === null ? { kind: "malformed", reason: "TXT string runs past RDATA" } : { kind: "txt", strings: s };
}

// Argument lists for String.fromCharCode.apply, one per length, reused:
// a plain array of small integers is read faster than a typed-array view.
const charArgs: number[][] = [];

/** Convert bytes to a byte string (one char per byte). */
export function bytesToByteString(b: Uint8Array, start: number, end: number): string {
  const n = end - start;
  if (n <= 0) return "";
  // Longer ASCII text (TXT payloads, encoded data) decodes natively: the same string, several times faster.
  if (n > 48) {
    let any = 0;
    for (let i = start; i < end; i++) any |= b[i];
    if (any < 0x80) return utf8.decode(b.subarray(start, end));
  }
  if (n <= 256) {
    const args = charArgs[n] ??= new Array<number>(n).fill(0);
    for (let i = 0; i < n; i++) args[i] = b[start + i];
    return String.fromCharCode.apply(null, args);
  }
  let s = "";
  for (let i = start; i < end; i += 4096) {
    s += String.fromCharCode.apply(null, b.subarray(i, Math.min(end, i + 4096)) as unknown as number[]);
  }
  return s;
}

/** RDATA at `off` of a record in the message `msg[base..msgEnd)`. */
function decodeRData(msg: Uint8Array, type: number, off: number, rdlen: number, base: number, msgEnd: number): RData {
  const end = off + rdlen;
  switch (type) {
    case 1:
      return rdlen === 4 ? addressData(msg, off, false) : { kind: "malformed", reason: "A RDATA is not 4 bytes" };
    case 28:
      return rdlen === 16 ? addressData(msg, off, true) : { kind: "malformed", reason: "AAAA RDATA is not 16 bytes" };
    case 2:
    case 5:
    case 12:
    case 39: {
      const r = nameSlot(msg, off, base, msgEnd, true);
      if (r < 0 || nameEnd > end) return nameMalformed(r);
      if (r === EMPTY_SLOT) return { kind: "name", name: "" };
      return nameData[r] ??= Object.freeze({ kind: "name", name: nameText[2 * r] });
    }
    case 15: {
      if (rdlen < 3) return { kind: "malformed", reason: "MX RDATA too short" };
      const r = nameSlot(msg, off + 2, base, msgEnd, true);
      if (r < 0 || nameEnd > end) return nameMalformed(r);
      return { kind: "mx", preference: (msg[off] << 8) | msg[off + 1], name: nameText[2 * r] };
    }
    case 16:
    case 99:
      return sharedRData(msg, type, off, end);
    case 33: {
      if (rdlen < 7) return { kind: "malformed", reason: "SRV RDATA too short" };
      const r = nameSlot(msg, off + 6, base, msgEnd, true);
      if (r < 0 || nameEnd > end) return nameMalformed(r);
      return {
        kind: "srv",
        priority: (msg[off] << 8) | msg[off + 1],
        weight: (msg[off + 2] << 8) | msg[off + 3],
        port: (msg[off + 4] << 8) | msg[off + 5],
        target: nameText[2 * r],
      };
    }
    case 6: {
      const m = nameSlot(msg, off, base, msgEnd, true);
      if (m < 0) return nameMalformed(m);
      const mname = nameText[2 * m];
      const r = nameSlot(msg, nameEnd, base, msgEnd, true);
      if (r < 0) return nameMalformed(r);
      const p = nameEnd;
      if (p + 20 > end) return { kind: "malformed", reason: "SOA RDATA too short" };
      const dv = new DataView(msg.buffer, msg.byteOffset + p, 20);
      return {
        kind: "soa",
        mname,
        rname: nameText[2 * r],
        serial: dv.getUint32(0),
        refresh: dv.getUint32(4),
        retry: dv.getUint32(8),
        expire: dv.getUint32(12),
        minimum: dv.getUint32(16),
      };
    }
    case 25:
    case 48: {
      if (rdlen < 4) return { kind: "malformed", reason: "KEY RDATA too short" };
      return {
        kind: "key",
        flags: (msg[off] << 8) | msg[off + 1],
        protocol: msg[off + 2],
        algorithm: msg[off + 3],
        keyLength: rdlen - 4,
      };
    }
    default:
      return sharedRData(msg, type, off, end);
  }
}

/** Why a name in RDATA is refused: `slot` is {@link nameSlot}'s answer. */
function nameMalformed(slot: number): RData {
  return { kind: "malformed", reason: slot < 0 ? nameError : "name past RDATA" };
}

/** Whether every EDNS option (code, length, data) fits inside the OPT RDATA. */
function ednsOptionsFit(msg: Uint8Array, off: number, end: number): boolean {
  let p = off;
  while (p < end) {
    if (p + 4 > end) return false;
    p += 4 + ((msg[p + 2] << 8) | msg[p + 3]);
  }
  return p === end;
}

const NO_QUESTIONS: Question[] = Object.freeze([]) as unknown as Question[];
const NO_RECORDS: ResourceRecord[] = Object.freeze([]) as unknown as ResourceRecord[];
const records: ResourceRecord[] = [];

/** Why {@link decodeDns} refused a message outright. */
export let dnsError = "";

function emptyMessage(): DnsMessage {
  return {
    id: 0,
    qr: false,
    opcode: 0,
    aa: false,
    tc: false,
    rd: false,
    ra: false,
    z: 0,
    rcode: 0,
    questions: NO_QUESTIONS,
    answers: NO_RECORDS,
    authorities: NO_RECORDS,
    additionals: NO_RECORDS,
    edns: null,
    counts: [0, 0, 0, 0],
    size: 0,
    malformed: null,
  };
}

function emptyEdns(): Edns {
  return { udpPayloadSize: 0, extendedRcode: 0, version: 0, dnssecOk: false, optionsLength: 0 };
}

/**
 * One message object decoded into again and again, for a caller that
 * copies out what it keeps before the next decode: the header, questions,
 * counts and EDNS objects are overwritten each time (record lists are new
 * each time, so a caller may keep those).
 */
export class ReusableMessage {
  readonly message: DnsMessage = emptyMessage();
  readonly #questions: Question[] = [];
  readonly edns: Edns = emptyEdns();
  /** The question list of a message with one question (nearly all): always the same list. */
  readonly oneQuestion: Question[] = [this.question(0)];

  /** The i-th question object. */
  question(i: number): Question {
    let q = this.#questions[i];
    if (q === undefined) this.#questions[i] = q = { name: "", key: "", type: 0, class: 0, ref: 0 };
    return q;
  }
}

/**
 * Decode the DNS message in `buf[start..end)`. Returns null when not even
 * the header and first question can be read (not DNS, or broken beyond
 * use); {@link dnsError} says why. A message that breaks later is returned
 * with `malformed` set.
 *
 * With `allSections` false, authority and additional records are checked
 * (names followed, lengths bounded, EDNS read) but not kept: what pairing
 * into transactions needs, at a fraction of the cost. Section counts and
 * malformed reports are the same either way. With `reuse`, the message is
 * decoded into its objects instead of new ones.
 */
export function decodeDns(
  buf: Uint8Array,
  start = 0,
  end = buf.length,
  allSections = true,
  reuse?: ReusableMessage,
): DnsMessage | null {
  const msg = buf;
  const size = end - start;
  if (size < 12) {
    dnsError = "DNS message shorter than its 12-byte header";
    return null;
  }
  const flags = (msg[start + 2] << 8) | msg[start + 3];
  const qd = (msg[start + 4] << 8) | msg[start + 5];
  const an = (msg[start + 6] << 8) | msg[start + 7];
  const ns = (msg[start + 8] << 8) | msg[start + 9];
  const ar = (msg[start + 10] << 8) | msg[start + 11];
  const m = reuse === undefined ? emptyMessage() : reuse.message;
  m.id = (msg[start] << 8) | msg[start + 1];
  m.qr = (flags & 0x8000) !== 0;
  m.opcode = (flags >> 11) & 0xf;
  m.aa = (flags & 0x0400) !== 0;
  m.tc = (flags & 0x0200) !== 0;
  m.rd = (flags & 0x0100) !== 0;
  m.ra = (flags & 0x0080) !== 0;
  m.z = (flags >> 4) & 0x7;
  m.rcode = flags & 0xf;
  // Empty sections share one frozen array: most messages leave two or three empty.
  m.questions = NO_QUESTIONS;
  m.answers = NO_RECORDS;
  m.authorities = NO_RECORDS;
  m.additionals = NO_RECORDS;
  m.edns = null;
  const counts = m.counts;
  counts[0] = qd;
  counts[1] = an;
  counts[2] = ns;
  counts[3] = ar;
  m.size = size;
  m.malformed = null;
  let off = start + 12;
  for (let i = 0; i < qd; i++) {
    if (i >= MAX_RECORDS_PER_SECTION) {
      m.malformed = "too many questions";
      return m;
    }
    const r = nameSlot(msg, off, start, end, true);
    if (r < 0) {
      m.malformed = `question name: ${nameError}`;
      return m;
    }
    const p = nameEnd;
    if (p + 4 > end) {
      m.malformed = "question runs past the message";
      return m;
    }
    const q = reuse === undefined ? { name: "", key: "", type: 0, class: 0, ref: 0 } : reuse.question(i);
    q.name = nameText[2 * r];
    q.key = nameText[2 * r + 1];
    q.ref = r === EMPTY_SLOT ? 0 : nameRef[r];
    q.type = (msg[p] << 8) | msg[p + 1];
    q.class = (msg[p + 2] << 8) | msg[p + 3];
    if (reuse !== undefined && qd === 1) m.questions = reuse.oneQuestion;
    else {
      if (i === 0) m.questions = [];
      m.questions.push(q);
    }
    off = p + 4;
  }
  const q0 = m.questions.length > 0 ? m.questions[0] : null;
  for (let s = 0; s < 3; s++) {
    const count = s === 0 ? an : s === 1 ? ns : ar;
    const keep = s === 0 || allSections;
    // Records gather in one scratch list and leave as an exact-size copy.
    const list = records;
    let kept = 0;
    let bad: string | null = null;
    for (let i = 0; i < count; i++) {
      if (i >= MAX_RECORDS_PER_SECTION) {
        bad = "too many records";
        break;
      }
      // Most owner names point at the first question (offset 12): reuse it.
      let owner: string;
      let p: number;
      if (q0 !== null && off + 1 < end && msg[off] === 0xc0 && msg[off + 1] === 12) {
        owner = q0.name;
        p = off + 2;
      } else {
        const r = nameSlot(msg, off, start, end, keep);
        if (r < 0) {
          bad = `record name: ${nameError}`;
          break;
        }
        owner = nameText[2 * r];
        p = nameEnd;
      }
      if (p + 10 > end) {
        bad = "record header runs past the message";
        break;
      }
      const type = (msg[p] << 8) | msg[p + 1];
      const klass = (msg[p + 2] << 8) | msg[p + 3];
      const ttl = word(msg, p + 4) >>> 0;
      const rdlen = (msg[p + 8] << 8) | msg[p + 9];
      const rd = p + 10;
      if (rd + rdlen > end) {
        bad = "RDATA runs past the message";
        break;
      }
      if (type === 41 && m.edns === null) {
        const e = m.edns = reuse === undefined ? emptyEdns() : reuse.edns;
        e.udpPayloadSize = klass;
        e.extendedRcode = ttl >>> 24;
        e.version = (ttl >>> 16) & 0xff;
        e.dnssecOk = (ttl & 0x8000) !== 0;
        e.optionsLength = rdlen;
        m.rcode = ((ttl >>> 24) << 4) | (flags & 0xf);
      }
      if (keep) {
        list[kept++] = {
          name: owner,
          type,
          class: klass,
          ttl,
          rdlength: rdlen,
          data: type === 41
            ? { kind: "raw", bytes: copyBytes(msg, rd, rd + rdlen) }
            : decodeRData(msg, type, rd, rdlen, start, end),
        };
      }
      // A broken OPT record is kept (it was seen) and ends the message.
      if (type === 41 && !ednsOptionsFit(msg, rd, rd + rdlen)) {
        bad = "EDNS option runs past its OPT record";
        break;
      }
      off = rd + rdlen;
    }
    if (keep && count > 0) {
      // One or two records (the usual case) need no copying builtin.
      const out = kept === 1 ? [list[0]] : kept === 2 ? [list[0], list[1]] : list.slice(0, kept);
      if (s === 0) m.answers = out;
      else if (s === 1) m.authorities = out;
      else m.additionals = out;
    }
    if (bad !== null) {
      m.malformed = bad;
      return m;
    }
  }
  return m;
}
