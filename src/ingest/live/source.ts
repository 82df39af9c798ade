/**
 * The main thread's side of a frame source: starts the thread (a libpcap
 * capture, or a capture file read as if live), takes its batches in order,
 * counts each off once it is handled (the thread's back-pressure), and
 * stops it on request.
 *
 * @module
 */

import {
  type CaptureCounters,
  type CaptureSettings,
  type FileSettings,
  newShared,
  RingReader,
  type SourceErrorKind,
  type SourceMessage,
  type SourceStart,
} from "./protocol.ts";
import { spawnWorker, type WorkerModule } from "../../thread.ts";

/** A source could not start, or stopped on an error. */
export class SourceError extends Error {
  constructor(readonly kind: SourceErrorKind, message: string) {
    super(message);
    this.name = "SourceError";
  }
}

/** What the source hands over, each awaited in order. */
export interface SourceHandlers {
  /**
   * A batch of frames (records, see protocol.ts, in `data[0..bytes)`, valid
   * until the promise settles), and the source clock after it.
   */
  frames(m: { data: Uint8Array; bytes: number; count: number; clock: number }): void | Promise<void>;
  /** The source's clock moved with no frame (a paced file). */
  clock?(now: number): void;
  /** A problem of a file's container. */
  problem?(reason: string, offset: number): void;
  /** The capture's counters, about once a second. */
  counters?(c: CaptureCounters): void;
}

/** What the thread said once it was ready. */
export interface SourceReady {
  linkType: number;
  warning: string | null;
  /** libpcap's version line ("" for a file). */
  version: string;
  /** The capture filter in force (null for a file). */
  filter: string | null;
}

/** A running frame source. */
export class FrameSource {
  /** Resolves when the source is open (rejects with a {@link SourceError} when it cannot open). */
  readonly ready: Promise<SourceReady>;
  /** Resolves with the final counters once every batch is handled; rejects with a {@link SourceError}. */
  readonly done: Promise<CaptureCounters | null>;
  readonly #ring: RingReader;
  readonly #worker: Worker;
  #chain: Promise<void> = Promise.resolve();

  private constructor(worker: WorkerModule, start: SourceStart, h: SourceHandlers) {
    this.#ring = new RingReader(start);
    this.#worker = spawnWorker(worker);
    let readyOk!: (r: SourceReady) => void, readyFail!: (e: Error) => void;
    let doneOk!: (c: CaptureCounters | null) => void, doneFail!: (e: Error) => void;
    this.ready = new Promise((res, rej) => [readyOk, readyFail] = [res, rej]);
    this.done = new Promise((res, rej) => [doneOk, doneFail] = [res, rej]);
    // A failure before ready is the ready promise's; keep done's rejection from going unhandled then.
    this.done.catch(() => {});
    const finish = (e: Error | null, counters: CaptureCounters | null = null) => {
      this.#worker.terminate();
      if (e === null) doneOk(counters);
      else {
        readyFail(e);
        doneFail(e);
      }
    };
    // Every message is handled after the ones before it (a batch may wait for the store).
    const handle = async (m: SourceMessage) => {
      switch (m.kind) {
        case "ready":
          readyOk(m);
          break;
        case "frames":
          await h.frames({ data: this.#ring.take(m.slot, m.bytes), bytes: m.bytes, count: m.count, clock: m.clock });
          break;
        case "clock":
          h.clock?.(m.now);
          break;
        case "problem":
          h.problem?.(m.reason, m.offset);
          break;
        case "counters":
          h.counters?.(m.counters);
          break;
        case "error":
          finish(new SourceError(m.error, m.message));
          break;
        case "end":
          if (m.counters !== null) h.counters?.(m.counters);
          finish(null, m.counters);
      }
    };
    this.#worker.onmessage = (e: MessageEvent<SourceMessage>) => {
      this.#chain = this.#chain.then(() => handle(e.data)).catch((err) => {
        this.stop();
        finish(err as Error);
      });
    };
    this.#worker.onerror = (e) => {
      e.preventDefault();
      finish(new SourceError("other", e.message));
    };
    this.#worker.postMessage(start);
  }

  /** Capture live through libpcap (the thread needs FFI permission). */
  static capture(settings: CaptureSettings, handlers: SourceHandlers): FrameSource {
    const start: SourceStart = { kind: "capture", settings, ...newShared("capture") };
    return new FrameSource(
      { role: "plumbum:pcap", url: new URL("./pcap_worker.ts", import.meta.url) },
      start,
      handlers,
    );
  }

  /** Read a capture file through the live path. */
  static file(settings: FileSettings, handlers: SourceHandlers): FrameSource {
    const start: SourceStart = { kind: "file", settings, ...newShared("file") };
    return new FrameSource(
      { role: "plumbum:file", url: new URL("./file_worker.ts", import.meta.url) },
      start,
      handlers,
    );
  }

  /** Ask the thread to stop; {@link FrameSource.done} resolves once what it read is handled. */
  stop(): void {
    this.#ring.stop();
  }

  /** Stop at once: the thread is ended without waiting for it. */
  kill(): void {
    this.stop();
    this.#worker.terminate();
  }
}
