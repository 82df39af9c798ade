/**
 * A file's header at the start of a query name's data: one name is
 * evidence of data leaving, whatever the channel scores. The headers are
 * long enough not to happen by chance, and each is looked up as the fixed
 * text it takes in hex, base32, base64 and base64url, so a new name costs
 * two lookups. Also the RFC 4648 alphabets carving decodes with.
 *
 * @module
 */

/** RFC 4648 base32, lower case (as names are grouped). */
export const B32 = "abcdefghijklmnopqrstuvwxyz234567";
/** RFC 4648 base64. */
export const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
/** RFC 4648 base64url. */
export const B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

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

/** The first four characters of `s` as one number (-1 when `s` is shorter or one of them is not ASCII). */
function lead4(s: string): number {
  if (s.length < 4) return -1;
  const a = s.charCodeAt(0), b = s.charCodeAt(1), c = s.charCodeAt(2), d = s.charCodeAt(3);
  return (a | b | c | d) > 0x7f ? -1 : (a << 21) | (b << 14) | (c << 7) | d;
}

/**
 * Each header's text at the start of a name, in hex and base32 (lower case:
 * as names are grouped) and base64/base64url (case kept), by its first four
 * characters (as one number: a new name costs two lookups and no string).
 */
const HEADER_TEXT = (() => {
  const lower = new Map<number, { type: string; prefix: string }[]>();
  const cased = new Map<number, { type: string; prefix: string }[]>();
  const put = (m: typeof lower, type: string, prefix: string) => {
    if (prefix.length < 4) return;
    const k = lead4(prefix);
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
 * in hex or base32 on `lower` (the name's data as grouped) or in
 * base64/base64url on `original` (the name as sent, case kept: case matters
 * there; its first `lower.length` characters are the same data). Null for
 * most names.
 */
export function headerInName(lower: string, original: string): string | null {
  const a = HEADER_TEXT.lower.get(lead4(lower));
  const b = HEADER_TEXT.cased.get(lead4(original));
  if (a === undefined && b === undefined) return null;
  const l = lower.replaceAll(".", ""), o = original.slice(0, lower.length).replaceAll(".", "");
  return a?.find((h) => l.startsWith(h.prefix))?.type ?? b?.find((h) => o.startsWith(h.prefix))?.type ?? null;
}
