/**
 * Packet decoding, layer by layer in the manner of gopacket: link layer →
 * (VLAN, PPPoE, MPLS) → IPv4/IPv6 (extension headers, fragments) → UDP/TCP
 * (and GRE, GRE-in-UDP, VXLAN, Geneve tunnels) → DNS. Each layer reads its
 * header from the frame in place and passes an offset on; nothing is copied
 * unless fragments or TCP segments must be held.
 *
 * @module
 */

import { u32be } from "./bytes.ts";
import { DnsDecoder, ReusableMessage } from "./dns/mod.ts";
import { FragmentReassembler } from "./ipfrag.ts";
import { TcpReassembler } from "./tcp.ts";
import type { DnsMessage, DnsService, Frame } from "./types.ts";

/** How a link type's header leads to IP: the one table decoding, `validate` and the tests go by. */
const enum Link {
  /** Ethernet II or 802.3 with LLC/SNAP, then VLAN tags. */
  Ether = 1,
  /** IP straight away, the version read from its first byte. */
  Ip,
  Ipv4,
  Ipv6,
  /** FDDI: frame control and two addresses, then 802.2 LLC. */
  Fddi,
  /** Linux cooked capture v1: the protocol at bytes 14-15 of 16. */
  Sll,
  /** Linux cooked capture v2: the protocol at bytes 0-1 of 20. */
  Sll2,
  /** BSD loopback: a 4-byte address family in either byte order. */
  Null,
}

/** Each link type understood (LINKTYPE_* number): its name as tcpdump calls it, and how it leads to IP. */
const LINK_TYPES: Readonly<Record<number, { name: string; link: Link }>> = {
  0: { name: "NULL", link: Link.Null },
  1: { name: "EN10MB", link: Link.Ether },
  10: { name: "FDDI", link: Link.Fddi },
  12: { name: "RAW", link: Link.Ip },
  14: { name: "RAW", link: Link.Ip },
  101: { name: "RAW", link: Link.Ip },
  108: { name: "LOOP", link: Link.Null },
  113: { name: "LINUX_SLL", link: Link.Sll },
  228: { name: "IPV4", link: Link.Ipv4 },
  229: { name: "IPV6", link: Link.Ipv6 },
  276: { name: "LINUX_SLL2", link: Link.Sll2 },
};

/** Link types accepted (others are counted as skipped). */
export const SUPPORTED_LINK_TYPES: readonly number[] = Object.keys(LINK_TYPES).map(Number);

/** The {@link Link} of each link type below 512 (0: not understood), for a lookup per frame. */
const LINK_OF = new Uint8Array(512);
for (const t of SUPPORTED_LINK_TYPES) LINK_OF[t] = LINK_TYPES[t].link;

/** Name of a link type (as tcpdump calls it), or "unsupported". */
export function linkTypeName(t: number): string {
  return LINK_TYPES[t]?.name ?? "unsupported";
}

/**
 * Where a DNS message was seen. The decoder may reuse one object for many
 * messages: read it during the callback, do not keep it.
 */
export interface MessageMeta {
  /** When it was seen (seconds since the epoch). */
  ts: number;
  /** The sender's address. */
  src: string;
  /** The receiver's address. */
  dst: string;
  /** The sender's port. */
  srcPort: number;
  /** The receiver's port. */
  dstPort: number;
  /** How it travelled (DNS over TLS, HTTPS or QUIC count as "tcp": a stream). */
  transport: "udp" | "tcp";
  /** Plain DNS, mDNS or LLMNR. */
  service: DnsService;
}

/** Options of the packet decoder. */
export interface PacketDecoderOptions {
  /** Ports carrying plain DNS (default [53]). 5353 (mDNS) and 5355 (LLMNR) are always decoded. */
  dnsPorts?: number[];
  /**
   * Keep authority and additional records in each message (default true).
   * Pairing into transactions needs only the question and the answers.
   */
  allSections?: boolean;
  /**
   * Decode every message into the same objects (default false): the
   * message is then valid only during `onMessage`, except its record lists.
   */
  reuseMessages?: boolean;
  /**
   * The DNS decoder (and so the name, address and answer tables) to use:
   * pass one to let several inputs of a run share what they repeat. By
   * default each packet decoder has its own.
   */
  dns?: DnsDecoder;
}

const MAX_TUNNEL_DEPTH = 8;
const PORT_NONE = 0, PORT_DNS = 1, PORT_MDNS = 2, PORT_LLMNR = 3;
const SERVICES: DnsService[] = ["dns", "dns", "mdns", "llmnr"];

