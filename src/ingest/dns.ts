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

/** Result of {@link readName}: the name and the offset just past it. */
export interface NameResult {
  name: string;
  key: string;
  next: number;
}

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

/**
 * Read a possibly compressed domain name at `off` in `msg` (the whole DNS
 * message). Returns null when the name is broken; {@link nameError} says why.
 */
export function readName(msg: Uint8Array, off: number): NameResult | null {
  const end = msg.length;
  let pos = off;
  let next = -1;
  let jumps = 0;
  let n = 0;
  let wire = 0;
  let flags = 0;
  let h = 0x811c9dc5;
  while (true) {
    if (pos >= end) {
      nameError = "name runs past the message";
      return null;
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
        return null;
      }
      if (++jumps > MAX_POINTER_JUMPS) {
        nameError = "compression pointer loop";
        return null;
      }
      if (next < 0) next = pos + 2;
      const target = ((len & 0x3f) << 8) | msg[pos + 1];
      if (target >= end) {
        nameError = "compression pointer past the message";
        return null;
      }
      pos = target;
      continue;
    }
    if (kind !== 0) {
      nameError = "unsupported label type";
      return null;
    }
    wire += len + 1;
    if (wire + 1 > MAX_NAME_LENGTH) {
      nameError = "name longer than 255 bytes";
      return null;
    }
    if (pos + 1 + len > end) {
      nameError = "label runs past the message";
      return null;
    }
    if (n > 0) {
      scratch[n++] = 0x2e;
      h = Math.imul(h ^ 0x2e, 0x01000193);
    }
    const from = n;
    let cls = 0;
    for (let i = pos + 1, stop = pos + 1 + len; i < stop; i++) {
      const c = msg[i];
      scratch[n++] = c;
      h = Math.imul(h ^ c, 0x01000193);
      cls |= byteClass[c];
    }
    if (cls & ESCAPE) {
      // Escape "." and "\" inside a label so labels stay unambiguous.
      n = from;
      for (let i = pos + 1, stop = pos + 1 + len; i < stop; i++) {
        const c = msg[i];
        if (c === 0x2e || c === 0x5c) scratch[n++] = 0x5c;
        scratch[n++] = c;
      }
    }
    flags |= cls;
    pos += 1 + len;
  }
  if (n === 0) return { name: "", key: "", next };
  // A name seen moments ago (a response repeats its query's question) is
  // reused when its bytes match exactly, instead of building new strings.
  // (The hash was taken while copying; escaping changes the bytes, so redo it then.)
  if (flags & ESCAPE) {
    h = 0x811c9dc5;
    for (let i = 0; i < n; i++) h = Math.imul(h ^ scratch[i], 0x01000193);
  }
  h ^= n;
  const hit = recent.get(h);
  if (hit !== undefined && hit.name.length === n) {
    const nm = hit.name;
    let same = true;
    for (let i = 0; i < n; i++) {
      if (nm.charCodeAt(i) !== scratch[i]) {
        same = false;
        break;
      }
    }
    if (same) return { name: nm, key: hit.key, next };
  }
  const r = buildName(n, flags, next);
  if (recent.size >= RECENT_NAMES) recent.clear();
  recent.set(h, r);
  return r;
}

/** Recently built names by hash of their bytes (bounded; cleared when full). */
const recent = new Map<number, NameResult>();
const RECENT_NAMES = 8192;

function buildName(n: number, flags: number, next: number): NameResult {
  const name = scratchString(n, flags);
  if ((flags & UPPER) === 0) return { name, key: name, next };
  if ((flags & HIGH) === 0) return { name, key: name.toLowerCase(), next };
  for (let i = 0; i < n; i++) {
    const c = scratch[i];
    if (c >= 0x41 && c <= 0x5a) scratch[i] = c | 0x20;
  }
  return { name, key: scratchString(n, flags), next };
}

