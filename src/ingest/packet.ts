/**
 * Packet decoding, layer by layer in the manner of gopacket: link layer →
 * (VLAN, PPPoE, MPLS) → IPv4/IPv6 (extension headers, fragments) → UDP/TCP
 * (and GRE, GRE-in-UDP, VXLAN, Geneve tunnels) → DNS. Each layer reads its
 * header from the frame in place and passes an offset on; nothing is copied
 * unless fragments or TCP segments must be held.
 *
 * @module
 */

import { decodeDns, dnsError, ipv6 } from "./dns.ts";
import { FragmentReassembler } from "./ipfrag.ts";
import { TcpReassembler } from "./tcp.ts";
import type { DnsMessage, DnsService } from "./types.ts";

/** Link-layer header types this decoder understands (LINKTYPE_* numbers). */
export const LinkType = {
  NULL: 0,
  ETHERNET: 1,
  RAW: 101,
  LOOP: 108,
  LINUX_SLL: 113,
  IPV4: 228,
  IPV6: 229,
  LINUX_SLL2: 276,
} as const;

/** Link types accepted (others are counted as skipped). */
export const SUPPORTED_LINK_TYPES: readonly number[] = [0, 1, 10, 12, 14, 101, 108, 113, 228, 229, 276];

const LINK_NAMES: Record<number, string> = {
  0: "NULL",
  1: "EN10MB",
  10: "FDDI",
  12: "RAW",
  14: "RAW",
  101: "RAW",
  108: "LOOP",
  113: "LINUX_SLL",
  228: "IPV4",
  229: "IPV6",
  276: "LINUX_SLL2",
};

/** Name of a link type (as tcpdump calls it), or "unsupported". */
export function linkTypeName(t: number): string {
  return LINK_NAMES[t] ?? "unsupported";
}

/**
 * Where a DNS message was seen. The decoder may reuse one object for many
 * messages: read it during the callback, do not keep it.
 */
export interface MessageMeta {
  ts: number;
  src: string;
  dst: string;
  srcPort: number;
  dstPort: number;
  transport: "udp" | "tcp";
  service: DnsService;
}

/** Options of the packet decoder. */
export interface PacketDecoderOptions {
  /** Ports carrying plain DNS (default [53]). 5353 (mDNS) and 5355 (LLMNR) are always decoded. */
  dnsPorts?: number[];
}

const MAX_TUNNEL_DEPTH = 8;
const PORT_NONE = 0, PORT_DNS = 1, PORT_MDNS = 2, PORT_LLMNR = 3;
const SERVICES: DnsService[] = ["dns", "dns", "mdns", "llmnr"];

/**
 * Turns captured frames into DNS messages. Feed frames with
 * {@link PacketDecoder.frame}; messages arrive through `onMessage`.
 */
export class PacketDecoder {
  readonly #ports = new Uint8Array(65536);
  readonly #frags = new FragmentReassembler();
  readonly #tcp = new TcpReassembler();
  readonly #onMessage: (m: DnsMessage, meta: MessageMeta) => void;
  readonly #onMalformed: (reason: string) => void;
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

  constructor(
    onMessage: (m: DnsMessage, meta: MessageMeta) => void,
    onMalformed: (reason: string) => void,
    options: PacketDecoderOptions = {},
  ) {
    this.#onMessage = onMessage;
    this.#onMalformed = onMalformed;
    for (const p of options.dnsPorts ?? [53]) this.#ports[p] = PORT_DNS;
    this.#ports[5353] = PORT_MDNS;
    this.#ports[5355] = PORT_LLMNR;
  }

  /**
   * Decode one frame. `truncated` says the capture kept fewer bytes than the
   * wire carried (snaplen). Returns true when the frame held DNS.
   */
  frame(linkType: number, data: Uint8Array, ts: number, truncated = false): boolean {
    this.#ts = ts;
    this.#sawDns = false;
    this.#truncated = truncated;
    if (ts - this.#lastExpire > 60) {
      this.#tcp.expire(ts);
      this.#lastExpire = ts;
    }
    this.#link(linkType, data, 0, 0);
    return this.#sawDns;
  }

