/**
 * IPv4 and IPv6 addresses as text, remembered by value in bounded tables
 * that each decoder owns: captures repeat a few addresses millions of times.
 *
 * @module
 */

import type { RData } from "../types.ts";

/** The big-endian 32-bit word at `o`, as a signed integer. */
export function word(b: Uint8Array, o: number): number {
  return (b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3];
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
    return `::ffff:${b[o + 12]}.${b[o + 13]}.${b[o + 14]}.${b[o + 15]}`;
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

/** An IPv4 or IPv6 address in text (dotted, or RFC 4291 with `::` and a dotted tail) as its 4 or 16 bytes; null when it is none. */
export function addressBytes(text: string): Uint8Array | null {
  const v4 = (s: string): number[] | null => {
    const parts = s.split(".");
    if (parts.length !== 4 || parts.some((p) => !/^[0-9]{1,3}$/.test(p) || Number(p) > 255)) return null;
    return parts.map(Number);
  };
  if (!text.includes(":")) {
    const q = v4(text);
    return q === null ? null : Uint8Array.from(q);
  }
  let s = text.toLowerCase();
  // A dotted IPv4 tail (::ffff:192.0.2.1) becomes the last two groups.
  const tail = s.lastIndexOf(":");
  if (s.includes(".", tail)) {
    const q = v4(s.slice(tail + 1));
    if (q === null) return null;
    s = `${s.slice(0, tail + 1)}${((q[0] << 8) | q[1]).toString(16)}:${((q[2] << 8) | q[3]).toString(16)}`;
  }
  const halves = s.split("::");
  if (halves.length > 2) return null;
  const groups = (h: string) => h === "" ? [] : h.split(":");
  const head = groups(halves[0]), rest = halves.length === 2 ? groups(halves[1]) : [];
  const n = head.length + rest.length;
  if (halves.length === 2 ? n > 7 : n !== 8) return null;
  const all = [...head, ...new Array<string>(8 - n).fill("0"), ...rest];
  const bytes = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    if (!/^[0-9a-f]{1,4}$/.test(all[i])) return null;
    const g = parseInt(all[i], 16);
    bytes[2 * i] = g >> 8;
    bytes[2 * i + 1] = g & 0xff;
  }
  return bytes;
}

/**
 * An address typed by a user (config, command line) as the decoders write
 * it: IPv4 dotted without leading zeros, IPv6 as RFC 5952 does (`2001:DB8:0::1`
 * → `2001:db8::1`); null when it is not an address.
 */
export function canonicalAddress(text: string): string | null {
  const b = addressBytes(text);
  return b === null ? null : b.length === 4 ? b.join(".") : ipv6(b, 0);
}

const V4_BITS = 14;
const V6_BITS = 12;

/**
 * Addresses by value (direct-mapped, bounded). A slot keeps the text and,
 * once an answer needs one, a shared (frozen) address record.
 */
export class AddressTable {
  readonly #v4Keys = new Int32Array(1 << V4_BITS);
  readonly #v4Text: (string | undefined)[] = new Array(1 << V4_BITS).fill(undefined);
  readonly #v4Data: (RData | undefined)[] = new Array(1 << V4_BITS).fill(undefined);
  readonly #v6Keys = new Int32Array(4 << V6_BITS);
  readonly #v6Text: (string | undefined)[] = new Array(1 << V6_BITS).fill(undefined);
  readonly #v6Data: (RData | undefined)[] = new Array(1 << V6_BITS).fill(undefined);

  /** The slot holding the IPv4 address in the four bytes at `o`. */
  #v4Slot(b: Uint8Array, o: number): number {
    const k = word(b, o);
    const slot = Math.imul(k, 0x9e3779b1) >>> (32 - V4_BITS);
    const text = this.#v4Text;
    if (text[slot] === undefined || this.#v4Keys[slot] !== k) {
      text[slot] = `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`;
      this.#v4Keys[slot] = k;
      this.#v4Data[slot] = undefined;
    }
    return slot;
  }

  /** The IPv4 address in the four bytes at `o`, dotted. */
  v4(b: Uint8Array, o: number): string {
    return this.#v4Text[this.#v4Slot(b, o)]!;
  }

  /** The slot holding the IPv6 address in the sixteen bytes at `o`. */
  #v6Slot(b: Uint8Array, o: number): number {
    const w0 = word(b, o), w1 = word(b, o + 4), w2 = word(b, o + 8), w3 = word(b, o + 12);
    const h = Math.imul(
      w0 ^ Math.imul(w1, 0x85ebca6b) ^ Math.imul(w2, 0xc2b2ae35) ^ Math.imul(w3, 0x27d4eb2f),
      0x9e3779b1,
    );
    const slot = h >>> (32 - V6_BITS);
    const k = slot * 4;
    const keys = this.#v6Keys;
    if (
      this.#v6Text[slot] === undefined || keys[k] !== w0 || keys[k + 1] !== w1 || keys[k + 2] !== w2 ||
      keys[k + 3] !== w3
    ) {
      this.#v6Text[slot] = ipv6(b, o);
      keys[k] = w0;
      keys[k + 1] = w1;
      keys[k + 2] = w2;
      keys[k + 3] = w3;
      this.#v6Data[slot] = undefined;
    }
    return slot;
  }

  /** The IPv6 address in the sixteen bytes at `o`, as RFC 5952 writes it. */
  v6(b: Uint8Array, o: number): string {
    return this.#v6Text[this.#v6Slot(b, o)]!;
  }

  /** The shared answer record of the address at `o` (IPv6 when `v6`, else IPv4). */
  data(b: Uint8Array, o: number, v6: boolean): RData {
    if (v6) {
      const slot = this.#v6Slot(b, o);
      return this.#v6Data[slot] ??= Object.freeze({ kind: "address", address: this.#v6Text[slot]! });
    }
    const slot = this.#v4Slot(b, o);
    return this.#v4Data[slot] ??= Object.freeze({ kind: "address", address: this.#v4Text[slot]! });
  }
}