/**
 * Turns captured frames into DNS messages. Feed frames with
 * {@link PacketDecoder.frame}; messages arrive through `onMessage`.
 *
 * Every layer reads its header in place at an offset into the frame's
 * buffer and hands the next layer an offset and an end: no views, no
 * copies, and address text only for packets that carry DNS.
 */
export class PacketDecoder {
  readonly #ports = new Uint8Array(65536);
  readonly #frags = new FragmentReassembler();
  readonly #tcp = new TcpReassembler();
  readonly #decoder: DnsDecoder;
  readonly #onMessage: (m: DnsMessage, meta: MessageMeta) => void;
  readonly #onMalformed: (reason: string) => void;
  readonly #allSections: boolean;
  readonly #reuse: ReusableMessage | undefined;
  #ts = 0;
  #lastExpire = 0;
  readonly #udpMeta: MessageMeta = {
    ts: 0,
    src: "",
    dst: "",
    srcPort: 0,
    dstPort: 0,
    transport: "udp",
    service: "dns",
  };
  /** True when the current frame yielded DNS (or a DNS fragment/segment). */
  #sawDns = false;
  #truncated = false;
  // Where the innermost IP header's addresses are (read only when DNS turns up).
  #addrBuf: Uint8Array = new Uint8Array(0);
  #srcAt = 0;
  #dstAt = 0;
  #v6 = false;

  constructor(
    onMessage: (m: DnsMessage, meta: MessageMeta) => void,
    onMalformed: (reason: string) => void,
    options: PacketDecoderOptions = {},
  ) {
    this.#onMessage = onMessage;
    this.#onMalformed = onMalformed;
    this.#allSections = options.allSections ?? true;
    this.#reuse = options.reuseMessages ? new ReusableMessage() : undefined;
    this.#decoder = options.dns ?? new DnsDecoder();
    for (const p of options.dnsPorts ?? [53]) this.#ports[p] = PORT_DNS;
    this.#ports[5353] = PORT_MDNS;
    this.#ports[5355] = PORT_LLMNR;
  }

  /**
   * Decode one frame: `f.data[f.start..f.end)`; a frame whose wire length
   * is more than what was captured (snaplen) is decoded as cut short.
   * Returns true when the frame held DNS.
   */
  frame(f: Frame): boolean {
    const ts = f.ts;
    this.#ts = ts;
    this.#sawDns = false;
    this.#truncated = f.origLen > f.end - f.start;
    if (ts - this.#lastExpire > 60) {
      this.#tcp.expire(ts);
      this.#lastExpire = ts;
    }
    this.#link(f.linkType, f.data, f.start, Math.min(f.end, f.data.length), 0);
    return this.#sawDns;
  }

  /**
   * The clock moved to `now` (seconds, capture time) without a packet: TCP
   * flows idle past their limit and fragments waiting past theirs are
   * dropped, as the next packet would have dropped them.
   */
  advance(now: number): void {
    this.#tcp.expire(now);
    this.#lastExpire = now;
    this.#frags.expire(now);
  }

  /** TCP flows and fragmented datagrams held, waiting for more. */
  get held(): { tcpFlows: number; fragments: number } {
    return { tcpFlows: this.#tcp.size, fragments: this.#frags.size };
  }

  #link(linkType: number, d: Uint8Array, off: number, end: number, depth: number): void {
    switch (linkType < 512 ? LINK_OF[linkType] : 0) {
      case Link.Ether:
        return this.#ether(d, off, end, depth);
      case Link.Ip:
        return this.#ipAny(d, off, end, depth);
      case Link.Ipv4:
        return this.#ipv4(d, off, end, depth);
      case Link.Ipv6:
        return this.#ipv6(d, off, end, depth);
      case Link.Fddi:
        return this.#llc(d, off + 13, end, depth);
      case Link.Sll:
        if (end < off + 16) return;
        return this.#ethertype((d[off + 14] << 8) | d[off + 15], d, off + 16, end, depth);
      case Link.Sll2:
        if (end < off + 20) return;
        return this.#ethertype((d[off] << 8) | d[off + 1], d, off + 20, end, depth);
      case Link.Null: {
        if (end < off + 4) return;
        // The family is in the writer's byte order for NULL (0), network order for LOOP (108): accept either.
        const le = d[off] | (d[off + 1] << 8);
        const be = (d[off + 2] << 8) | d[off + 3];
        const fam = le !== 0 ? le : be;
        if (fam === 2) return this.#ipv4(d, off + 4, end, depth);
        if (fam === 24 || fam === 28 || fam === 30) return this.#ipv6(d, off + 4, end, depth);
        return;
      }
    }
  }

  #ether(d: Uint8Array, off: number, end: number, depth: number): void {
    if (end < off + 14) return;
    const type = (d[off + 12] << 8) | d[off + 13];
    // Values up to 1500 are an 802.3 length: an LLC header follows.
    if (type <= 1500) return this.#llc(d, off + 14, end, depth);
    this.#ethertype(type, d, off + 14, end, depth);
  }

  /** 802.2 LLC with a SNAP header carries an ethertype. */
  #llc(d: Uint8Array, off: number, end: number, depth: number): void {
    if (end < off + 8 || d[off] !== 0xaa || d[off + 1] !== 0xaa || d[off + 2] !== 0x03) return;
    this.#ethertype((d[off + 6] << 8) | d[off + 7], d, off + 8, end, depth);
  }

  #ethertype(type: number, d: Uint8Array, off: number, end: number, depth: number): void {
    // VLAN tags (802.1Q, 802.1ad, old QinQ), at most a few deep.
    for (let i = 0; i < 8 && (type === 0x8100 || type === 0x88a8 || type === 0x9100); i++) {
      if (end < off + 4) return;
      type = (d[off + 2] << 8) | d[off + 3];
      off += 4;
    }
    switch (type) {
      case 0x0800:
        return this.#ipv4(d, off, end, depth);
      case 0x86dd:
        return this.#ipv6(d, off, end, depth);
      case 0x8864: // PPPoE session: 6-byte header, then a PPP protocol field
        if (end < off + 8) return;
        return this.#ppp((d[off + 6] << 8) | d[off + 7], d, off + 8, end, depth);
      case 0x8847:
      case 0x8848: {
        // MPLS: pop labels to the bottom of the stack, then guess IP by version.
        for (let i = 0; i < 16; i++) {
          if (end < off + 4) return;
          const bottom = (d[off + 2] & 1) === 1;
          off += 4;
          if (bottom) return this.#ipAny(d, off, end, depth);
        }
        return;
      }
    }
  }

  #ppp(proto: number, d: Uint8Array, off: number, end: number, depth: number): void {
    if (proto === 0x0021) return this.#ipv4(d, off, end, depth);
    if (proto === 0x0057) return this.#ipv6(d, off, end, depth);
  }

  #ipAny(d: Uint8Array, off: number, end: number, depth: number): void {
    if (end <= off) return;
    const v = d[off] >> 4;
    if (v === 4) this.#ipv4(d, off, end, depth);
    else if (v === 6) this.#ipv6(d, off, end, depth);
  }

  #ipv4(d: Uint8Array, off: number, end: number, depth: number): void {
    if (end < off + 20) return;
    const ihl = (d[off] & 0xf) * 4;
    if ((d[off] >> 4) !== 4 || ihl < 20 || end < off + ihl) return;
    const total = (d[off + 2] << 8) | d[off + 3];
    // Trust the IP total length when it is sane: Ethernet padding follows it.
    if (total >= ihl && off + total <= end) end = off + total;
    const proto = d[off + 9];
    this.#addrBuf = d;
    this.#srcAt = off + 12;
    this.#dstAt = off + 16;
    this.#v6 = false;
    const fragField = (d[off + 6] << 8) | d[off + 7];
    const more = (fragField & 0x2000) !== 0;
    const fragOff = (fragField & 0x1fff) * 8;
    if (more || fragOff > 0) {
      if (!this.#maybeDnsTransport(proto, d, off + ihl, end, fragOff)) return;
      const key = `4|${this.#address(this.#srcAt)}|${this.#address(this.#dstAt)}|${
        (d[off + 4] << 8) | d[off + 5]
      }|${proto}`;
      const whole = this.#frags.add(key, this.#ts, fragOff, more, d.subarray(off + ihl, end));
      this.#sawDns = true;
      if (whole !== null) this.#transport(proto, whole, 0, whole.length, depth);
      return;
    }
    this.#transport(proto, d, off + ihl, end, depth);
  }

  #ipv6(d: Uint8Array, off: number, end: number, depth: number): void {
    if (end < off + 40 || (d[off] >> 4) !== 6) return;
    const plen = (d[off + 4] << 8) | d[off + 5];
    if (plen > 0 && off + 40 + plen <= end) end = off + 40 + plen;
    let next = d[off + 6];
    this.#addrBuf = d;
    this.#srcAt = off + 8;
    this.#dstAt = off + 24;
    this.#v6 = true;
    let p = off + 40;
    // Walk extension headers (bounded).
    for (let i = 0; i < 16; i++) {
      if (next === 0 || next === 43 || next === 60 || next === 135 || next === 139 || next === 140) {
        if (end < p + 8) return;
        const nh = d[p];
        p += (d[p + 1] + 1) * 8;
        next = nh;
        continue;
      }
      if (next === 51) { // AH: length in 4-byte units minus 2
        if (end < p + 8) return;
        const nh = d[p];
        p += (d[p + 1] + 2) * 4;
        next = nh;
        continue;
      }
      if (next === 44) { // Fragment header
        if (end < p + 8) return;
        const nh = d[p];
        const fo = ((d[p + 2] << 8) | d[p + 3]) & 0xfff8;
        const more = (d[p + 3] & 1) === 1;
        const ident = u32be(d, p + 4);
        p += 8;
        if (p > end) return;
        if (!this.#maybeDnsTransport(nh, d, p, end, fo)) return;
        this.#sawDns = true;
        const key = `6|${this.#address(this.#srcAt)}|${this.#address(this.#dstAt)}|${ident}`;
        const whole = this.#frags.add(key, this.#ts, fo, more, d.subarray(p, end));
        if (whole === null) return;
        return this.#transport(nh, whole, 0, whole.length, depth);
      }
      break;
    }
    if (p > end) return;
    this.#transport(next, d, p, end, depth);
  }

  /** The address at `at` in the innermost IP header, as text. */
  #address(at: number): string {
    const a = this.#decoder.addresses;
    return this.#v6 ? a.v6(this.#addrBuf, at) : a.v4(this.#addrBuf, at);
  }

  /** Whether a fragment may belong to DNS (or a tunnel) and is worth holding. */
  #maybeDnsTransport(proto: number, d: Uint8Array, off: number, end: number, fragOff: number): boolean {
    if (proto !== 17 && proto !== 6 && proto !== 47 && proto !== 4 && proto !== 41) return false;
    if (fragOff > 0 || end - off < 4 || (proto !== 17 && proto !== 6)) return true;
    const sp = (d[off] << 8) | d[off + 1];
    const dp = (d[off + 2] << 8) | d[off + 3];
    return this.#ports[sp] !== PORT_NONE || this.#ports[dp] !== PORT_NONE || isTunnelPort(dp);
  }

  #transport(proto: number, d: Uint8Array, off: number, end: number, depth: number): void {
    switch (proto) {
      case 17:
        return this.#udp(d, off, end, depth);
      case 6:
        return this.#tcpSeg(d, off, end);
      case 47:
        return this.#gre(d, off, end, depth);
      case 4: // IPv4 in IP
        if (depth < MAX_TUNNEL_DEPTH) this.#ipv4(d, off, end, depth + 1);
        return;
      case 41: // IPv6 in IP
        if (depth < MAX_TUNNEL_DEPTH) this.#ipv6(d, off, end, depth + 1);
        return;
    }
  }

  /**
   * Which service a message between ports `sp` and `dp` speaks: plain DNS
   * when either side is a DNS port (a client whose ephemeral port happens
   * to be 5353 or 5355 still asks unicast DNS, and its answer must be read
   * as the same service to pair), else mDNS or LLMNR by either port.
   */
  #service(sp: number, dp: number): number {
    const s = this.#ports[sp], d = this.#ports[dp];
    return s === PORT_DNS || d === PORT_DNS ? PORT_DNS : d || s;
  }

  #udp(d: Uint8Array, off: number, end: number, depth: number): void {
    if (end - off < 8) return;
    const sp = (d[off] << 8) | d[off + 1];
    const dp = (d[off + 2] << 8) | d[off + 3];
    const ulen = (d[off + 4] << 8) | d[off + 5];
    if (ulen >= 8 && ulen <= end - off) end = off + ulen;
    const kind = this.#service(sp, dp);
    if (kind !== PORT_NONE) {
      this.#sawDns = true;
      // One meta object reused for every UDP message (valid during the callback only).
      const meta = this.#udpMeta;
      meta.ts = this.#ts;
      meta.src = this.#address(this.#srcAt);
      meta.dst = this.#address(this.#dstAt);
      meta.srcPort = sp;
      meta.dstPort = dp;
      meta.service = SERVICES[kind];
      this.#dns(d, off + 8, end, meta);
      return;
    }
    if (depth >= MAX_TUNNEL_DEPTH) return;
    const body = off + 8;
    if (dp === 4789 || dp === 8472) { // VXLAN
      if (end - body >= 8 && (d[body] & 0x08) !== 0) this.#ether(d, body + 8, end, depth + 1);
    } else if (dp === 6081) { // Geneve
      if (end - body < 8) return;
      const optLen = (d[body] & 0x3f) * 4;
      const ptype = (d[body + 2] << 8) | d[body + 3];
      if (ptype === 0x6558) this.#ether(d, body + 8 + optLen, end, depth + 1);
      else this.#ethertype(ptype, d, body + 8 + optLen, end, depth + 1);
    } else if (dp === 4754) { // GRE-in-UDP (RFC 8086)
      this.#gre(d, body, end, depth);
    }
  }

  #gre(d: Uint8Array, off: number, end: number, depth: number): void {
    if (depth >= MAX_TUNNEL_DEPTH || end < off + 4) return;
    const flags = (d[off] << 8) | d[off + 1];
    const proto = (d[off + 2] << 8) | d[off + 3];
    const version = flags & 7;
    let p = off + 4;
    if (flags & 0x8000) p += 4; // checksum + reserved
    if (flags & 0x2000) p += 4; // key (always present in enhanced GRE)
    if (flags & 0x1000) p += 4; // sequence number
    if (version === 1 && (flags & 0x0080)) p += 4; // acknowledgment
    if (p > end) return;
    if (proto === 0x880b) { // PPP
      if (end >= p + 2 && d[p] === 0xff && d[p + 1] === 0x03) p += 2;
      if (end < p + 1) return;
      let pp: number;
      if (d[p] & 1) {
        pp = d[p];
        p += 1;
      } else {
        if (end < p + 2) return;
        pp = (d[p] << 8) | d[p + 1];
        p += 2;
      }
      return this.#ppp(pp, d, p, end, depth + 1);
    }
    if (proto === 0x6558) return this.#ether(d, p, end, depth + 1);
    this.#ethertype(proto, d, p, end, depth + 1);
  }

  #tcpSeg(d: Uint8Array, off: number, end: number): void {
    if (end - off < 20) return;
    const sp = (d[off] << 8) | d[off + 1];
    const dp = (d[off + 2] << 8) | d[off + 3];
    const kind = this.#service(sp, dp);
    if (kind === PORT_NONE) return;
    this.#sawDns = true;
    const seq = u32be(d, off + 4);
    const hl = (d[off + 12] >> 4) * 4;
    if (hl < 20 || hl > end - off) {
      this.#onMalformed("TCP header length out of range");
      return;
    }
    const fl = d[off + 13];
    const syn = (fl & 0x02) !== 0;
    const fin = (fl & 0x01) !== 0 || (fl & 0x04) !== 0;
    const src = this.#address(this.#srcAt);
    const dst = this.#address(this.#dstAt);
    const meta: MessageMeta = {
      ts: this.#ts,
      src,
      dst,
      srcPort: sp,
      dstPort: dp,
      transport: "tcp",
      service: SERVICES[kind],
    };
    this.#tcp.segment(
      `${src}|${sp}|${dst}|${dp}`,
      this.#ts,
      seq,
      syn,
      fin,
      d.subarray(off + hl, end),
      (msg) => this.#dns(msg, 0, msg.length, meta),
    );
  }

  /** One DNS message `d[start..end)` that came without a packet around it (dnstap), from and to where `meta` says. */
  message(d: Uint8Array, start: number, end: number, meta: MessageMeta): void {
    this.#ts = meta.ts;
    this.#truncated = false;
    this.#dns(d, start, end, meta);
  }

  #dns(d: Uint8Array, start: number, end: number, meta: MessageMeta): void {
    const m = this.#decoder.decode(d, start, end, this.#allSections, this.#reuse);
    if (m === null) {
      this.#onMalformed(this.#truncated ? "DNS message cut by the capture's snapshot length" : this.#decoder.error);
      return;
    }
    if (m.malformed !== null) {
      this.#onMalformed(this.#truncated ? "DNS message cut by the capture's snapshot length" : m.malformed);
    }
    this.#onMessage(m, meta);
  }
}

function isTunnelPort(p: number): boolean {
  return p === 4789 || p === 8472 || p === 6081 || p === 4754;
}
