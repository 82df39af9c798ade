/**
 * What a channel carried: the data in query names and answers decoded back
 * to bytes (encodings and the framings of known tools), and what those
 * bytes look like (file types by their magic, text, entropy). Pure
 * functions over names and answer data; `carve.ts` feeds them.
 *
 * @module
 */

import { iodineUpstream } from "./iodine.ts";
import { B32, B64, B64URL } from "../analysis/file_header.ts";
import { BySession, concat, type Decoded, type Decoder, radix } from "./codec.ts";

import { dns2tcpUpstream } from "./dns2tcp.ts";

function hex(s: string): Uint8Array | null {
  if (s.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(s)) return null;
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** The encodings names and text answers are tried in, most specific first. */
const ENCODINGS: readonly { name: string; decode: Decoder }[] = [
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
