/**
 * RDATA by record type (RFC 1035, 3596, 2782, 2535), and the answer table:
 * TXT and raw answers remembered by value, so a repeated answer is decoded
 * once and found again by identity.
 *
 * @module
 */

import type { RData } from "../types.ts";
import type { AddressTable } from "./addresses.ts";
import { EMPTY_SLOT, type NameTable } from "./names.ts";
import { copyBytes, readCharacterStrings } from "./strings.ts";
import { keepLeadingWords, sameLeadingWords } from "./words.ts";

const RD_BITS = 14;
const RD_SHARED_MAX = 1024;
const RD_RING = 1 << 20;

/** TXT or raw RDATA decoded afresh. */
function freshRData(msg: Uint8Array, type: number, off: number, end: number): RData {
  if (type !== 16 && type !== 99) return { kind: "raw", bytes: copyBytes(msg, off, end) };
  const s = readCharacterStrings(msg, off, end);
  return s === null ? { kind: "malformed", reason: "TXT string runs past RDATA" } : { kind: "txt", strings: s };
}

/**
 * Decodes RDATA for one decoder, through its name and address tables and
 * its own answer table.
 *
 * The answer table keeps TXT and raw (NULL, private, unknown) answers by
 * value, in a bounded table like the names' (16 384 slots in sets of four,
 * oldest replaced first): a capture repeats its answers (a resolver's
 * cache, a tunnel's idle polls), and from its second sight on a repeated
 * one is the same frozen record data, decoded once, which the analysis
 * finds again by identity instead of by its characters. An answer seen once
 * is not kept (only its words are). A slot's RDATA is kept as little-endian
 * words (the last one ending at its end) in a ring shared by all slots, and
 * a hit is taken only when its words are still there and all match. Longer
 * RDATA is decoded afresh each time.
 */
export class RDataDecoder {
  /** KEY and DNSKEY answers as their raw bytes (for carving), not as key metadata. */
  rawKeys = false;
  readonly #names: NameTable;
  readonly #addresses: AddressTable;
  /** Per slot, side by side: hash, and type << 16 | RDATA length. */
  readonly #keys = new Int32Array(2 << RD_BITS);
  /** Per slot: where its words start, counted in words written to the ring since the start. */
  readonly #start = new Float64Array(1 << RD_BITS);
  readonly #data: (RData | undefined)[] = new Array(1 << RD_BITS).fill(undefined);
  readonly #turn = new Uint8Array(1 << (RD_BITS - 2));
  readonly #ring = new Int32Array(RD_RING);
  readonly #ringBytes = new DataView(this.#ring.buffer);
  /** Words written to the ring so far (a slot's words are intact while fewer than RD_RING came after them). */
  #written = 0;

  /** A decoder that finds names in `names` and formats addresses through `addresses`. */
  constructor(names: NameTable, addresses: AddressTable) {
    this.#names = names;
    this.#addresses = addresses;
  }

  /** Start the answer table over, empty. */
  forgetAnswers(): void {
    this.#keys.fill(0);
    this.#data.fill(undefined);
    this.#turn.fill(0);
    this.#written = 0;
  }

