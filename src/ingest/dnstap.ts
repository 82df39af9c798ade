/**
 * dnstap: a resolver's own log of the DNS messages it received and sent
 * (BIND, Unbound, Knot Resolver, PowerDNS, CoreDNS, dnsdist write it), in
 * Frame Streams framing, as `fstrm_capture` and the resolvers write files
 * and as a resolver sends it to a socket.
 *
 * Frame Streams (farsightsec/fstrm): a frame is a 32-bit big-endian length
 * and that many bytes; a length of 0 escapes a control frame (its length,
 * then its type: ACCEPT 1, START 2, STOP 3, READY 4, FINISH 5, then fields,
 * of which field 1 is a content type). A file is START, data frames, STOP.
 * Each data frame is one `dnstap.Dnstap` protobuf (dnstap/dnstap.pb),
 * decoded with @bufbuild/protobuf's wire reader.
 *
 * Which messages count: a client's own exchange with the server that logs
 * it. CLIENT_QUERY and CLIENT_RESPONSE at a recursive resolver, with the
 * real client's address (behind the resolver, no copy to tell apart);
 * AUTH_QUERY and AUTH_RESPONSE at an authoritative server, whose clients
 * are resolvers. The resolver's own upstream traffic (RESOLVER_*,
 * FORWARDER_*) and the rest (STUB_*, TOOL_*, UPDATE_*) are counted by type
 * and left out: they are not clients asking.
 *
 * @module
 */

import { BinaryReader, WireType } from "npm:@bufbuild/protobuf@2.17.0/wire";
import { type ByteStream, u32be } from "./bytes.ts";
import { ipv6 } from "./dns/addresses.ts";
import type { MessageMeta } from "./packet.ts";
import type { FileStats } from "./types.ts";

/** The content type of dnstap over Frame Streams. */
export const DNSTAP_CONTENT_TYPE = "protobuf:dnstap.Dnstap";

/** Frame Streams control frame types. */
export const FSTRM = { ACCEPT: 1, START: 2, STOP: 3, READY: 4, FINISH: 5 } as const;
/** The control field that carries a content type. */
const FIELD_CONTENT_TYPE = 1;
/** The largest control frame read (fstrm's own limit is 512 bytes). */
const MAX_CONTROL = 512;
/** The largest data frame read: a dnstap message holds at most two DNS messages of 64 KB. */
const MAX_DNSTAP_FRAME = 262144;

/** dnstap's message types, by number (Message.Type). */
const DNSTAP_TYPES = [
  "",
  "AUTH_QUERY",
  "AUTH_RESPONSE",
  "RESOLVER_QUERY",
  "RESOLVER_RESPONSE",
  "CLIENT_QUERY",
  "CLIENT_RESPONSE",
  "FORWARDER_QUERY",
  "FORWARDER_RESPONSE",
  "STUB_QUERY",
  "STUB_RESPONSE",
  "TOOL_QUERY",
  "TOOL_RESPONSE",
  "UPDATE_QUERY",
  "UPDATE_RESPONSE",
] as const;

/**
 * One dnstap message, as much of it as Plumbum reads. Its byte fields are
 * spans of {@link DnstapMessage.buf} (`[start, end)`, start -1 when the
 * field is absent): nothing is copied. One object serves every message a
 * {@link DnstapDecoder} decodes (valid until the next).
 */
export interface DnstapMessage {
  /** Message.Type (1–14; see {@link DNSTAP_TYPES}). */
  type: number;
  /** SocketFamily: 1 IPv4, 2 IPv6 (0: not said). */
  family: number;
  /** SocketProtocol: 1 UDP, 2 TCP, 3 DoT, 4 DoH, 5–6 DNSCrypt, 7 DoQ (0: not said). */
  protocol: number;
  /** The buffer the spans are in. */
  buf: Uint8Array;
  queryAddress: number;
  queryAddressEnd: number;
  responseAddress: number;
  responseAddressEnd: number;
  queryPort: number;
  responsePort: number;
  /** Seconds since the epoch (with the nanoseconds), or null. */
  queryTime: number | null;
  responseTime: number | null;
  queryMessage: number;
  queryMessageEnd: number;
  responseMessage: number;
  responseMessageEnd: number;
}

/** Whether `head` starts a Frame Streams file: an escape, a control frame's length, START. */
export function isFrameStream(head: Uint8Array): boolean {
  if (head.length < 12) return false;
  const len = u32be(head, 4);
  return u32be(head, 0) === 0 && len >= 4 && len <= MAX_CONTROL && u32be(head, 8) === FSTRM.START;
}

