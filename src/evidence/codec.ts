/**
 * The primitives every decoder of carving shares: decoding by a symbol
 * table (base32, base64 and the tools' own alphabets), byte helpers, and
 * what one direction of a channel decoded to.
 *
 * @module
 */

/** Bytes from text in one encoding, or null when the text is not in it. */
export type Decoder = (s: string) => Uint8Array | null;

/** Decoding by a table of `bits`-bit symbols (base32, base64 and its URL form), padding ignored. */
export function radix(alphabet: string, bits: number, fold: boolean): Decoder {
  const map = new Int16Array(256).fill(-1);
  for (let i = 0; i < alphabet.length; i++) {
    map[alphabet.charCodeAt(i)] = i;
    if (fold) map[alphabet.toUpperCase().charCodeAt(i)] = i;
  }
  return (s) => {
    const t = s.replace(/=+$/, "");
    const out = new Uint8Array(Math.floor((t.length * bits) / 8));
    let acc = 0, n = 0, o = 0;
    for (let i = 0; i < t.length; i++) {
      const v = map[t.charCodeAt(i) & 0xff];
      if (v < 0 || t.charCodeAt(i) > 0xff) return null;
      acc = ((acc << bits) | v) & 0xffff;
      n += bits;
      if (n >= 8) {
        n -= 8;
        out[o++] = (acc >> n) & 0xff;
      }
    }
    return out;
  };
}

/** A byte string (each char one byte, as the decoder gives names and TXT strings) as bytes. */
export function latin1(s: string): Uint8Array {
  return Uint8Array.from(s, (c) => c.charCodeAt(0) & 0xff);
}

/** Bytes joined in order. */
export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** One direction of a channel decoded. */
export interface Decoded {
  /** The encoding found (`hex`, `base32`, …, `raw` for answer bytes). */
  encoding: string;
  /** The framing recognized (`dnscat2`, `DNSExfiltrator`, or `none`: the data in query order). */
  framing: string;
  /** The bytes, in order, duplicates and retransmissions removed. */
  bytes: Uint8Array;
  /** Share of the items (names, answers) that decoded. */
  decodedShare: number;
  /** Items looked at. */
  items: number;
  /** What the framing told (a file name, an expected count), or null. */
  note: string | null;
  /** Each session's bytes when the framing tells sessions apart (dns2tcp's, dnscat2's session ids), in first-seen order. */
  sessions?: { id: string; bytes: Uint8Array }[];
}

/** Bytes kept by session: `add` in order, `sessions` out, each session's pieces joined. */
export class BySession {
  readonly #parts = new Map<string, Uint8Array[]>();

  add(id: string, bytes: Uint8Array): void {
    const list = this.#parts.get(id);
    if (list === undefined) this.#parts.set(id, [bytes]);
    else list.push(bytes);
  }

  get sessions(): { id: string; bytes: Uint8Array }[] {
    return [...this.#parts].map(([id, parts]) => ({ id, bytes: concat(parts) }));
  }
}
