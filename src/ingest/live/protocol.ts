/**
 * What a frame source thread (a live capture, or a capture file read as if
 * live) and the main thread say to each other. Frames travel packed, many
 * to a batch, so a high packet rate costs one message per batch and no
 * per-packet call across threads.
 *
 * Batches are slots of a ring in shared memory, so memory stays fixed
 * whatever the rate (no buffer per batch for the collector to find): the
 * thread fills a slot, marks it full and posts its number; the main thread
 * copies it out, marks it free and decodes the copy. With every slot full
 * the thread waits (for a live capture the kernel then drops, and says so
 * in its statistics) until the main thread catches up.
 *
 * A slot holds records, each 8-byte aligned:
 * `ts` (f64, seconds) · `caplen` (u32) · `len` (u32, on the wire) ·
 * `linkType` (u32) · 4 bytes unused · `caplen` bytes of frame.
 *
 * @module
 */

import type { FrameSink } from "../frames.ts";
import type { Frame } from "../types.ts";

/** Bytes of a record's header. */
const RECORD_HEADER = 24;
/** Bytes of one slot. */
const BATCH_BYTES = 1 << 20;
/**
 * Slots in a live capture's ring: batches posted and not yet taken before
 * the thread waits (and the kernel's buffer takes the excess). With 16, the
 * unique-name tunnel capture at 100 000 packets/s lost 34 000-68 000
 * packets in each of three runs; with 32, none.
 */
const CAPTURE_SLOTS = 32;
/** Slots in a file's ring: a file's reader waits rather than loses anything, so a few keep it reading ahead. */
const FILE_SLOTS = 4;
/** Longest time a frame waits in a part-filled batch (ms). */
const BATCH_MS = 20;

/** Slots of the shared control array: stop, then each ring slot's state (0 free, 1 full). */
const CTL = { STOP: 0, SLOT: 1 } as const;

/** The shared memory of a source: its control array and its ring. */
export interface SourceShared {
  ctl: SharedArrayBuffer;
  ring: SharedArrayBuffer;
}

/** Fresh shared memory for a source: a live capture's ring (32 MB), or a file's (4 MB). */
export function newShared(kind: "capture" | "file"): SourceShared {
  const slots = kind === "capture" ? CAPTURE_SLOTS : FILE_SLOTS;
  return {
    ctl: new SharedArrayBuffer(4 * (CTL.SLOT + slots)),
    ring: new SharedArrayBuffer(slots * BATCH_BYTES),
  };
}

/** Capture settings (see `plumbum stream --help`). */
export interface CaptureSettings {
  library: string;
  device: string;
  /** A BPF expression, or null for the DNS ports' default (see `defaultFilter`). */
  filter: string | null;
  dnsPorts: number[];
  snaplen: number;
  promisc: boolean;
  /** Kernel buffer in bytes (0: libpcap's default). */
  bufferBytes: number;
  /** Packets to capture before stopping (0: no limit). */
  count: number;
  /** A pcap file to save every captured packet to, or null. */
  save: string | null;
  /** {@link save} as it may be printed (escaped). */
  saveShown: string;
  /** Files {@link save} must not be (the workspace's own), compared by device and inode once opened. */
  protect: string[];
}

/** Settings of a file read through the live path. */
export interface FileSettings {
  path: string;
  /** Capture seconds per wall second; 0 is as fast as it can go. */
  speed: number;
  count: number;
}

/** To the thread: start. */
export type SourceStart =
  | ({ kind: "capture"; settings: CaptureSettings } & SourceShared)
  | ({ kind: "file"; settings: FileSettings } & SourceShared);

/** libpcap's counters (pcap_stats). */
export interface CaptureCounters {
  /** Packets the filter passed (as libpcap counts them). */
  received: number;
  /** Dropped by the kernel for want of buffer space. */
  dropped: number;
  /** Dropped by the interface or its driver (where known). */
  ifDropped: number;
}

/** Why a source could not start or went on no more. */
export type SourceErrorKind = "no-device" | "permission" | "filter" | "not-up" | "file" | "library" | "other";

/** From the thread. */
export type SourceMessage =
  | { kind: "ready"; linkType: number; warning: string | null; version: string; filter: string | null }
  | { kind: "frames"; slot: number; bytes: number; count: number; clock: number }
  | { kind: "clock"; now: number }
  | { kind: "problem"; reason: string; offset: number }
  | { kind: "counters"; counters: CaptureCounters }
  | { kind: "error"; error: SourceErrorKind; message: string }
  | { kind: "end"; counters: CaptureCounters | null };

/** How long the thread waits for a free slot before it gives up (ms): the main thread has stopped taking them. */
const SLOT_WAIT_MS = 120_000;

/** Packs frames into the ring's slots and posts each full one. */
export class BatchPacker {
  readonly #ctl: Int32Array;
  readonly #ring: SharedArrayBuffer;
  readonly #post: (m: SourceMessage) => void;
  readonly #slots: number;
  #slot = 0;
  #u8: Uint8Array;
  #dv: DataView;
  #used = 0;
  #count = 0;
  #since = 0;
  #clock = 0;

  constructor(shared: SourceShared, post: (m: SourceMessage) => void) {
    this.#ctl = new Int32Array(shared.ctl);
    this.#ring = shared.ring;
    this.#slots = shared.ring.byteLength / BATCH_BYTES;
    this.#post = post;
    this.#u8 = new Uint8Array(this.#ring, 0, BATCH_BYTES);
    this.#dv = new DataView(this.#ring, 0, BATCH_BYTES);
  }