/** A control frame's type and content types. */
export interface ControlFrame {
  type: number;
  contentTypes: string[];
}

/**
 * Decode a control frame's body (its type, then fields); null when it is broken.
 *
 * @internal Exported for its tests.
 */
export function decodeControl(b: Uint8Array): ControlFrame | null {
  if (b.length < 4) return null;
  const frame: ControlFrame = { type: u32be(b, 0), contentTypes: [] };
  let at = 4;
  while (at < b.length) {
    if (b.length - at < 8) return null;
    const field = u32be(b, at), len = u32be(b, at + 4);
    at += 8;
    if (len > b.length - at) return null;
    if (field === FIELD_CONTENT_TYPE) frame.contentTypes.push(new TextDecoder().decode(b.subarray(at, at + len)));
    at += len;
  }
  return frame;
}

/** A control frame of `type` with `contentType`, as written on the wire (escape and length included). */
export function encodeControl(type: number, contentType?: string): Uint8Array {
  const ct = contentType === undefined ? new Uint8Array(0) : new TextEncoder().encode(contentType);
  const body = 4 + (contentType === undefined ? 0 : 8 + ct.length);
  const out = new Uint8Array(8 + body);
  const v = new DataView(out.buffer);
  v.setUint32(4, body);
  v.setUint32(8, type);
  if (contentType !== undefined) {
    v.setUint32(12, FIELD_CONTENT_TYPE);
    v.setUint32(16, ct.length);
    out.set(ct, 20);
  }
  return out;
}

/**
 * Decodes dnstap protobufs with @bufbuild/protobuf's wire reader, one
 * reader per buffer (a frame stream's window) moved from frame to frame,
 * and the addresses made text once for as long as they repeat.
 */
class DnstapDecoder {
  #reader: BinaryReader | null = null;
  /** The buffer {@link #reader} reads (its reads are bounded by the buffer; each field here by its frame). */
  #readerBuf: Uint8Array | null = null;
  readonly #m: DnstapMessage = {
    type: 0,
    family: 0,
    protocol: 0,
    buf: new Uint8Array(0),
    queryAddress: -1,
    queryAddressEnd: -1,
    responseAddress: -1,
    responseAddressEnd: -1,
    queryPort: 0,
    responsePort: 0,
    queryTime: null,
    responseTime: null,
    queryMessage: -1,
    queryMessageEnd: -1,
    responseMessage: -1,
    responseMessageEnd: -1,
  };
  /** IPv4 addresses' text by their 32 bits (bounded). */
  readonly #v4 = new Map<number, string>();

  /** Decode the protobuf `buf[start..end)`; a string says why it cannot be read. */
  decode(buf: Uint8Array, start: number, end: number): DnstapMessage | string {
    try {
      let r = this.#reader;
      if (r === null || this.#readerBuf !== buf) {
        r = this.#reader = new BinaryReader(buf);
        this.#readerBuf = buf;
      }
      r.pos = start;
      let type = 0, found = false;
      while (r.pos < end) {
        const [field, wire] = r.tag();
        if (field === 15 && wire === WireType.Varint) type = r.int32();
        else if (field === 14 && wire === WireType.LengthDelimited) {
          const len = r.uint32(), at = r.pos;
          if (len > end - at) throw new Error("message runs past the frame");
          this.#message(r, buf, at, at + len);
          found = true;
        } else r.skip(wire);
      }
      if (r.pos > end) throw new Error("a field runs past the frame");
      if (type !== 1) return `dnstap frame of type ${type}, not MESSAGE`;
      if (!found) return "dnstap frame without a message";
      const m = this.#m;
      if (!(m.type >= 1 && m.type < DNSTAP_TYPES.length)) return `dnstap message of unknown type ${m.type}`;
      return m;
    } catch (e) {
      return `dnstap frame is not a valid protobuf (${(e as Error).message})`;
    }
  }

  #message(r: BinaryReader, buf: Uint8Array, start: number, end: number): void {
    const m = this.#m;
    m.buf = buf;
    m.type =
      m.family =
      m.protocol =
      m.queryPort =
      m.responsePort =
        0;
    m.queryAddress =
      m.responseAddress =
      m.queryMessage =
      m.responseMessage =
        -1;
    m.queryTime = m.responseTime = null;
    let qsec: number | null = null, qnsec = 0, rsec: number | null = null, rnsec = 0;
    r.pos = start;
    while (r.pos < end) {
      const [field, wire] = r.tag();
      if (wire === WireType.LengthDelimited && (field === 4 || field === 5 || field === 10 || field === 14)) {
        const len = r.uint32(), at = r.pos;
        if (len > end - at) throw new Error("a field runs past the message");
        r.pos = at + len;
        if (field === 4) [m.queryAddress, m.queryAddressEnd] = [at, at + len];
        else if (field === 5) [m.responseAddress, m.responseAddressEnd] = [at, at + len];
        else if (field === 10) [m.queryMessage, m.queryMessageEnd] = [at, at + len];
        else [m.responseMessage, m.responseMessageEnd] = [at, at + len];
        continue;
      }
      const varint = wire === WireType.Varint;
      if (field === 1 && varint) m.type = r.int32();
      else if (field === 2 && varint) m.family = r.int32();
      else if (field === 3 && varint) m.protocol = r.int32();
      else if (field === 6 && varint) m.queryPort = r.uint32();
      else if (field === 7 && varint) m.responsePort = r.uint32();
      else if (field === 8 && varint) qsec = Number(r.uint64());
      else if (field === 9 && wire === WireType.Bit32) qnsec = r.fixed32();
      else if (field === 12 && varint) rsec = Number(r.uint64());
      else if (field === 13 && wire === WireType.Bit32) rnsec = r.fixed32();
      else r.skip(wire);
    }
    if (r.pos > end) throw new Error("a field runs past the message");
    if (qsec !== null) m.queryTime = qsec + Math.min(qnsec, 999_999_999) / 1e9;
    if (rsec !== null) m.responseTime = rsec + Math.min(rnsec, 999_999_999) / 1e9;
  }

  /** The address in `buf[start..end)` as text ("" when absent or of another length than 4 or 16 bytes). */
  address(buf: Uint8Array, start: number, end: number): string {
    if (start < 0) return "";
    if (end - start === 16) return ipv6(buf, start);
    if (end - start !== 4) return "";
    const key = u32be(buf, start);
    let text = this.#v4.get(key);
    if (text === undefined) {
      text = `${buf[start]}.${buf[start + 1]}.${buf[start + 2]}.${buf[start + 3]}`;
      if (this.#v4.size >= 65536) this.#v4.clear();
      this.#v4.set(key, text);
    }
    return text;
  }
}

