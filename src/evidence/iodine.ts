/**
 * iodine's framing (its protocol 00000502, doc/proto_00000502.txt in its
 * source): the tunnel carries IP packets, each compressed with zlib and cut
 * into fragments. Upstream, a data query is `<user hex><3 base32 header
 * chars: seq, fragment, last><CMC><payload>` in the session's codec
 * (iodine's own base32, base64, base64u or base128 alphabets); downstream,
 * every answer's data begins with a 2-byte header (seq, fragment, last),
 * raw in NULL answers and prefixed by its codec's letter in TXT and names.
 * Decoded here back to the IP packets, and from them the TCP and UDP
 * payloads that crossed the tunnel: what left.
 *
 * @module
 */

import { inflateSync } from "node:zlib";
import { concat, type Decoded, latin1, radix } from "./codec.ts";

const ALPHA = "abcdefghijklmnopqrstuvwxyz";
const B32 = radix(`${ALPHA}012345`, 5, true);
const B64 = radix(`${ALPHA}${ALPHA.toUpperCase()}-0123456789+`, 6, false);
const B64U = radix(`${ALPHA}${ALPHA.toUpperCase()}-0123456789_`, 6, false);
const B128 = radix(
  `${ALPHA}${ALPHA.toUpperCase()}0123456789${
    String.fromCharCode(...Array.from({ length: 0xfd - 0xbc + 1 }, (_, i) => 0xbc + i))
  }`,
  7,
  false,
);
/** The upstream codecs by the bits-per-character number a switch (`s`) query names. */
const UP_CODECS: Record<number, { name: string; decode: (s: string) => Uint8Array | null }> = {
  5: { name: "iodine base32", decode: B32 },
  6: { name: "iodine base64", decode: B64 },
  26: { name: "iodine base64u", decode: B64U },
  7: { name: "iodine base128", decode: B128 },
};
/** Downstream codecs by the letter that starts TXT data (t s u v r) or a name (h i j k). */
const DOWN_CODECS: Record<string, (s: string) => Uint8Array | null> = {
  t: B32,
  s: B64,
  u: B64U,
  v: B128,
  r: latin1,
  h: B32,
  i: B64,
  j: B64U,
  k: B128,
};

const b32value = (c: string) => `${ALPHA}012345`.indexOf(c.toLowerCase());

/** Largest IP packet inflated (iodine's MTU is at most a few kilobytes). */
const MAX_PACKET = 1 << 16;

/**
 * Fragments in, whole zlib-compressed packets out, inflated. A repeated
 * (seq, fragment) is a retransmission, and so is a whole packet equal to
 * the last one of its sequence number (seq counts to 8: a resent query
 * comes back within that).
 */
class Reassembler {
  #parts: Uint8Array[] = [];
  #key = "";
  #next = 0;
  readonly #lastOfSeq = new Map<number, string>();
  packets: Uint8Array[] = [];
  broken = 0;

