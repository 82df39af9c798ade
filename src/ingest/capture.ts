/**
 * Capture file readers: classic PCAP (both byte orders, micro- and
 * nanosecond magic) and pcapng (SHB in both byte orders, several sections,
 * IDB with if_tsresol/if_tsoffset, EPB, SPB, OPB; unknown blocks skipped).
 *
 * Each reader walks records straight out of a {@link ByteStream} window and
 * hands every frame to a callback; a record whose length lies is reported
 * with its file offset, never allocated.
 *
 * @module
 */

import { type ByteStream, u32be } from "./bytes.ts";
import type { FrameSink } from "./frames.ts";
import type { Frame } from "./types.ts";

/** Callbacks of a capture reader (a {@link FrameSink}, whose `end` the caller calls). */
export type CaptureSink = Omit<FrameSink, "end">;

/** Largest frame accepted from a capture record (larger lengths are lies). */
const MAX_FRAME = 262144;

/** The four classic PCAP magics. */
export function pcapMagic(b: Uint8Array): { little: boolean; nano: boolean } | null {
  if (b.length < 4) return null;
  const m = u32be(b, 0);
  switch (m) {
    case 0xa1b2c3d4:
      return { little: false, nano: false };
    case 0xd4c3b2a1:
      return { little: true, nano: false };
    case 0xa1b23c4d:
      return { little: false, nano: true };
    case 0x4d3cb2a1:
      return { little: true, nano: true };
  }
  return null;
}

/** True when the bytes start a pcapng Section Header Block. */
export function isPcapng(b: Uint8Array): boolean {
  return b.length >= 4 && b[0] === 0x0a && b[1] === 0x0d && b[2] === 0x0d && b[3] === 0x0a;
}