  #link(linkType: number, d: Uint8Array, off: number, depth: number): void {
    switch (linkType) {
      case 1:
        return this.#ether(d, off, depth);
      case 101:
      case 12:
      case 14:
        return this.#ipAny(d, off, depth);
      case 228:
        return this.#ipv4(d, off, depth);
      case 229:
        return this.#ipv6(d, off, depth);
      case 10: // FDDI: frame control + two MAC addresses, then 802.2 LLC
        return this.#llc(d, off + 13, depth);
      case 113:
        if (d.length < off + 16) return;
        return this.#ethertype((d[off + 14] << 8) | d[off + 15], d, off + 16, depth);
      case 276:
        if (d.length < off + 20) return;
        return this.#ethertype((d[off] << 8) | d[off + 1], d, off + 20, depth);
      case 0:
      case 108: {
        if (d.length < off + 4) return;
        // The family is in the writer's byte order for 0, network order for 108:
        // accept either.
        const le = d[off] | (d[off + 1] << 8);
        const be = (d[off + 2] << 8) | d[off + 3];
        const fam = le !== 0 ? le : be;
        if (fam === 2) return this.#ipv4(d, off + 4, depth);
        if (fam === 24 || fam === 28 || fam === 30) return this.#ipv6(d, off + 4, depth);
        return;
      }
    }
  }

  #ether(d: Uint8Array, off: number, depth: number): void {
    if (d.length < off + 14) return;
    const type = (d[off + 12] << 8) | d[off + 13];
    // Values up to 1500 are an 802.3 length: an LLC header follows.
    if (type <= 1500) return this.#llc(d, off + 14, depth);
    this.#ethertype(type, d, off + 14, depth);
  }

  /** 802.2 LLC with a SNAP header carries an ethertype. */
  #llc(d: Uint8Array, off: number, depth: number): void {
    if (d.length < off + 8 || d[off] !== 0xaa || d[off + 1] !== 0xaa || d[off + 2] !== 0x03) return;
    this.#ethertype((d[off + 6] << 8) | d[off + 7], d, off + 8, depth);
  }

  #ethertype(type: number, d: Uint8Array, off: number, depth: number): void {
    // VLAN tags (802.1Q, 802.1ad, old QinQ), at most a few deep.
    for (let i = 0; i < 8 && (type === 0x8100 || type === 0x88a8 || type === 0x9100); i++) {
      if (d.length < off + 4) return;
      type = (d[off + 2] << 8) | d[off + 3];
      off += 4;
    }
    switch (type) {
      case 0x0800:
        return this.#ipv4(d, off, depth);
      case 0x86dd:
        return this.#ipv6(d, off, depth);
      case 0x8864: // PPPoE session: 6-byte header, then a PPP protocol field
        if (d.length < off + 8) return;
        return this.#ppp((d[off + 6] << 8) | d[off + 7], d, off + 8, depth);
      case 0x8847:
      case 0x8848: {
        // MPLS: pop labels to the bottom of the stack, then guess IP by version.
        for (let i = 0; i < 16; i++) {
          if (d.length < off + 4) return;
          const bottom = (d[off + 2] & 1) === 1;
          off += 4;
          if (bottom) return this.#ipAny(d, off, depth);
        }
        return;
      }
    }
  }

  #ppp(proto: number, d: Uint8Array, off: number, depth: number): void {
    if (proto === 0x0021) return this.#ipv4(d, off, depth);
    if (proto === 0x0057) return this.#ipv6(d, off, depth);
  }

  #ipAny(d: Uint8Array, off: number, depth: number): void {
    if (d.length <= off) return;
    const v = d[off] >> 4;
    if (v === 4) this.#ipv4(d, off, depth);
    else if (v === 6) this.#ipv6(d, off, depth);
  }

  #ipv4(d: Uint8Array, off: number, depth: number): void {
    if (d.length < off + 20) return;
    const ihl = (d[off] & 0xf) * 4;
    if ((d[off] >> 4) !== 4 || ihl < 20 || d.length < off + ihl) return;
    const total = (d[off + 2] << 8) | d[off + 3];
    // Trust the IP total length when it is sane: Ethernet padding follows it.
    let end = d.length;
    if (total >= ihl && off + total <= d.length) end = off + total;
    const proto = d[off + 9];
    const src = ipv4String(d, off + 12);
    const dst = ipv4String(d, off + 16);
    const fragField = (d[off + 6] << 8) | d[off + 7];
    const more = (fragField & 0x2000) !== 0;
    const fragOff = (fragField & 0x1fff) * 8;
    let payload = d.subarray(off + ihl, end);
    if (more || fragOff > 0) {
      if (!this.#maybeDnsTransport(proto, payload, fragOff)) return;
      const key = `4|${src}|${dst}|${(d[off + 4] << 8) | d[off + 5]}|${proto}`;
      const whole = this.#frags.add(key, this.#ts, fragOff, more, payload);
      this.#sawDns = true;
      if (whole === null) return;
      payload = whole;
    }
    this.#transport(proto, src, dst, payload, depth);
  }

  #ipv6(d: Uint8Array, off: number, depth: number): void {
    if (d.length < off + 40 || (d[off] >> 4) !== 6) return;
    const plen = (d[off + 4] << 8) | d[off + 5];
    let end = d.length;
    if (plen > 0 && off + 40 + plen <= d.length) end = off + 40 + plen;
    let next = d[off + 6];
    const src = ipv6(d, off + 8);
    const dst = ipv6(d, off + 24);
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
        const ident = ((d[p + 4] << 24) | (d[p + 5] << 16) | (d[p + 6] << 8) | d[p + 7]) >>> 0;
        p += 8;
        if (p > end) return;
        const frag = d.subarray(p, end);
        if (!this.#maybeDnsTransport(nh, frag, fo)) return;
        this.#sawDns = true;
        const whole = this.#frags.add(`6|${src}|${dst}|${ident}`, this.#ts, fo, more, frag);
        if (whole === null) return;
        return this.#transport(nh, src, dst, whole, depth);
      }
      break;
    }
    if (p > end) return;
    this.#transport(next, src, dst, d.subarray(p, end), depth);
  }

  /** Whether a fragment may belong to DNS (or a tunnel) and is worth holding. */
  #maybeDnsTransport(proto: number, frag: Uint8Array, fragOff: number): boolean {
    if (proto !== 17 && proto !== 6 && proto !== 47 && proto !== 4 && proto !== 41) return false;
    if (fragOff > 0 || frag.length < 4 || (proto !== 17 && proto !== 6)) return true;
    const sp = (frag[0] << 8) | frag[1];
    const dp = (frag[2] << 8) | frag[3];
    return this.#ports[sp] !== PORT_NONE || this.#ports[dp] !== PORT_NONE || isTunnelPort(dp);
  }

  #transport(proto: number, src: string, dst: string, p: Uint8Array, depth: number): void {
    switch (proto) {
      case 17:
        return this.#udp(src, dst, p, depth);
      case 6:
        return this.#tcpSeg(src, dst, p);
      case 47:
        return this.#gre(p, 0, depth);
      case 4: // IPv4 in IP
        if (depth < MAX_TUNNEL_DEPTH) this.#ipv4(p, 0, depth + 1);
        return;
      case 41: // IPv6 in IP
        if (depth < MAX_TUNNEL_DEPTH) this.#ipv6(p, 0, depth + 1);
        return;
    }
  }

  #udp(src: string, dst: string, p: Uint8Array, depth: number): void {
    if (p.length < 8) return;
    const sp = (p[0] << 8) | p[1];
    const dp = (p[2] << 8) | p[3];
    const ulen = (p[4] << 8) | p[5];
    let end = p.length;
    if (ulen >= 8 && ulen <= p.length) end = ulen;
    const kind = this.#ports[dp] || this.#ports[sp];
    if (kind !== PORT_NONE) {
      this.#sawDns = true;
      // One meta object reused for every UDP message (valid during the callback only).
      const meta = this.#udpMeta;
      meta.ts = this.#ts;
      meta.src = src;
      meta.dst = dst;
      meta.srcPort = sp;
      meta.dstPort = dp;
      meta.service = SERVICES[kind];
      this.#dns(p.subarray(8, end), meta);
      return;
    }
    if (depth >= MAX_TUNNEL_DEPTH) return;
    const body = p.subarray(8, end);
    if (dp === 4789 || dp === 8472) { // VXLAN
      if (body.length >= 8 && (body[0] & 0x08) !== 0) this.#ether(body, 8, depth + 1);
    } else if (dp === 6081) { // Geneve
      if (body.length < 8) return;
      const optLen = (body[0] & 0x3f) * 4;
      const ptype = (body[2] << 8) | body[3];
      if (ptype === 0x6558) this.#ether(body, 8 + optLen, depth + 1);
      else this.#ethertype(ptype, body, 8 + optLen, depth + 1);
    } else if (dp === 4754) { // GRE-in-UDP (RFC 8086)
      this.#gre(body, 0, depth);
    }
  }

  #gre(d: Uint8Array, off: number, depth: number): void {
    if (depth >= MAX_TUNNEL_DEPTH || d.length < off + 4) return;
    const flags = (d[off] << 8) | d[off + 1];
    const proto = (d[off + 2] << 8) | d[off + 3];
    const version = flags & 7;
    let p = off + 4;
    if (flags & 0x8000) p += 4; // checksum + reserved
    if (flags & 0x2000) p += 4; // key (always present in enhanced GRE)
    if (flags & 0x1000) p += 4; // sequence number
    if (version === 1 && (flags & 0x0080)) p += 4; // acknowledgment
    if (p > d.length) return;
    if (proto === 0x880b) { // PPP
      if (d.length >= p + 2 && d[p] === 0xff && d[p + 1] === 0x03) p += 2;
      if (d.length < p + 1) return;
      let pp: number;
      if (d[p] & 1) {
        pp = d[p];
        p += 1;
      } else {
        if (d.length < p + 2) return;
        pp = (d[p] << 8) | d[p + 1];
        p += 2;
      }
      return this.#ppp(pp, d, p, depth + 1);
    }
    if (proto === 0x6558) return this.#ether(d, p, depth + 1);
    this.#ethertype(proto, d, p, depth + 1);
  }

  #tcpSeg(src: string, dst: string, p: Uint8Array): void {
    if (p.length < 20) return;
    const sp = (p[0] << 8) | p[1];
    const dp = (p[2] << 8) | p[3];
    const kind = this.#ports[dp] || this.#ports[sp];
    if (kind === PORT_NONE) return;
    this.#sawDns = true;
    const seq = ((p[4] << 24) | (p[5] << 16) | (p[6] << 8) | p[7]) >>> 0;
    const hl = (p[12] >> 4) * 4;
    if (hl < 20 || hl > p.length) {
      this.#onMalformed("TCP header length out of range");
      return;
    }
    const fl = p[13];
    const syn = (fl & 0x02) !== 0;
    const fin = (fl & 0x01) !== 0 || (fl & 0x04) !== 0;
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
      p.subarray(hl),
      (msg) => this.#dns(msg, meta),
    );
  }

  #dns(payload: Uint8Array, meta: MessageMeta): void {
    const m = decodeDns(payload);
    if (m === null) {
      this.#onMalformed(this.#truncated ? "DNS message cut by the capture's snapshot length" : dnsError);
      return;
    }
    if (m.malformed !== null) {
      this.#onMalformed(this.#truncated ? "DNS message cut by the capture's snapshot length" : m.malformed);
    }
    this.#onMessage(m, meta);
  }
}

const ipv4Cache = new Map<number, string>();

/** Dotted IPv4 address, cached: captures repeat a few addresses millions of times. */
function ipv4String(d: Uint8Array, o: number): string {
  const k = ((d[o] << 24) | (d[o + 1] << 16) | (d[o + 2] << 8) | d[o + 3]) >>> 0;
  let s = ipv4Cache.get(k);
  if (s === undefined) {
    if (ipv4Cache.size >= 65536) ipv4Cache.clear();
    s = `${d[o]}.${d[o + 1]}.${d[o + 2]}.${d[o + 3]}`;
    ipv4Cache.set(k, s);
  }
  return s;
}

function isTunnelPort(p: number): boolean {
  return p === 4789 || p === 8472 || p === 6081 || p === 4754;
}