  add(seq: number, frag: number, last: boolean, data: Uint8Array): void {
    const key = `${seq}:${frag}`;
    if (key === this.#key) return;
    this.#key = key;
    if (frag === 0) {
      this.#parts = [];
      this.#next = 0;
    } else if (frag !== this.#next) {
      // A fragment missing: the packet is lost (iodine resends a whole packet it was not acked).
      this.#parts = [];
      this.#next = -1;
      return;
    }
    this.#parts.push(data);
    this.#next = frag + 1;
    if (!last) return;
    const whole = concat(this.#parts);
    const text = String.fromCharCode(...whole.subarray(0, 4096));
    if (this.#lastOfSeq.get(seq) !== text) {
      this.#lastOfSeq.set(seq, text);
      try {
        this.packets.push(new Uint8Array(inflateSync(whole, { maxOutputLength: MAX_PACKET })));
      } catch {
        this.broken++;
      }
    }
    this.#parts = [];
    this.#next = -1;
  }
}

/** The TCP and UDP payloads of IP packets, in order, a TCP segment seen again (same flow and sequence) once. */
function tunnelPayload(packets: Uint8Array[]): { bytes: Uint8Array; segments: number } {
  const seen = new Set<string>();
  const out: Uint8Array[] = [];
  for (const packet of packets) {
    // A tun device's packet information (flags, then the ethertype) before the packet, as iodine passes it on Linux.
    const pi = packet.length > 4 && packet[0] === 0 && packet[1] === 0 &&
      ((packet[2] === 0x08 && packet[3] === 0) || (packet[2] === 0x86 && packet[3] === 0xdd));
    const p = pi ? packet.subarray(4) : packet;
    let proto: number, off: number, src: string, dst: string;
    if (p.length >= 20 && p[0] >> 4 === 4) {
      proto = p[9];
      off = (p[0] & 15) * 4;
      src = p.subarray(12, 16).join(".");
      dst = p.subarray(16, 20).join(".");
    } else if (p.length >= 40 && p[0] >> 4 === 6) {
      proto = p[6];
      off = 40;
      src = Array.from(p.subarray(8, 24)).join(":");
      dst = Array.from(p.subarray(24, 40)).join(":");
    } else continue;
    const v = new DataView(p.buffer, p.byteOffset, p.byteLength);
    if (proto === 6 && p.length >= off + 20) {
      const body = off + (p[off + 12] >> 4) * 4;
      if (body >= p.length) continue;
      const key = `${src}:${v.getUint16(off)}>${dst}:${v.getUint16(off + 2)}@${v.getUint32(off + 4)}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push(p.subarray(body));
    } else if (proto === 17 && p.length > off + 8) {
      out.push(p.subarray(off + 8));
    }
  }
  return { bytes: concat(out), segments: out.length };
}

function decoded(
  r: Reassembler,
  encoding: string,
  items: number,
  fragments: number,
): Decoded {
  const { bytes, segments } = tunnelPayload(r.packets);
  return {
    encoding,
    framing: "iodine",
    bytes,
    decodedShare: items === 0 ? 0 : fragments / items,
    items,
    note: `${r.packets.length} IP packets in the tunnel${
      r.broken > 0 ? ` (${r.broken} did not inflate)` : ""
    }; their ${segments} TCP/UDP payloads joined`,
  };
}

/**
 * iodine's upstream: `names` are the data under the zone (labels joined),
 * in query order. Null unless they look like an iodine session (a version
 * or login query, or most names data queries) and their fragments make at
 * least one packet that inflates: base32 names of another tool can look
 * like iodine's data queries, never like its zlib streams.
 */
export function iodineUpstream(names: string[]): Decoded | null {
  const data = names.filter((n) => /^[0-9a-f][a-z0-5]{3}[a-z0-9]/i.test(n));
  const handshake = names.some((n) => /^[vl][a-z0-5]{8,}/i.test(n));
  if (data.length === 0 || (!handshake && data.length < 0.5 * names.length)) return null;
  // The codec: the last switch (`s<user><codec>`) query that names one, else what the names' characters say.
  const switched = names.filter((n) => /^s[a-z0-5]{2}/i.test(n)).map((n) => b32value(n[2])).filter((v) =>
    v in UP_CODECS
  );
  const joined = data.join("");
  const codec = switched.length > 0
    ? UP_CODECS[switched[switched.length - 1]]
    : /[\xbc-\xfd]/.test(joined)
    ? UP_CODECS[7]
    : /_/.test(joined)
    ? UP_CODECS[26]
    : /[A-Z+]/.test(joined)
    ? UP_CODECS[6]
    : UP_CODECS[5];
  const r = new Reassembler();
  let fragments = 0;
  for (const n of data) {
    const c1 = b32value(n[1]), c2 = b32value(n[2]), c3 = b32value(n[3]);
    const payload = codec.decode(n.slice(5));
    if (payload === null) continue;
    fragments++;
    r.add((c1 >> 2) & 7, ((c1 & 3) << 2) | ((c2 >> 3) & 3), (c3 & 1) === 1, payload);
  }
  return r.packets.length === 0 ? null : decoded(r, codec.name, data.length, fragments);
}

/**
 * iodine's downstream: each answer's data (NULL raw; TXT and host names
 * after their codec letter), 2-byte header first. `answers` are in order:
 * `{ raw }` for NULL data, `{ text }` for TXT, `{ names }` for a response's
 * host names (CNAME, or MX in order of preference).
 */
export function iodineDownstream(answers: ({ raw: Uint8Array } | { text: string } | { names: string[] })[]): Decoded {
  const r = new Reassembler();
  let fragments = 0;
  const prefixed = (text: string) => {
    const codec = DOWN_CODECS[text[0]?.toLowerCase() ?? ""];
    return codec === undefined ? null : codec(text.slice(1));
  };
  for (const a of answers) {
    let b: Uint8Array | null;
    if ("raw" in a) b = a.raw;
    else if ("text" in a) b = prefixed(a.text);
    else {
      // Each host name: its codec's letter, the data with dots, then a rotating two-letter top-level label.
      const parts = a.names.map((n) => prefixed(n.replace(/\.$/, "").split(".").slice(0, -1).join("")));
      b = parts.some((p) => p === null) ? null : concat(parts as Uint8Array[]);
    }
    if (b === null || b.length <= 2) continue;
    fragments++;
    r.add((b[1] >> 5) & 7, (b[1] >> 1) & 15, (b[1] & 1) === 1, b.subarray(2));
  }
  return decoded(r, "iodine", answers.length, fragments);
}
