/**
 * DNS numbers and their names: record types, response codes, the decoder's
 * bounds, and ASCII case folding for names.
 *
 * @module
 */

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

/** Numbers by mnemonic, upper case (a log's `A`, `NXDOMAIN`). */
const TYPE_NUMBERS = new Map(Object.entries(TYPE_NAMES).map(([n, name]) => [name, Number(n)]));
const RCODE_NUMBERS = new Map(Object.entries(RCODE_NAMES).map(([n, name]) => [name, Number(n)]));

/** A record type as logs write it (`A`, `txt`, RFC 3597's `TYPE65534`), or null. */
export function typeNumber(text: string): number | null {
  const t = text.toUpperCase();
  // Zeek's name for 255 is "*"; resolvers log ANY.
  const n = t === "ANY" ? 255 : TYPE_NUMBERS.get(t);
  if (n !== undefined) return n;
  const m = /^TYPE(\d{1,5})$/.exec(t);
  return m !== null && Number(m[1]) <= 0xffff ? Number(m[1]) : null;
}

/** A response code as logs write it (`NXDOMAIN`, `RCODE23`), or null. */
export function rcodeNumber(text: string): number | null {
  const t = text.toUpperCase();
  const n = RCODE_NUMBERS.get(t);
  if (n !== undefined) return n;
  const m = /^RCODE(\d{1,4})$/.exec(t);
  return m !== null && Number(m[1]) <= 0xfff ? Number(m[1]) : null;
}

// Scratch space for building names: at most 255 wire bytes, each byte may be
