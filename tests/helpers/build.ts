/**
 * Test helpers that build DNS messages, packets and capture files byte by
 * byte, so each format variant can be tested without a capture of it.
 */

/** Concatenate byte arrays. */
export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function u16(n: number): number[] {
  return [(n >> 8) & 0xff, n & 0xff];
}
function u32(n: number): number[] {
  return [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
}

/** Encode a name (no compression); labels may hold any bytes via a byte string. */
export function encodeName(name: string): number[] {
  const out: number[] = [];
  if (name !== "") {
    for (const label of name.split(".")) {
      out.push(label.length, ...Array.from(label, (c) => c.charCodeAt(0) & 0xff));
    }
  }
  out.push(0);
  return out;
}

/** A resource record for {@link dnsMessage}. */
export interface BuildRecord {
  name: string;
  type: number;
  ttl?: number;
  rdata: number[];
}

/** Build a DNS message. */
export function dnsMessage(o: {
  id: number;
  qr?: boolean;
  rcode?: number;
  opcode?: number;
  questions?: { name: string; type: number }[];
  answers?: BuildRecord[];
  additionals?: BuildRecord[];
}): Uint8Array {
  const qs = o.questions ?? [];
  const an = o.answers ?? [];
  const ar = o.additionals ?? [];
  const flags = (o.qr ? 0x8000 : 0) | ((o.opcode ?? 0) << 11) | 0x0100 | (o.qr ? 0x0080 : 0) | (o.rcode ?? 0);
  const b: number[] = [...u16(o.id), ...u16(flags), ...u16(qs.length), ...u16(an.length), 0, 0, ...u16(ar.length)];
  for (const q of qs) b.push(...encodeName(q.name), ...u16(q.type), ...u16(1));
  for (const r of [...an, ...ar]) {
    b.push(...encodeName(r.name), ...u16(r.type), ...u16(1), ...u32(r.ttl ?? 60), ...u16(r.rdata.length), ...r.rdata);
  }
  return Uint8Array.from(b);
}

/** TXT RDATA from strings. */
export function txtRdata(...strings: string[]): number[] {
  return strings.flatMap((s) => [s.length, ...Array.from(s, (c) => c.charCodeAt(0) & 0xff)]);
}

/** An IPv4 packet. */
export function ipv4(
  src: string,
  dst: string,
  proto: number,
  payload: Uint8Array,
  frag?: { id: number; offset: number; more: boolean },
): Uint8Array {
  const ff = frag ? ((frag.more ? 0x2000 : 0) | (frag.offset / 8)) : 0x4000;
  const h = Uint8Array.from([
    0x45,
    0,
    ...u16(20 + payload.length),
    ...u16(frag?.id ?? 1),
    ...u16(ff),
    64,
    proto,
    0,
    0,
    ...src.split(".").map(Number),
    ...dst.split(".").map(Number),
  ]);
  return concat(h, payload);
}

/** Parse an IPv6 address to 16 bytes (full or with ::). */
export function ip6Bytes(a: string): number[] {
  const [head, tail] = a.includes("::") ? a.split("::") : [a, ""];
  const h = head === "" ? [] : head.split(":");
  const t = tail === "" ? [] : tail.split(":");
  const groups = [...h, ...Array(8 - h.length - t.length).fill("0"), ...t].map((g) => parseInt(g, 16));
  return groups.flatMap((g) => u16(g));
}

/** An IPv6 packet, optionally with extension headers [(type, bytes)] before the payload. */
export function ipv6(
  src: string,
  dst: string,
  next: number,
  payload: Uint8Array,
  ext: { type: number; body: number[] }[] = [],
): Uint8Array {
  // Chain: IPv6 next header -> ext[0] ... -> payload proto
  const chain: number[] = [];
  for (let i = 0; i < ext.length; i++) chain.push(...[i + 1 < ext.length ? ext[i + 1].type : next], ...ext[i].body);
  const first = ext.length > 0 ? ext[0].type : next;
  const body = concat(Uint8Array.from(chain), payload);
  return concat(
    Uint8Array.from([0x60, 0, 0, 0, ...u16(body.length), first, 64, ...ip6Bytes(src), ...ip6Bytes(dst)]),
    body,
  );
}

/** A UDP datagram. */
export function udp(sport: number, dport: number, payload: Uint8Array): Uint8Array {
  return concat(Uint8Array.from([...u16(sport), ...u16(dport), ...u16(8 + payload.length), 0, 0]), payload);
}

/** A TCP segment. */
export function tcp(sport: number, dport: number, seq: number, flags: number, payload: Uint8Array): Uint8Array {
  return concat(
    Uint8Array.from([...u16(sport), ...u16(dport), ...u32(seq), 0, 0, 0, 0, 0x50, flags, 0xff, 0xff, 0, 0, 0, 0]),
    payload,
  );
}

/** Two-byte length framing for DNS over TCP. */
export function tcpFrame(msg: Uint8Array): Uint8Array {
  return concat(Uint8Array.from(u16(msg.length)), msg);
}

/** An Ethernet frame, with optional VLAN tags (each a TPID and a tag). */
export function ether(ethertype: number, payload: Uint8Array, vlans: { tpid: number; id: number }[] = []): Uint8Array {
  const b: number[] = [0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 6];
  for (const v of vlans) b.push(...u16(v.tpid), ...u16(v.id));
  b.push(...u16(ethertype));
  return concat(Uint8Array.from(b), payload);
}

/** A captured packet for the file writers. */
export interface BuildPacket {
  ts: number;
  data: Uint8Array;
  origLen?: number;
  iface?: number;
}

/** A classic PCAP file. */
export function pcapFile(
  packets: BuildPacket[],
  o: { little?: boolean; nano?: boolean; linkType?: number } = {},
): Uint8Array {
  const little = o.little ?? true;
  const w = (n: number) => little ? [n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, (n >>> 24) & 0xff] : u32(n);
  const w16 = (n: number) => little ? [n & 0xff, (n >> 8) & 0xff] : u16(n);
  const parts: Uint8Array[] = [
    Uint8Array.from([
      ...w(o.nano ? 0xa1b23c4d : 0xa1b2c3d4),
      ...w16(2),
      ...w16(4),
      ...w(0),
      ...w(0),
      ...w(65535),
      ...w(o.linkType ?? 1),
    ]),
  ];
  const div = o.nano ? 1e9 : 1e6;
  for (const p of packets) {
    const sec = Math.floor(p.ts);
    const frac = Math.round((p.ts - sec) * div);
    parts.push(Uint8Array.from([...w(sec), ...w(frac), ...w(p.data.length), ...w(p.origLen ?? p.data.length)]), p.data);
  }
  return concat(...parts);
}

/** A pcapng section for {@link pcapngFile}. */
export interface BuildSection {
  little?: boolean;
  interfaces: { linkType: number; tsresol?: number; tsoffset?: number }[];
  packets: BuildPacket[];
  /** Extra unknown blocks to insert before the packets. */
  unknownBlocks?: number;
  /** Use simple packet blocks (interface 0, no timestamp). */
  simple?: boolean;
}

/** A pcapng file with one or more sections. */
export function pcapngFile(sections: BuildSection[]): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const s of sections) {
    const little = s.little ?? true;
    const w = (n: number) => little ? [n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, (n >>> 24) & 0xff] : u32(n);
    const w16 = (n: number) => little ? [n & 0xff, (n >> 8) & 0xff] : u16(n);
    const block = (type: number, body: number[] | Uint8Array) => {
      const pad = (4 - (body.length % 4)) % 4;
      const len = 12 + body.length + pad;
      return concat(
        Uint8Array.from([...w(type), ...w(len)]),
        Uint8Array.from(body),
        new Uint8Array(pad),
        Uint8Array.from(w(len)),
      );
    };
    parts.push(
      block(0x0a0d0d0a, [...w(0x1a2b3c4d), ...w16(1), ...w16(0), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
    );
    for (let u = 0; u < (s.unknownBlocks ?? 0); u++) parts.push(block(0x0badf00d, [1, 2, 3, 4, 5]));
    for (const i of s.interfaces) {
      const opts: number[] = [];
      if (i.tsresol !== undefined) opts.push(...w16(9), ...w16(1), i.tsresol, 0, 0, 0);
      if (i.tsoffset !== undefined) {
        const lo = i.tsoffset >>> 0, hi = Math.floor(i.tsoffset / 4294967296);
        opts.push(...w16(14), ...w16(8), ...(little ? [...w(lo), ...w(hi)] : [...w(hi), ...w(lo)]));
      }
      if (opts.length > 0) opts.push(0, 0, 0, 0);
      parts.push(block(1, [...w16(i.linkType), 0, 0, ...w(0), ...opts]));
    }
    for (const p of s.packets) {
      const data = Array.from(p.data);
      if (s.simple) {
        parts.push(block(3, [...w(p.origLen ?? p.data.length), ...data]));
        continue;
      }
      const iface = s.interfaces[p.iface ?? 0];
      const r = iface.tsresol ?? 6;
      const scale = r & 0x80 ? Math.pow(2, r & 0x7f) : Math.pow(10, r);
      const units = Math.round((p.ts - (iface.tsoffset ?? 0)) * scale);
      const hi = Math.floor(units / 4294967296), lo = units % 4294967296;
      parts.push(
        block(6, [
          ...w(p.iface ?? 0),
          ...w(hi),
          ...w(lo),
          ...w(p.data.length),
          ...w(p.origLen ?? p.data.length),
          ...data,
        ]),
      );
    }
  }
  return concat(...parts);
}

/** Write bytes to a new temporary file and return its path. */
export function tempFile(bytes: Uint8Array, suffix = ".bin"): string {
  const p = Deno.makeTempFileSync({ suffix });
  Deno.writeFileSync(p, bytes);
  return p;
}

/** A standard query/response pair over UDP/IPv4/Ethernet. */
export function udpExchange(
  o: {
    client?: string;
    server?: string;
    port?: number;
    id: number;
    name: string;
    type?: number;
    answer?: BuildRecord[];
  },
): [Uint8Array, Uint8Array] {
  const client = o.client ?? "10.0.0.2", server = o.server ?? "10.0.0.1", port = o.port ?? 40000;
  const q = dnsMessage({ id: o.id, questions: [{ name: o.name, type: o.type ?? 1 }] });
  const r = dnsMessage({
    id: o.id,
    qr: true,
    questions: [{ name: o.name, type: o.type ?? 1 }],
    answers: o.answer ?? [],
  });
  return [
    ether(0x0800, ipv4(client, server, 17, udp(port, 53, q))),
    ether(0x0800, ipv4(server, client, 17, udp(53, port, r))),
  ];
}

const SAMPLE = new URL("../../fixtures/sample.pcap", import.meta.url);

/** Build a capture of about `mb` MB at `path` by repeating `source` (a little-endian microsecond PCAP) with shifted times. */
export function bigCapture(path: string, mb: number, source = SAMPLE): void {
  const src = Deno.readFileSync(source);
  const dv = new DataView(src.buffer);
  const body = src.subarray(24);
  const copies = Math.ceil((mb * 1024 * 1024) / body.length);
  const f = Deno.openSync(path, { write: true, create: true, truncate: true });
  f.writeSync(src.subarray(0, 24));
  const chunk = body.slice();
  const cdv = new DataView(chunk.buffer);
  for (let c = 0; c < copies; c++) {
    for (let o = 0; o + 16 <= chunk.length;) {
      cdv.setUint32(o, dv.getUint32(24 + o, true) + c * 60, true);
      o += 16 + cdv.getUint32(o + 8, true);
    }
    let off = 0;
    while (off < chunk.length) off += f.writeSync(chunk.subarray(off));
  }
  f.close();
}
