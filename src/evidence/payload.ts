/**
 * What a channel carried: the data in query names and answers decoded back
 * to bytes (encodings and the framings of known tools), and what those
 * bytes look like (file types by their magic, text, entropy). Pure
 * functions over names and answer data; `carve.ts` feeds them.
 *
 * @module
 */

import { iodineUpstream } from "./iodine.ts";
import { BySession, concat, type Decoded, type Decoder, latin1, radix } from "./codec.ts";

import { dns2tcpUpstream } from "./dns2tcp.ts";

const B32 = "abcdefghijklmnopqrstuvwxyz234567";
const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

function hex(s: string): Uint8Array | null {
  if (s.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(s)) return null;
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** The encodings names and text answers are tried in, most specific first. */
export const ENCODINGS: readonly { name: string; decode: Decoder }[] = [
  { name: "hex", decode: hex },
  { name: "base32", decode: radix(B32, 5, true) },
  { name: "base64url", decode: radix(B64URL, 6, false) },
  { name: "base64", decode: radix(B64, 6, false) },
];

/** The encoding that decodes the most of `texts` (ties: the first listed), and how many it decodes. */
export function bestEncoding(texts: string[]): { name: string; decode: Decoder; decoded: number } | null {
  let best: { name: string; decode: Decoder; decoded: number } | null = null;
  for (const e of ENCODINGS) {
    const decoded = texts.filter((t) => t.length > 0 && e.decode(t) !== null).length;
    if (decoded > 0 && (best === null || decoded > best.decoded)) best = { ...e, decoded };
  }
  return best;
}

/**
 * The data a client's distinct query names carried, in first-seen order.
 * `labels` are each name's labels under the channel's zone, joined without
 * dots. Known framings first (DNSExfiltrator's `init.` header and numbered
 * chunks; iodine's fragments of compressed IP packets; dns2tcp's packets
 * by session and sequence; dnscat2's packets, ordered by sequence number),
 * else the best encoding over every name in order.
 */
export function decodeUpstream(parts: string[][]): Decoded {
  const exfil = dnsExfiltrator(parts);
  if (exfil !== null) return exfil;
  const iodine = iodineUpstream(parts.map((p) => p.join("")));
  if (iodine !== null) return iodine;
  const dns2tcp = dns2tcpUpstream(parts);
  if (dns2tcp !== null) return dns2tcp;
  const joined = parts.map((p) => (p[0] === "dnscat" ? p.slice(1) : p).join(""));
  const dnscat = dnscat2(joined.map((t) => hex(t)), parts.some((p) => p[0] === "dnscat"));
  if (dnscat !== null) return dnscat;
  const enc = bestEncoding(joined);
  if (enc === null) {
    return {
      encoding: "unknown",
      framing: "none",
      bytes: new Uint8Array(0),
      decodedShare: 0,
      items: parts.length,
      note: null,
    };
  }
  const bytes = concat(joined.map((t) => enc.decode(t)).filter((b): b is Uint8Array => b !== null));
  return {
    encoding: enc.name,
    framing: "none",
    bytes,
    decodedShare: joined.length === 0 ? 0 : enc.decoded / joined.length,
    items: joined.length,
    note: "no known framing: the names' data in query order",
  };
}

/**
 * DNSExfiltrator: `init.<base32 "name|chunks">[.base64|.base32]` then
 * `<n>.<base64url…>` chunks, joined by their numbers.
 */
function dnsExfiltrator(parts: string[][]): Decoded | null {
  const init = parts.find((p) => p[0] === "init" && p.length >= 2);
  if (init === undefined) return null;
  // The header is one label; a label after it names the chunks' encoding.
  const header = radix(B32, 5, true)(init[1]);
  const text = header === null ? "" : new TextDecoder().decode(header);
  const m = /^([^|]{1,255})\|(\d{1,9})$/.exec(text);
  const chunks = new Map<number, string>();
  for (const p of parts) {
    if (p.length >= 2 && /^\d{1,9}$/.test(p[0]) && !chunks.has(Number(p[0]))) {
      chunks.set(Number(p[0]), p.slice(1).join(""));
    }
  }
  if (chunks.size === 0) return null;
  const order = [...chunks.keys()].sort((a, b) => a - b);
  const b64 = radix(B64URL, 6, false);
  // The chunks are one base64url text cut in pieces: joined first, then decoded.
  const bytes = b64(order.map((k) => chunks.get(k)!).join(""));
  const expected = m === null ? null : Number(m[2]);
  return {
    encoding: "base64url",
    framing: "DNSExfiltrator",
    bytes: bytes ?? new Uint8Array(0),
    decodedShare: bytes === null ? 0 : (order.length + 1) / (parts.length || 1),
    items: parts.length,
    note: m === null
      ? "an init. header that did not decode"
      : `file "${m[1]}", ${expected} chunk${expected === 1 ? "" : "s"} announced, ${order.length} seen${
        expected !== null && order.length < expected ? " (incomplete)" : ""
      }; DNSExfiltrator encrypts with RC4 by default`,
  };
}

/**
 * dnscat2's packets (hex): packet id (2 bytes), type (1), session id (2);
 * a MSG (type 1) then holds its sequence and acknowledgement numbers (2
 * each) and data. Data is kept once per (session, sequence), in the order
 * the sequence numbers first appear. Null unless most names are such.
 */
function dnscat2(packets: (Uint8Array | null)[], tagged: boolean): Decoded | null {
  const valid = packets.filter((p): p is Uint8Array => p !== null && p.length >= 5 && p[2] <= 4);
  if (valid.length === 0 || (!tagged && valid.length < 0.8 * packets.length)) return null;
  const seen = new Set<string>();
  const data: Uint8Array[] = [];
  const bySession = new BySession();
  let msgs = 0;
  for (const p of valid) {
    if (p[2] !== 1 || p.length < 9) continue;
    msgs++;
    const session = ((p[3] << 8) | p[4]).toString(16).padStart(4, "0");
    const key = `${session}:${(p[5] << 8) | p[6]}`;
    if (seen.has(key)) continue;
    seen.add(key);
    data.push(p.subarray(9));
    bySession.add(session, p.subarray(9));
  }
  if (msgs === 0 && !tagged) return null;
  return {
    encoding: "hex",
    framing: "dnscat2",
    bytes: concat(data),
    decodedShare: valid.length / (packets.length || 1),
    items: packets.length,
    note: `${msgs} MSG packets, ${seen.size} distinct sequence numbers; dnscat2 encrypts sessions by default`,
    sessions: bySession.sessions,
  };
}

/** File types by their first bytes. */
const MAGIC: readonly { name: string; test: (b: Uint8Array) => boolean }[] = [
  { name: "gzip", test: (b) => b[0] === 0x1f && b[1] === 0x8b },
  { name: "zip", test: (b) => b[0] === 0x50 && b[1] === 0x4b && b[2] === 3 && b[3] === 4 },
  { name: "7z", test: (b) => [0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c].every((x, i) => b[i] === x) },
  { name: "PE (Windows executable)", test: (b) => b[0] === 0x4d && b[1] === 0x5a },
  { name: "ELF", test: (b) => b[0] === 0x7f && b[1] === 0x45 && b[2] === 0x4c && b[3] === 0x46 },
  { name: "PDF", test: (b) => String.fromCharCode(...b.subarray(0, 5)) === "%PDF-" },
  { name: "PNG", test: (b) => b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47 },
  { name: "JPEG", test: (b) => b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff },
  {
    name: "OLE (Office)",
    test: (b) => [0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1].every((x, i) => b[i] === x),
  },
  { name: "SQLite", test: (b) => String.fromCharCode(...b.subarray(0, 16)) === "SQLite format 3\0" },
];

/** File headers long enough not to happen by chance, by their fixed first bytes. */
const HEADERS: readonly { type: string; bytes: number[] }[] = [
  { type: "gzip", bytes: [0x1f, 0x8b, 0x08] },
  { type: "zip", bytes: [0x50, 0x4b, 0x03, 0x04] },
  { type: "7z", bytes: [0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c] },
  { type: "PE (Windows executable)", bytes: [0x4d, 0x5a, 0x90, 0x00] },
  { type: "ELF", bytes: [0x7f, 0x45, 0x4c, 0x46] },
  { type: "PDF", bytes: [0x25, 0x50, 0x44, 0x46, 0x2d] },
  { type: "PNG", bytes: [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a] },
  { type: "JPEG", bytes: [0xff, 0xd8, 0xff] },
  { type: "OLE (Office)", bytes: [0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1] },
  { type: "SQLite", bytes: [...new TextEncoder().encode("SQLite format 3"), 0] },
];

/** The characters of `bytes` in an encoding of `bits` per character that do not depend on what follows. */
function fixedPrefix(bytes: number[], alphabet: string, bits: number): string {
  let out = "", acc = 0, n = 0;
  for (const b of bytes) {
    acc = ((acc << 8) | b) & 0xffff;
    n += 8;
    while (n >= bits) {
      n -= bits;
      out += alphabet[(acc >> n) & ((1 << bits) - 1)];
    }
  }
  return out;
}

/**
 * Each header's text at the start of a name, in hex and base32 (lower case:
 * as names are grouped) and base64/base64url (case kept), by its first four
 * characters: a new name costs two lookups.
 */
const HEADER_TEXT = (() => {
  const lower = new Map<string, { type: string; prefix: string }[]>();
  const cased = new Map<string, { type: string; prefix: string }[]>();
  const put = (m: typeof lower, type: string, prefix: string) => {
    if (prefix.length < 4) return;
    const k = prefix.slice(0, 4);
    m.set(k, [...(m.get(k) ?? []), { type, prefix }]);
  };
  for (const h of HEADERS) {
    put(lower, h.type, h.bytes.map((b) => b.toString(16).padStart(2, "0")).join(""));
    put(lower, h.type, fixedPrefix(h.bytes, B32, 5));
    put(cased, h.type, fixedPrefix(h.bytes, B64, 6));
    put(cased, h.type, fixedPrefix(h.bytes, B64URL, 6));
  }
  return { lower, cased };
})();

/**
 * The file type a name's data begins with — a header long enough not to
 * happen by chance (gzip's 1F 8B 08, zip's PK 03 04, a PE's "MZ" 90 00, …)
 * in hex or base32 on `lower` (the name as grouped) or in base64/base64url
 * on `original` (as sent: case matters there). Null for most names.
 */
export function headerInName(lower: string, original: string): string | null {
  const a = HEADER_TEXT.lower.get(lower.slice(0, 4));
  const b = HEADER_TEXT.cased.get(original.slice(0, 4));
  if (a === undefined && b === undefined) return null;
  const l = lower.replaceAll(".", ""), o = original.replaceAll(".", "");
  return a?.find((h) => l.startsWith(h.prefix))?.type ?? b?.find((h) => o.startsWith(h.prefix))?.type ?? null;
}

/** A gzip member's stored file name (FNAME), or null. */
function gzipName(b: Uint8Array): string | null {
  if (b.length < 10 || (b[3] & 0x08) === 0) return null;
  let o = 10;
  if (b[3] & 0x04) o += 2 + (b[10] | (b[11] << 8));
  const end = b.indexOf(0, o);
  return end < 0 || end - o > 255 ? null : String.fromCharCode(...b.subarray(o, end));
}

/** A zip's first entry name, or null. */
function zipName(b: Uint8Array): string | null {
  if (b.length < 30) return null;
  const n = b[26] | (b[27] << 8);
  return n === 0 || n > 255 || 30 + n > b.length ? null : String.fromCharCode(...b.subarray(30, 30 + n));
}

/** Shannon entropy in bits per byte. */
export function entropy(b: Uint8Array): number {
  if (b.length === 0) return 0;
  const counts = new Array<number>(256).fill(0);
  for (const x of b) counts[x]++;
  let h = 0;
  for (const c of counts) if (c > 0) h -= (c / b.length) * Math.log2(c / b.length);
  return h;
}

/** What bytes look like, in a few words: a file type by its magic (with its stored name), text, or entropy. */
export function looksLike(b: Uint8Array): string {
  if (b.length === 0) return "nothing";
  const magic = MAGIC.find((m) => b.length >= 4 && m.test(b));
  if (magic !== undefined) {
    const name = magic.name === "gzip" ? gzipName(b) : magic.name === "zip" ? zipName(b) : null;
    return name === null ? magic.name : `${magic.name} ${JSON.stringify(name)}`;
  }
  let printable = 0;
  for (const x of b) if ((x >= 0x20 && x < 0x7f) || x === 0x0a || x === 0x0d || x === 0x09) printable++;
  const share = printable / b.length;
  const h = entropy(b);
  if (share >= 0.95) return `text (${Math.round(100 * share)} % printable)`;
  if (b.length < 64) return `${b.length} bytes: too few to tell (${Math.round(100 * share)} % printable)`;
  if (h >= 7.5 || (b.length < 512 && h >= 0.9 * Math.log2(Math.min(256, b.length)))) {
    return `high entropy (${h.toFixed(2)} bits/byte), no known header: encrypted or compressed`;
  }
  return `binary (${Math.round(100 * share)} % printable, ${h.toFixed(2)} bits/byte)`;
}