  /** Reserve a record; returns where its `caplen` bytes go in {@link BatchPacker.bytes}. Waits for a free slot when needed. */
  reserve(ts: number, caplen: number, len: number, linkType: number): number {
    // A slot always takes one frame, however big (frames are at most 256 KB).
    if (this.#used + RECORD_HEADER + caplen > BATCH_BYTES && this.#count > 0) this.flush();
    if (this.#count === 0) {
      this.#waitFree();
      this.#since = performance.now();
    }
    const at = this.#used;
    this.#dv.setFloat64(at, ts, true);
    this.#dv.setUint32(at + 8, caplen, true);
    this.#dv.setUint32(at + 12, len, true);
    this.#dv.setUint32(at + 16, linkType, true);
    this.#used = (at + RECORD_HEADER + caplen + 7) & ~7;
    this.#count++;
    if (ts > this.#clock) this.#clock = ts;
    return at + RECORD_HEADER;
  }

  /** The current slot's bytes (to copy a reserved frame into). */
  get bytes(): Uint8Array {
    return this.#u8;
  }

  /** Whether the batch should go now (full enough or old enough). */
  due(now: number): boolean {
    return this.#count > 0 && (this.#used > BATCH_BYTES - 4096 || now - this.#since >= BATCH_MS);
  }

  /** Post what is packed (if anything) and move to the next slot. */
  flush(): void {
    if (this.#count === 0) return;
    Atomics.store(this.#ctl, CTL.SLOT + this.#slot, 1);
    this.#post({ kind: "frames", slot: this.#slot, bytes: this.#used, count: this.#count, clock: this.#clock });
    this.#slot = (this.#slot + 1) % this.#slots;
    this.#u8 = new Uint8Array(this.#ring, this.#slot * BATCH_BYTES, BATCH_BYTES);
    this.#dv = new DataView(this.#ring, this.#slot * BATCH_BYTES, BATCH_BYTES);
    this.#used = 0;
    this.#count = 0;
  }

  /** Whether the next batch has no free slot yet (the main thread is behind). */
  get behind(): boolean {
    return this.#count === 0 && Atomics.load(this.#ctl, CTL.SLOT + this.#slot) !== 0;
  }

  /** Wait (up to `ms`) for the main thread to free the next slot. */
  waitBehind(ms: number): void {
    Atomics.wait(this.#ctl, CTL.SLOT + this.#slot, 1, ms);
  }

  #waitFree(): void {
    const end = performance.now() + SLOT_WAIT_MS;
    while (Atomics.load(this.#ctl, CTL.SLOT + this.#slot) !== 0) {
      if (performance.now() > end) throw new Error("the main thread stopped taking frames");
      Atomics.wait(this.#ctl, CTL.SLOT + this.#slot, 1, 100);
    }
  }

  /** Whether the main thread asked to stop. */
  get stopped(): boolean {
    return Atomics.load(this.#ctl, CTL.STOP) !== 0;
  }

  /** Sleep up to `ms`, waking early when asked to stop. */
  sleep(ms: number): void {
    if (ms > 0) Atomics.wait(this.#ctl, CTL.STOP, 0, ms);
  }
}

/** The main thread's side of the ring: takes a posted slot (a copy of it) and frees it. */
export class RingReader {
  readonly #ctl: Int32Array;
  readonly #ring: Uint8Array;
  readonly #copy = new Uint8Array(BATCH_BYTES);

  constructor(shared: SourceShared) {
    this.#ctl = new Int32Array(shared.ctl);
    this.#ring = new Uint8Array(shared.ring);
  }

  /**
   * A copy of slot `slot`'s first `bytes` bytes; the slot is free again.
   * The copy is reused by the next call: decode it before then.
   */
  take(slot: number, bytes: number): Uint8Array {
    const at = slot * BATCH_BYTES;
    this.#copy.set(this.#ring.subarray(at, at + bytes));
    Atomics.store(this.#ctl, CTL.SLOT + slot, 0);
    Atomics.notify(this.#ctl, CTL.SLOT + slot);
    return this.#copy;
  }

  /** Ask the thread to stop (it wakes from any wait). */
  stop(): void {
    Atomics.store(this.#ctl, CTL.STOP, 1);
    Atomics.notify(this.#ctl, CTL.STOP);
  }
}

/** Each record of a batch, in order, handed to `sink` as one reused {@link Frame}. */
export function forEachFrame(m: { data: Uint8Array; bytes: number }, sink: Pick<FrameSink, "frame">): void {
  const u8 = m.data;
  const dv = new DataView(u8.buffer, u8.byteOffset, u8.byteLength);
  const f: Frame = { ts: 0, linkType: 0, data: u8, start: 0, end: 0, origLen: 0, offset: 0 };
  for (let at = 0; at + RECORD_HEADER <= m.bytes;) {
    const caplen = dv.getUint32(at + 8, true);
    f.ts = dv.getFloat64(at, true);
    f.start = at + RECORD_HEADER;
    f.end = f.start + caplen;
    f.origLen = dv.getUint32(at + 12, true);
    f.linkType = dv.getUint32(at + 16, true);
    sink.frame(f);
    at = (at + RECORD_HEADER + caplen + 7) & ~7;
  }
}
