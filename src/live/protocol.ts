/**
 * What a frame source thread (a live capture, or a capture file read as if
 * live) and the main thread say to each other. Frames travel packed, many
 * to a message, so a high packet rate costs one message per batch and no
 * per-packet call across threads.
 *
 * A batch is an ArrayBuffer of records, each 8-byte aligned:
 * `ts` (f64, seconds) · `caplen` (u32) · `len` (u32, on the wire) ·
 * `linkType` (u32) · 4 bytes unused · `caplen` bytes of frame.
 *
 * Back-pressure: the thread counts batches posted in a shared counter and
 * the main thread counts them off once decoded; past {@link MAX_IN_FLIGHT}
 * the thread stops reading (for a live capture the kernel then drops, and
 * says so in its statistics) until the main thread catches up.
 *
 * @module
 */

/** Bytes of a record's header. */
export const RECORD_HEADER = 24;
/** Bytes of one batch. */
export const BATCH_BYTES = 1 << 20;
/** Batches posted and not yet decoded before the thread waits. */
export const MAX_IN_FLIGHT = 32;
/** Longest time a frame waits in a part-filled batch (ms). */
export const BATCH_MS = 20;

/** Slots of the shared control array. */
export const CTL = { STOP: 0, IN_FLIGHT: 1 } as const;

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
  | { kind: "capture"; ctl: SharedArrayBuffer; settings: CaptureSettings }
  | { kind: "file"; ctl: SharedArrayBuffer; settings: FileSettings };

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
  | { kind: "frames"; buf: ArrayBuffer; bytes: number; count: number; clock: number }
  | { kind: "clock"; now: number }
  | { kind: "problem"; reason: string; offset: number }
  | { kind: "counters"; counters: CaptureCounters }
  | { kind: "error"; error: SourceErrorKind; message: string }
  | { kind: "end"; counters: CaptureCounters | null };

/** Packs frames into batches and posts them, counting them in flight. */
export class BatchPacker {
  #buf = new ArrayBuffer(BATCH_BYTES);
  #u8 = new Uint8Array(this.#buf);
  #dv = new DataView(this.#buf);
  #used = 0;
  #count = 0;
  #since = 0;
  #clock = 0;
  readonly #ctl: Int32Array;
  readonly #post: (m: SourceMessage, transfer: ArrayBuffer[]) => void;

  constructor(ctl: Int32Array, post: (m: SourceMessage, transfer: ArrayBuffer[]) => void) {
    this.#ctl = ctl;
    this.#post = post;
  }

  /** Room for a frame of `caplen` bytes (a batch always takes one frame, however big). */
  #room(caplen: number): void {
    if (this.#used + RECORD_HEADER + caplen > BATCH_BYTES && this.#count > 0) this.flush();
  }

  /** Reserve a record; returns where its bytes go (copy `caplen` bytes there). */
  reserve(ts: number, caplen: number, len: number, linkType: number): number {
    this.#room(caplen);
    if (this.#count === 0) this.#since = performance.now();
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

  /** The batch's bytes (to copy a reserved frame into). */
  get bytes(): Uint8Array {
    return this.#u8;
  }

  /** Whether the batch should go now (full enough or old enough). */
  due(now: number): boolean {
    return this.#count > 0 && (this.#used > BATCH_BYTES - 4096 || now - this.#since >= BATCH_MS);
  }

  /** Post what is packed (if anything). */
  flush(): void {
    if (this.#count === 0) return;
    Atomics.add(this.#ctl, CTL.IN_FLIGHT, 1);
    const buf = this.#buf;
    this.#post({ kind: "frames", buf, bytes: this.#used, count: this.#count, clock: this.#clock }, [buf]);
    this.#buf = new ArrayBuffer(BATCH_BYTES);
    this.#u8 = new Uint8Array(this.#buf);
    this.#dv = new DataView(this.#buf);
    this.#used = 0;
    this.#count = 0;
  }

  /** Whether too many batches wait for the main thread. */
  get behind(): boolean {
    return Atomics.load(this.#ctl, CTL.IN_FLIGHT) >= MAX_IN_FLIGHT;
  }

  /** Whether the main thread asked to stop. */
  get stopped(): boolean {
    return Atomics.load(this.#ctl, CTL.STOP) !== 0;
  }

  /** Wait (up to `ms`) for the main thread to count a batch off. */
  waitBehind(ms: number): void {
    const n = Atomics.load(this.#ctl, CTL.IN_FLIGHT);
    if (n >= MAX_IN_FLIGHT) Atomics.wait(this.#ctl, CTL.IN_FLIGHT, n, ms);
  }

  /** Sleep up to `ms`, waking early when asked to stop. */
  sleep(ms: number): void {
    if (ms > 0) Atomics.wait(this.#ctl, CTL.STOP, 0, ms);
  }
}

/** Each record of a batch, in order. */
export function forEachFrame(
  m: { buf: ArrayBuffer; bytes: number },
  fn: (data: Uint8Array, ts: number, start: number, caplen: number, len: number, linkType: number) => void,
): void {
  const u8 = new Uint8Array(m.buf);
  const dv = new DataView(m.buf);
  for (let at = 0; at + RECORD_HEADER <= m.bytes;) {
    const caplen = dv.getUint32(at + 8, true);
    fn(
      u8,
      dv.getFloat64(at, true),
      at + RECORD_HEADER,
      caplen,
      dv.getUint32(at + 12, true),
      dv.getUint32(at + 16, true),
    );
    at = (at + RECORD_HEADER + caplen + 7) & ~7;
  }
}