/** What reads a Frame Streams file's (or connection's) frames. */
export interface FrameStreamSink {
  /** One data frame: `buf[start..end)` (valid during the call), ending at file offset `offset`. */
  data(buf: Uint8Array, start: number, end: number, offset: number): void;
  /** Something broken at file offset `offset`; `fatal` when reading stops there. */
  problem(reason: string, offset: number, fatal: boolean): void;
  /** A control frame, once read (a connection answers READY with ACCEPT and STOP with FINISH). */
  control?(c: ControlFrame): void | Promise<void>;
  /** Awaited before reading more: a slower consumer holds the writer back. */
  pause?(): void | Promise<void>;
}

/**
 * Read a Frame Streams stream of dnstap from `s`: a file (START, data
 * frames, STOP) or a connection (READY and START first); until STOP or the
 * end.
 */
export async function readFrameStream(s: ByteStream, sink: FrameStreamSink): Promise<void> {
  let started = false;
  while (true) {
    if (s.end - s.start < 4 && sink.pause !== undefined) await sink.pause();
    if (s.end - s.start < 4 && !(await s.fill(4))) {
      if (s.available > 0) sink.problem("last frame's length is cut short", s.offset, false);
      return;
    }
    const at = s.offset;
    const len = u32be(s.buf, s.start);
    if (len === 0) {
      if (!(await s.fill(8))) {
        sink.problem("control frame's length is cut short", at, false);
        return;
      }
      const clen = u32be(s.buf, s.start + 4);
      if (clen > MAX_CONTROL || !(await s.fill(8 + clen))) {
        sink.problem(`control frame of ${clen} bytes is too long or cut short`, at, true);
        return;
      }
      const control = decodeControl(s.buf.subarray(s.start + 8, s.start + 8 + clen));
      s.start += 8 + clen;
      if (control === null) {
        sink.problem("control frame is broken", at, true);
        return;
      }
      // READY may offer several content types; START names the one that follows.
      const types = control.contentTypes;
      if ((control.type === FSTRM.START || control.type === FSTRM.READY) && types.length > 0) {
        if (control.type === FSTRM.START ? types[0] !== DNSTAP_CONTENT_TYPE : !types.includes(DNSTAP_CONTENT_TYPE)) {
          sink.problem(`Frame Streams of content type "${types[0]}", not dnstap`, at, true);
          return;
        }
      }
      await sink.control?.(control);
      if (control.type === FSTRM.START) started = true;
      else if (control.type === FSTRM.STOP) return;
      continue;
    }
    if (!started) {
      sink.problem("data frame before the START control frame", at, true);
      return;
    }
    if (len > MAX_DNSTAP_FRAME) {
      sink.problem(`frame claims ${len} bytes (over ${MAX_DNSTAP_FRAME})`, at, true);
      return;
    }
    if (!(await s.fill(4 + len))) {
      sink.problem("last frame is cut short", at, false);
      return;
    }
    sink.data(s.buf, s.start + 4, s.start + 4 + len, s.offset + 4 + len);
    s.start += 4 + len;
  }
}