  /** TXT (16, 99) or raw RDATA `msg[off..end)` of record type `type`: shared when short enough. */
  #shared(msg: Uint8Array, type: number, off: number, end: number): RData {
    const n = end - off;
    if (n > RD_SHARED_MAX) return freshRData(msg, type, off, end);
    const v = this.#names.view.of(msg);
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
    const keys = this.#keys;
    const ring = this.#ring;
    const set = (h >>> (32 - RD_BITS)) & ~3;
    for (let slot = set; slot < set + 4; slot++) {
      if (keys[2 * slot] !== h || keys[2 * slot + 1] !== tag) continue;
      const start = this.#start[slot];
      if (this.#written - start > RD_RING) continue;
      // A slot's words never wrap around the ring's end (see below).
      const at = start % RD_RING;
      if (sameLeadingWords(this.#ringBytes, at << 2, v, off, last) && ring[at + ((last - off + 3) >> 2)] === tail) {
        // Seen before: shared from now on (an answer seen once stays young garbage, as a tunnel's are).
        let data = this.#data[slot];
        if (data === undefined) data = this.#data[slot] = Object.freeze(freshRData(msg, type, off, end));
        return data;
      }
    }
    const data = freshRData(msg, type, off, end);
    if (data.kind === "malformed") return data;
    const slot = set + (this.#turn[set >> 2]++ & 3);
    keys[2 * slot] = h;
    keys[2 * slot + 1] = tag;
    let at = this.#written % RD_RING;
    // Words that would run past the ring's end start over at its beginning.
    if (at + nw > RD_RING) {
      this.#written += RD_RING - at;
      at = 0;
    }
    this.#start[slot] = this.#written;
    this.#written += nw;
    ring[keepLeadingWords(ring, at, v, off, last)] = tail;
    this.#data[slot] = undefined;
    return data;
  }

  /** Why a name in RDATA is refused: `slot` is {@link NameTable.slot}'s answer. */
  #nameMalformed(slot: number): RData {
    return { kind: "malformed", reason: slot < 0 ? this.#names.error : "name past RDATA" };
  }

  /** RDATA at `off` of a record in the message `msg[base..msgEnd)`. */
  decode(msg: Uint8Array, type: number, off: number, rdlen: number, base: number, msgEnd: number): RData {
    const end = off + rdlen;
    const names = this.#names;
    const text = names.text;
    switch (type) {
      case 1:
        return rdlen === 4
          ? this.#addresses.data(msg, off, false)
          : { kind: "malformed", reason: "A RDATA is not 4 bytes" };
      case 28:
        return rdlen === 16
          ? this.#addresses.data(msg, off, true)
          : { kind: "malformed", reason: "AAAA RDATA is not 16 bytes" };
      case 2:
      case 5:
      case 12:
      case 39: {
        const r = names.slot(msg, off, base, msgEnd, true);
        if (r < 0 || names.end > end) return this.#nameMalformed(r);
        if (r === EMPTY_SLOT) return { kind: "name", name: "" };
        return names.data[r] ??= Object.freeze({ kind: "name", name: text[2 * r] });
      }
      case 15: {
        if (rdlen < 3) return { kind: "malformed", reason: "MX RDATA too short" };
        const r = names.slot(msg, off + 2, base, msgEnd, true);
        if (r < 0 || names.end > end) return this.#nameMalformed(r);
        return { kind: "mx", preference: (msg[off] << 8) | msg[off + 1], name: text[2 * r] };
      }
      case 16:
      case 99:
        return this.#shared(msg, type, off, end);
      case 33: {
        if (rdlen < 7) return { kind: "malformed", reason: "SRV RDATA too short" };
        const r = names.slot(msg, off + 6, base, msgEnd, true);
        if (r < 0 || names.end > end) return this.#nameMalformed(r);
        return {
          kind: "srv",
          priority: (msg[off] << 8) | msg[off + 1],
          weight: (msg[off + 2] << 8) | msg[off + 3],
          port: (msg[off + 4] << 8) | msg[off + 5],
          target: text[2 * r],
        };
      }
      case 6: {
        const m = names.slot(msg, off, base, msgEnd, true);
        if (m < 0) return this.#nameMalformed(m);
        const mname = text[2 * m];
        const r = names.slot(msg, names.end, base, msgEnd, true);
        if (r < 0) return this.#nameMalformed(r);
        const p = names.end;
        if (p + 20 > end) return { kind: "malformed", reason: "SOA RDATA too short" };
        const dv = new DataView(msg.buffer, msg.byteOffset + p, 20);
        return {
          kind: "soa",
          mname,
          rname: text[2 * r],
          serial: dv.getUint32(0),
          refresh: dv.getUint32(4),
          retry: dv.getUint32(8),
          expire: dv.getUint32(12),
          minimum: dv.getUint32(16),
        };
      }
      case 25:
      case 48: {
        // Carving reads what a tunnel put there (dns2tcp's KEY answers hold its reply text, not a key).
        if (this.rawKeys) return { kind: "raw", bytes: msg.slice(off, end) };
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
        return this.#shared(msg, type, off, end);
    }
  }
}