function u32(b: Uint8Array, o: number, little: boolean): number {
  return little ? (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0 : u32be(b, o);
}

function u16(b: Uint8Array, o: number, little: boolean): number {
  return little ? b[o] | (b[o + 1] << 8) : (b[o] << 8) | b[o + 1];
}

/** How far past a lying record header a PCAP reader looks for the next valid one. */
const RESYNC_LIMIT = 16 << 20;

/** Whether the 16 bytes at `h` read as a PCAP record header (near `lastSec`, when one is known). */
function plausibleRecord(b: Uint8Array, h: number, little: boolean, div: number, lastSec: number): number {
  const sec = u32(b, h, little), frac = u32(b, h + 4, little);
  const incl = u32(b, h + 8, little), orig = u32(b, h + 12, little);
  const ok = incl > 0 && incl <= MAX_FRAME && incl <= orig && orig <= 1 << 20 && frac < div &&
    (lastSec < 0 || Math.abs(sec - lastSec) <= 86400);
  return ok ? incl : -1;
}

/**
 * From a record header that lies, move to the next plausible one whose
 * successor is plausible too (or that ends the file exactly). Returns the
 * bytes skipped, or -1 when none is found within {@link RESYNC_LIMIT}. On
 * a pipe only what has arrived is searched: its writer may keep it open.
 */
async function resyncPcap(s: ByteStream, little: boolean, div: number, lastSec: number): Promise<number> {
  const fill = (n: number) =>
    s.end - s.start >= n ? Promise.resolve(true) : s.readsAhead ? s.fill(n) : Promise.resolve(false);
  for (let skipped = 1; skipped <= RESYNC_LIMIT; skipped++) {
    s.start += 1;
    if (!(await fill(16))) return -1;
    const incl = plausibleRecord(s.buf, s.start, little, div, lastSec);
    if (incl < 0) continue;
    if (!(await fill(32 + incl))) {
      if (s.readsAhead && s.available === 16 + incl) return skipped;
      continue;
    }
    if (plausibleRecord(s.buf, s.start + 16 + incl, little, div, lastSec) >= 0) return skipped;
  }
  return -1;
}

/** Read a classic PCAP file. */
export async function readPcap(s: ByteStream, sink: CaptureSink): Promise<void> {
  if (!(await s.fill(24))) {
    sink.problem("PCAP global header is truncated", s.offset, true);
    return;
  }
  const magic = pcapMagic(s.buf.subarray(s.start, s.start + 4));
  if (magic === null) {
    sink.problem("not a PCAP file", s.offset, true);
    return;
  }
  const { little, nano } = magic;
  const linkType = u32(s.buf, s.start + 20, little) & 0x0fffffff;
  sink.linkType(linkType);
  const div = nano ? 1e9 : 1e6;
  s.start += 24;
  const frame: Frame = { linkType, data: s.buf, start: 0, end: 0, ts: 0, origLen: 0, offset: 0 };
  let lastSec = -1;
  while (true) {
    if (s.end - s.start < 16 && !(await s.fill(16))) {
      if (s.available > 0) sink.problem("last packet header is truncated", s.offset, false);
      return;
    }
    const b = s.buf;
    const h = s.start;
    const sec = u32(b, h, little);
    const frac = u32(b, h + 4, little);
    const incl = u32(b, h + 8, little);
    const orig = u32(b, h + 12, little);
    if (incl > MAX_FRAME) {
      // A record header that lies: look for the next one that is plausible (and confirmed by the one after it).
      const at = s.offset;
      const skipped = await resyncPcap(s, little, nano ? 1e9 : 1e6, lastSec);
      if (skipped < 0) {
        sink.problem(
          `packet claims ${incl} captured bytes (over ${MAX_FRAME}); no valid record after it in the next ${
            RESYNC_LIMIT >> 20
          } MB`,
          at,
          true,
        );
        return;
      }
      sink.problem(
        `packet claims ${incl} captured bytes (over ${MAX_FRAME}); ${skipped} bytes skipped to the next valid record`,
        at,
        false,
      );
      continue;
    }
    lastSec = sec;
    if (s.end - h < 16 + incl && !(await s.fill(16 + incl))) {
      sink.problem("last packet is truncated", s.offset, false);
      return;
    }
    const p = s.start + 16;
    frame.data = s.buf;
    frame.start = p;
    frame.end = p + incl;
    frame.ts = sec + frac / div;
    frame.origLen = orig;
    frame.offset = s.offset;
    sink.frame(frame);
    s.start = p + incl;
  }
}

interface Iface {
  linkType: number;
  /** Multiply raw timestamp units by this to get seconds. */
  scale: number;
  offset: number;
}

/** Read a pcapng file. */
export async function readPcapng(s: ByteStream, sink: CaptureSink): Promise<void> {
  let little = true;
  let ifaces: Iface[] = [];
  const frame: Frame = { linkType: 0, data: s.buf, start: 0, end: 0, ts: 0, origLen: 0, offset: 0 };
  while (true) {
    if (s.end - s.start < 12 && !(await s.fill(12))) {
      if (s.available > 0) sink.problem("last block is truncated", s.offset, false);
      return;
    }
    let b = s.buf;
    let h = s.start;
    const type = u32(b, h, little);
    if (type === 0x0a0d0d0a) {
      // Section header: byte order comes from the byte-order magic.
      const bom = u32be(b, h + 8);
      if (bom === 0x1a2b3c4d) little = false;
      else if (bom === 0x4d3c2b1a) little = true;
      else {
        sink.problem("pcapng section header has a bad byte-order magic", s.offset, true);
        return;
      }
      ifaces = [];
    }
    const len = u32(b, h + 4, little);
    if (len < 12 || len % 4 !== 0 || len > MAX_FRAME + 4096) {
      sink.problem(`pcapng block claims length ${len}`, s.offset, true);
      return;
    }
    if (s.end - h < len && !(await s.fill(len))) {
      sink.problem("last block is truncated", s.offset, false);
      return;
    }
    b = s.buf;
    h = s.start;
    const body = h + 8;
    const bodyEnd = h + len - 4;
    if (u32(b, bodyEnd, little) !== len) {
      sink.problem("pcapng block's trailing length does not match", s.offset, true);
      return;
    }
    switch (type) {
      case 0x00000001: { // IDB
        if (bodyEnd - body < 8) break;
        const lt = u16(b, body, little);
        const iface: Iface = { linkType: lt, scale: 1e-6, offset: 0 };
        readOptions(b, body + 8, bodyEnd, little, (code, o, l) => {
          if (code === 9 && l >= 1) {
            const r = b[o];
            iface.scale = r & 0x80 ? Math.pow(2, -(r & 0x7f)) : Math.pow(10, -(r & 0x7f));
          } else if (code === 14 && l >= 8) {
            const hi = u32(b, o + (little ? 4 : 0), little);
            const lo = u32(b, o + (little ? 0 : 4), little);
            iface.offset = (hi | 0) * 4294967296 + lo;
          }
        });
        ifaces.push(iface);
        sink.linkType(lt);
        break;
      }
      case 0x00000006: // EPB
      case 0x00000002: { // OPB (obsolete packet block): 16-bit interface id
        if (bodyEnd - body < 20) {
          sink.problem("packet block too short", s.offset, false);
          break;
        }
        const ifId = type === 6 ? u32(b, body, little) : u16(b, body, little);
        const iface = ifaces[ifId];
        const tsHi = u32(b, body + 4, little);
        const tsLo = u32(b, body + 8, little);
        const cap = u32(b, body + 12, little);
        const orig = u32(b, body + 16, little);
        if (iface === undefined) {
          sink.problem(`packet refers to unknown interface ${ifId}`, s.offset, false);
          break;
        }
        if (body + 20 + cap > bodyEnd) {
          sink.problem("packet data runs past its block", s.offset, false);
          break;
        }
        frame.linkType = iface.linkType;
        frame.data = b;
        frame.start = body + 20;
        frame.end = body + 20 + cap;
        frame.ts = (tsHi * 4294967296 + tsLo) * iface.scale + iface.offset;
        frame.origLen = orig;
        frame.offset = s.offset;
        sink.frame(frame);
        break;
      }
      case 0x00000003: { // SPB: interface 0, no timestamp
        const iface = ifaces[0];
        if (iface === undefined || bodyEnd - body < 4) {
          sink.problem("simple packet block without an interface", s.offset, false);
          break;
        }
        const orig = u32(b, body, little);
        const cap = Math.min(orig, bodyEnd - body - 4);
        frame.linkType = iface.linkType;
        frame.data = b;
        frame.start = body + 4;
        frame.end = body + 4 + cap;
        frame.ts = 0;
        frame.origLen = orig;
        frame.offset = s.offset;
        sink.frame(frame);
        break;
      }
      default:
        break; // SHB body, NRB, ISB, DSB, custom and unknown blocks
    }
    s.start = h + len;
  }
}

function readOptions(
  b: Uint8Array,
  start: number,
  end: number,
  little: boolean,
  each: (code: number, off: number, len: number) => void,
): void {
  let p = start;
  for (let i = 0; i < 256 && p + 4 <= end; i++) {
    const code = u16(b, p, little);
    const len = u16(b, p + 2, little);
    if (code === 0 || p + 4 + len > end) return;
    each(code, p + 4, len);
    p += 4 + ((len + 3) & ~3);
  }
}