/** Where the DNS messages of dnstap frames go (a {@link FrameDecoder}). */
export interface DnsMessageSink {
  /** One DNS message `data[start..end)` with where it came from (see {@link FrameDecoder.message}). */
  message(data: Uint8Array, start: number, end: number, meta: MessageMeta, offset?: number): void;
  /** Something broken at `offset`. */
  problem(reason: string, offset: number): void;
  /** What went through. */
  readonly stats: FileStats;
}

/**
 * Fill `meta` for the client's exchange in `m` and return the DNS message's
 * span (`[start, end]` of `m.buf`); null for the resolver's own traffic.
 */
function clientMessage(m: DnstapMessage, meta: MessageMeta, d: DnstapDecoder): [number, number] | null {
  const query = m.type === 5 || m.type === 1;
  if (!query && m.type !== 6 && m.type !== 2) return null;
  const start = query ? m.queryMessage : m.responseMessage;
  if (start < 0) return null;
  const client = d.address(m.buf, m.queryAddress, m.queryAddressEnd) || unspecified(m.family);
  const server = d.address(m.buf, m.responseAddress, m.responseAddressEnd) || unspecified(m.family);
  meta.ts = (query ? m.queryTime : m.responseTime ?? m.queryTime) ?? 0;
  meta.src = query ? client : server;
  meta.dst = query ? server : client;
  meta.srcPort = query ? m.queryPort : m.responsePort;
  meta.dstPort = query ? m.responsePort : m.queryPort;
  // DNS over TCP, TLS, HTTPS, DNSCrypt-TCP and QUIC: a stream transport.
  meta.transport = m.protocol === 1 || m.protocol === 5 || m.protocol === 0 ? "udp" : "tcp";
  meta.service = "dns";
  return [start, query ? m.queryMessageEnd : m.responseMessageEnd];
}

function unspecified(family: number): string {
  return family === 2 ? "::" : "0.0.0.0";
}

/** A message's fields, reused for every message (valid during the call). */
function newMeta(): MessageMeta {
  return { ts: 0, src: "", dst: "", srcPort: 0, dstPort: 0, transport: "udp", service: "dns" };
}

/**
 * Turns dnstap data frames into DNS messages for a sink: a client's message
 * is decoded, the resolver's own and the rest are counted by type in
 * `stats.dnstap` and skipped, a broken frame is counted as malformed.
 */
export class DnstapFeed {
  readonly #decoder = new DnstapDecoder();
  readonly #meta = newMeta();

  constructor(readonly sink: DnsMessageSink) {}

  /** One data frame, `buf[start..end)`, ending at file offset `offset`. */
  frame(buf: Uint8Array, start: number, end: number, offset: number): void {
    const stats = this.sink.stats;
    const m = this.#decoder.decode(buf, start, end);
    if (typeof m === "string") {
      stats.packets++;
      this.sink.problem(m, offset);
      return;
    }
    const types = stats.dnstap ??= {};
    const name = DNSTAP_TYPES[m.type];
    types[name] = (types[name] ?? 0) + 1;
    const span = clientMessage(m, this.#meta, this.#decoder);
    if (span === null) {
      stats.packets++;
      stats.skipped++;
      return;
    }
    this.sink.message(buf, span[0], span[1], this.#meta, offset);
  }
}