function ipv4(b: Uint8Array, o: number): string {
  return `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`;
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
    return `::ffff:${ipv4(b, o + 12)}`;
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

/** Convert bytes to a byte string (one char per byte). */
export function bytesToByteString(b: Uint8Array, start: number, end: number): string {
  if (end - start <= 0) return "";
  if (end - start < 4096) {
    return String.fromCharCode.apply(null, b.subarray(start, end) as unknown as number[]);
  }
  let s = "";
  for (let i = start; i < end; i += 4096) {
    s += String.fromCharCode.apply(null, b.subarray(i, Math.min(end, i + 4096)) as unknown as number[]);
  }
  return s;
}

function decodeRData(msg: Uint8Array, type: number, off: number, rdlen: number): RData {
  const end = off + rdlen;
  switch (type) {
    case 1:
      return rdlen === 4
        ? { kind: "address", address: ipv4(msg, off) }
        : { kind: "malformed", reason: "A RDATA is not 4 bytes" };
    case 28:
      return rdlen === 16
        ? { kind: "address", address: ipv6(msg, off) }
        : { kind: "malformed", reason: "AAAA RDATA is not 16 bytes" };
    case 2:
    case 5:
    case 12:
    case 39: {
      const r = readName(msg, off);
      if (r === null || r.next > end) return { kind: "malformed", reason: r === null ? nameError : "name past RDATA" };
      return { kind: "name", name: r.name };
    }
    case 15: {
      if (rdlen < 3) return { kind: "malformed", reason: "MX RDATA too short" };
      const r = readName(msg, off + 2);
      if (r === null || r.next > end) return { kind: "malformed", reason: r === null ? nameError : "name past RDATA" };
      return { kind: "mx", preference: (msg[off] << 8) | msg[off + 1], name: r.name };
    }
    case 16:
    case 99: {
      const s = readCharacterStrings(msg, off, end);
      return s === null ? { kind: "malformed", reason: "TXT string runs past RDATA" } : { kind: "txt", strings: s };
    }
    case 33: {
      if (rdlen < 7) return { kind: "malformed", reason: "SRV RDATA too short" };
      const r = readName(msg, off + 6);
      if (r === null || r.next > end) return { kind: "malformed", reason: r === null ? nameError : "name past RDATA" };
      return {
        kind: "srv",
        priority: (msg[off] << 8) | msg[off + 1],
        weight: (msg[off + 2] << 8) | msg[off + 3],
        port: (msg[off + 4] << 8) | msg[off + 5],
        target: r.name,
      };
    }
    case 6: {
      const m = readName(msg, off);
      if (m === null) return { kind: "malformed", reason: nameError };
      const r = readName(msg, m.next);
      if (r === null) return { kind: "malformed", reason: nameError };
      if (r.next + 20 > end) return { kind: "malformed", reason: "SOA RDATA too short" };
      const dv = new DataView(msg.buffer, msg.byteOffset + r.next, 20);
      return {
        kind: "soa",
        mname: m.name,
        rname: r.name,
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
      return { kind: "raw", bytes: msg.slice(off, end) };
  }
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

/** Why {@link decodeDns} refused a message outright. */
export let dnsError = "";

/**
 * Decode a DNS message. Returns null when not even the header and first
 * question can be read (not DNS, or broken beyond use); {@link dnsError}
 * says why. A message that breaks later is returned with `malformed` set.
 */
export function decodeDns(msg: Uint8Array): DnsMessage | null {
  const size = msg.length;
  if (size < 12) {
    dnsError = "DNS message shorter than its 12-byte header";
    return null;
  }
  const flags = (msg[2] << 8) | msg[3];
  const qd = (msg[4] << 8) | msg[5];
  const an = (msg[6] << 8) | msg[7];
  const ns = (msg[8] << 8) | msg[9];
  const ar = (msg[10] << 8) | msg[11];
  const m: DnsMessage = {
    id: (msg[0] << 8) | msg[1],
    qr: (flags & 0x8000) !== 0,
    opcode: (flags >> 11) & 0xf,
    aa: (flags & 0x0400) !== 0,
    tc: (flags & 0x0200) !== 0,
    rd: (flags & 0x0100) !== 0,
    ra: (flags & 0x0080) !== 0,
    z: (flags >> 4) & 0x7,
    rcode: flags & 0xf,
    // Empty sections share one frozen array: most messages leave two or three empty.
    questions: qd > 0 ? [] : NO_QUESTIONS,
    answers: an > 0 ? [] : NO_RECORDS,
    authorities: ns > 0 ? [] : NO_RECORDS,
    additionals: ar > 0 ? [] : NO_RECORDS,
    edns: null,
    counts: [qd, an, ns, ar],
    size,
    malformed: null,
  };
  let off = 12;
  for (let i = 0; i < qd; i++) {
    if (i >= MAX_RECORDS_PER_SECTION) {
      m.malformed = "too many questions";
      return m;
    }
    const r = readName(msg, off);
    if (r === null) {
      m.malformed = `question name: ${nameError}`;
      return m;
    }
    if (r.next + 4 > size) {
      m.malformed = "question runs past the message";
      return m;
    }
    const q: Question = {
      name: r.name,
      key: r.key,
      type: (msg[r.next] << 8) | msg[r.next + 1],
      class: (msg[r.next + 2] << 8) | msg[r.next + 3],
    };
    m.questions.push(q);
    off = r.next + 4;
  }
  const q0 = m.questions.length > 0 ? m.questions[0] : null;
  for (let s = 0; s < 3; s++) {
    const count = s === 0 ? an : s === 1 ? ns : ar;
    const list = s === 0 ? m.answers : s === 1 ? m.authorities : m.additionals;
    for (let i = 0; i < count; i++) {
      if (i >= MAX_RECORDS_PER_SECTION) {
        m.malformed = "too many records";
        return m;
      }
      // Most owner names point at the first question (offset 12): reuse it.
      const r = msg[off] === 0xc0 && msg[off + 1] === 12 && q0 !== null && off + 1 < size
        ? { name: q0.name, key: q0.key, next: off + 2 }
        : readName(msg, off);
      if (r === null) {
        m.malformed = `record name: ${nameError}`;
        return m;
      }
      const p = r.next;
      if (p + 10 > size) {
        m.malformed = "record header runs past the message";
        return m;
      }
      const type = (msg[p] << 8) | msg[p + 1];
      const klass = (msg[p + 2] << 8) | msg[p + 3];
      const ttl = ((msg[p + 4] << 24) | (msg[p + 5] << 16) | (msg[p + 6] << 8) | msg[p + 7]) >>> 0;
      const rdlen = (msg[p + 8] << 8) | msg[p + 9];
      const rd = p + 10;
      if (rd + rdlen > size) {
        m.malformed = "RDATA runs past the message";
        return m;
      }
      if (type === 41) {
        const edns: Edns = {
          udpPayloadSize: klass,
          extendedRcode: ttl >>> 24,
          version: (ttl >>> 16) & 0xff,
          dnssecOk: (ttl & 0x8000) !== 0,
          optionsLength: rdlen,
        };
        if (m.edns === null) {
          m.edns = edns;
          m.rcode = (edns.extendedRcode << 4) | (flags & 0xf);
        }
        list.push({
          name: r.name,
          type,
          class: klass,
          ttl,
          rdlength: rdlen,
          data: { kind: "raw", bytes: msg.slice(rd, rd + rdlen) },
        });
        if (!ednsOptionsFit(msg, rd, rd + rdlen)) {
          m.malformed = "EDNS option runs past its OPT record";
          return m;
        }
      } else {
        list.push({ name: r.name, type, class: klass, ttl, rdlength: rdlen, data: decodeRData(msg, type, rd, rdlen) });
      }
      off = rd + rdlen;
    }
  }
  return m;
}
