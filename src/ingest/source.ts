/**
 * One way in: open a file (or standard input), recognise its format from its
 * bytes (never its name), decompress gzip, and stream every DNS transaction
 * it holds to a callback, with counters describing the file.
 *
 * @example
 * ```ts
 * import { ingestFile } from "./source.ts";
 * const stats = await ingestFile("capture.pcap", { onTransaction: (tx) => console.log(tx.query) });
 * console.log(stats.transactions);
 * ```
 *
 * @module
 */

import { createHash } from "node:crypto";
import { askThread } from "../thread.ts";
import { ByteStream, readFnFromStream } from "./bytes.ts";
import { PACE_FREE, PACE_READ, PACE_UNIT } from "./hash_pace.ts";
import { isPcapng, pcapMagic, readPcap, readPcapng } from "./capture.ts";
import type { DnsDecoder } from "./dns/mod.ts";
import { type DnsMessageSink, DnstapFeed, isFrameStream, readFrameStream } from "./dnstap.ts";
import { countingRecords, countMalformed, emptyStats, FrameDecoder, type FrameSink } from "./frames.ts";
import type { FileStats, Transaction } from "./types.ts";
import type { PairingOptions } from "./transactions.ts";
import { readZeekJson, readZeekTsv, type ZeekSink } from "./zeek.ts";
import { isBindQueryLog, isUnboundLog, readBindQueryLog, readUnboundLog } from "./resolver_log.ts";

/** Input formats Plumbum reads. */
export type InputFormat = "pcap" | "pcapng" | "dnstap" | "zeek-tsv" | "zeek-json" | "bind-querylog" | "unbound-log";

/** An input that cannot be read at all (missing, unreadable, unknown format). */
export class InputError extends Error {
  /** An input that cannot be read at all; `path` names it. */
  constructor(readonly path: string, message: string) {
    super(`${path}: ${message}`);
    this.name = "InputError";
  }

  /** The error a thread reported for `path` (its whole message, as `message` gives it), made again in this thread. */
  static fromThread(path: string, message: string): InputError {
    return new InputError(path, message.startsWith(`${path}: `) ? message.slice(path.length + 2) : message);
  }
}

/** Options of {@link openInput}. */
export interface OpenOptions {
  /** Called now and then with bytes read so far. */
  onProgress?: (bytesRead: number, stats: FileStats) => void;
  /**
   * Compute the SHA-256 of the file's bytes (before decompression) into
   * `stats.sha256`; files of 32 MB and more are hashed by a worker thread.
   */
  sha256?: boolean;
  /** Awaited before each read of the input: lets a slower consumer hold ingest back. */
  pause?: () => Promise<void>;
}

/** Options of {@link ingestFile}. */
export interface IngestOptions extends OpenOptions {
  /**
   * Each transaction, in query order. The object is recycled once the
   * callback returns: copy it (`{ ...tx }`) to keep it.
   */
  onTransaction?: (tx: Transaction) => void;
  /** Plain DNS ports (default [53]). */
  dnsPorts?: number[];
  /** The pairing stage's limits (a query's wait for its answer, queries waiting at once). */
  pairing?: PairingOptions;
  /** The DNS decoder to use (one per run lets its files share what they repeat); a new one by default. */
  dns?: DnsDecoder;
}

/**
 * How an opened input is read, by what it holds: frames (a capture), DNS
 * messages with their addresses but no link layer (a resolver's dnstap), or
 * records that are transactions already (a log's lines).
 */
export type InputReader =
  | { kind: "frames"; read(sink: FrameSink): Promise<void> }
  | { kind: "messages"; read(sink: DnsMessageSink): Promise<void> }
  | { kind: "records"; read(sink: ZeekSink): Promise<void> };

/** An input opened by {@link openInput}, its format recognised: read it once, then finish and close it. */
export interface ReadableInput {
  /** Its counters: `path`, `format` and `compression` are set; a sink counts the rest. */
  readonly stats: FileStats;
  /** Its reader. */
  readonly reader: InputReader;
  /** After reading: counts a damaged gzip tail, the bytes read and the digest into `stats`, and returns them. */
  finish(): Promise<FileStats>;
  /** Closes the input (also after a failure). */
  close(): Promise<void>;
}

/** A transaction nobody asked for. */
function ignore(_tx: Transaction): void {}

/** The log formats: each line a transaction (or nothing). */
export type LogFormat = "zeek-tsv" | "zeek-json" | "bind-querylog" | "unbound-log";

/** Whether `format` is a log's (read line by line into transactions). */
export function isLogFormat(format: InputFormat): format is LogFormat {
  return format === "zeek-tsv" || format === "zeek-json" || format === "bind-querylog" || format === "unbound-log";
}

/** The line reader of a log format. */
export function lineReader(format: LogFormat): (s: ByteStream, sink: ZeekSink) => Promise<void> {
  return format === "zeek-tsv"
    ? readZeekTsv
    : format === "zeek-json"
    ? readZeekJson
    : format === "bind-querylog"
    ? readBindQueryLog
    : readUnboundLog;
}

/** Recognise the format from the first bytes of (decompressed) input. */
export function sniffFormat(head: Uint8Array): InputFormat | null {
  if (pcapMagic(head) !== null) return "pcap";
  if (isPcapng(head)) return "pcapng";
  if (isFrameStream(head)) return "dnstap";
  let i = 0;
  while (i < head.length && (head[i] === 0x20 || head[i] === 0x09 || head[i] === 0x0a || head[i] === 0x0d)) i++;
  // A UTF-8 byte-order mark may precede JSON.
  if (head[i] === 0xef && head[i + 1] === 0xbb && head[i + 2] === 0xbf) i += 3;
  if (head[i] === 0x7b) return "zeek-json";
  // Zeek's ASCII writer starts with #separator; a comment line (btest baselines) may precede it.
  const text = new TextDecoder().decode(head.subarray(i, i + 4096));
  if (text.startsWith("#separator") || text.startsWith("#fields")) return "zeek-tsv";
  if (text.startsWith("#") && /\n#(separator |fields\t)/.test(text)) return "zeek-tsv";
  if (isBindQueryLog(text)) return "bind-querylog";
  if (isUnboundLog(text)) return "unbound-log";
  return null;
}

/**
 * Check that `path` names a readable file (not a directory); throws
 * {@link InputError} saying what is wrong. `-` (standard input) always passes.
 */
export function checkInput(path: string): void {
  if (path === "-") return;
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new InputError(path, "no such file");
    if (e instanceof Deno.errors.PermissionDenied) {
      throw new InputError(path, "permission denied (check the file's mode, or Deno's --allow-read)");
    }
    throw new InputError(path, `cannot open: ${(e as Error).message}`);
  }
  if (info.isDirectory) throw new InputError(path, "is a directory; name the capture or log files inside it");
  // Readable now, or refused before a run is recorded (a file's mode, a special file that cannot be opened).
  if (info.isFile) {
    try {
      Deno.openSync(path, { read: true }).close();
    } catch (e) {
      if (e instanceof Deno.errors.PermissionDenied) {
        throw new InputError(path, "permission denied (check the file's mode, or Deno's --allow-read)");
      }
      throw new InputError(path, `cannot open: ${(e as Error).message}`);
    }
  }
}

/**
 * An input the caller opened and proved (the MCP server's root check): read
 * through `file` only, never by its name again, and recorded as `path`.
 * The reader closes it.
 */
export interface OpenedInput {
  /** The path the run records (the real path the caller proved). */
  path: string;
  /** The open file, read from its start; the reader closes it. */
  file: Deno.FsFile;
}

/** A path to open (`-`: standard input), or an input opened already. */
export type Input = string | OpenedInput;

/** The path an input is recorded as. */
export const inputPath = (input: Input): string => typeof input === "string" ? input : input.path;

async function openStream(
  input: Input,
): Promise<
  { read: (b: Uint8Array) => Promise<number | null>; close: () => void; size: number | null; regular: boolean }
> {
  if (typeof input !== "string") {
    const { file } = input;
    const info = await file.stat();
    return { read: (b) => file.read(b), close: () => file.close(), size: info.size, regular: info.isFile };
  }
  const path = input;
  if (path === "-") {
    return { read: readFnFromStream(Deno.stdin.readable), close: () => {}, size: null, regular: false };
  }
  checkInput(path);
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch (e) {
    throw new InputError(path, `cannot open: ${(e as Error).message}`);
  }
  const info = await file.stat();
  return { read: (b) => file.read(b), close: () => file.close(), size: info.size, regular: info.isFile };
}

/** Compressed bytes handed to the inflater at a time. */
const GZIP_PIECE = 4 << 10;

/** Files from this size on are hashed on a thread of their own (smaller ones cost less than starting it). */
const HASH_THREAD_MIN = 32 << 20;

/** A file being hashed by {@link hashFileInThread}. */
export interface ThreadedHash {
  /** Settles with the hex SHA-256 once the thread is done (an {@link InputError} when it cannot read the file). */
  digest: Promise<string>;
  /** Times a paced thread waited for the reader. */
  waits: Promise<number>;
  /** Paced: the reader has read `bytes` from the start; the thread may hash up to there. */
  progress: (bytes: number) => void;
  /** Paced: the reader reads no more; the thread hashes the rest at full speed. */
  release: () => void;
  /** Stop the thread. */
  cancel: () => void;
}

/**
 * The SHA-256 of a file's bytes, computed by a worker thread that reads the
 * file itself. `paced`: it stays behind a reader that reports its
 * `progress` (and hashes freely once `release`d), so it fills the gaps of
 * other threads instead of taking a core from the reader.
 */
export function hashFileInThread(path: string, paced = false): ThreadedHash {
  const pace = paced ? new Int32Array(new SharedArrayBuffer(8)) : undefined;
  const { reply, cancel } = askThread<{ sha256?: string; error?: string; waits?: number }>(
    { role: "plumbum:hash", url: new URL("./hash_worker.ts", import.meta.url) },
    { path, pace },
  );
  const digest = reply.then(
    (r) => r.sha256 ?? Promise.reject(new InputError(path, `cannot hash: ${r.error}`)),
    (e: Error) => Promise.reject(new InputError(path, `cannot hash: ${e.message}`)),
  );
  // A run that fails first never awaits the digest: its rejection is not news.
  digest.catch(() => {});
  return {
    digest,
    waits: reply.then((r) => r.waits ?? 0, () => 0),
    // Progress is not signalled: a woken thread would be run on the reader's core, in its way. The
    // thread looks again every PACE_POLL_MS.
    progress: (bytes) => {
      if (pace !== undefined) Atomics.store(pace, PACE_READ, Math.floor(bytes / PACE_UNIT));
    },
    release: () => {
      if (pace === undefined) return;
      Atomics.store(pace, PACE_FREE, 1);
      Atomics.notify(pace, PACE_READ);
    },
    cancel,
  };
}

/**
 * Open `input`, recognise its format by its bytes (gzip inflated first) and
 * return its reader. Throws {@link InputError} when it cannot be read at
 * all (missing, unreadable, empty, of an unknown format).
 */
export async function openInput(input: Input, options: OpenOptions = {}): Promise<ReadableInput> {
  const path = inputPath(input);
  const stats = emptyStats(path);
  const src = await openStream(input);
  // A large file is hashed by a thread of its own, reading it beside the decoder (by its name: not an opened input).
  const threaded = options.sha256 && src.size !== null && src.size >= HASH_THREAD_MIN && typeof input === "string"
    ? hashFileInThread(path, true)
    : null;
  const hash = options.sha256 && threaded === null ? createHash("sha256") : null;
  const pause = options.pause;
  let readBytes = 0;
  const read = hash === null && pause === undefined && threaded === null ? src.read : async (b: Uint8Array) => {
    if (pause !== undefined) await pause();
    const n = await src.read(b);
    if (n !== null && n > 0) {
      hash?.update(b.subarray(0, n));
      readBytes += n;
      threaded?.progress(readBytes);
    }
    return n;
  };
  // A regular file is read ahead of the parser (a pipe, FIFO or terminal only as the parser needs it:
  // a read ahead of need could wait on its writer after the parser has stopped).
  const raw = new ByteStream(read, { readAhead: src.regular });
  const close = async () => {
    await raw.settle();
    src.close();
    threaded?.cancel();
  };
  try {
    let s = raw;
    let head = await s.peek(16);
    let gzipProblem: string | null = null;
    if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) {
      stats.compression = "gzip";
      const compressed = new ReadableStream<Uint8Array>({
        async pull(ctl) {
          if (raw.available === 0 && !(await raw.fill(1))) {
            ctl.close();
            return;
          }
          // Small pieces: inflating one piece yields at most ~1000x its size (deflate's limit), so memory
          // stays bounded whatever the ratio (a 1 MB piece of a bomb made a gigabyte at once).
          const end = Math.min(raw.end, raw.start + GZIP_PIECE);
          ctl.enqueue(raw.buf.slice(raw.start, end));
          raw.start = end;
        },
      }, { highWaterMark: 0 });
      const plain = compressed.pipeThrough(
        new DecompressionStream("gzip") as unknown as TransformStream<Uint8Array, Uint8Array>,
      );
      const readPlain = readFnFromStream(plain);
      let inflated = 0;
      s = new ByteStream(async (b) => {
        if (gzipProblem !== null) return null;
        try {
          const n = await readPlain(b);
          if (n !== null) inflated += n;
          return n;
        } catch (e) {
          // What precedes the damage is read; the rest is counted as malformed, located.
          gzipProblem =
            `gzip data is damaged or cut short near compressed byte ${raw.offset} (after ${inflated} bytes inflated): ${
              (e as Error).message
            }`;
          if (inflated === 0) throw new InputError(path, `gzip data is corrupt: ${(e as Error).message}`);
          return null;
        }
      });
      head = await s.peek(16);
    }
    const format = sniffFormat(await s.peek(4096));
    if (format === null) {
      if (head.length === 0) throw new InputError(path, "file is empty");
      throw new InputError(
        path,
        "not a PCAP, pcapng, dnstap or Zeek dns.log file, nor a BIND or Unbound query log (checked its first bytes)",
      );
    }
    stats.format = format;
    const onProgress = options.onProgress;
    let progressAt = 0;
    const progress = () => {
      if (onProgress !== undefined && s.offset - progressAt > (16 << 20)) {
        progressAt = s.offset;
        onProgress(s.offset, stats);
      }
    };
    let n = 0;
    const reader: InputReader = isLogFormat(format)
      ? {
        kind: "records",
        read: (sink) =>
          lineReader(format)(s, {
            transaction(tx) {
              sink.transaction(tx);
              progress();
            },
            problem: (reason, line) => sink.problem(reason, line),
            skipped: () => sink.skipped(),
          }),
      }
      : format === "dnstap"
      ? {
        kind: "messages",
        read(sink) {
          const feed = new DnstapFeed(sink);
          return readFrameStream(s, {
            data(buf, start, end, offset) {
              feed.frame(buf, start, end, offset);
              if ((++n & 0xfff) === 0) progress();
            },
            problem: (reason, offset) => sink.problem(reason, offset),
          });
        },
      }
      : {
        kind: "frames",
        read: (sink) =>
          (format === "pcap" ? readPcap : readPcapng)(s, {
            frame(f) {
              sink.frame(f);
              if ((++n & 0xfff) === 0) progress();
            },
            problem: (reason, offset, fatal) => sink.problem(reason, offset, fatal),
            linkType: (t) => sink.linkType(t),
          }),
      };
    const finish = async () => {
      if (gzipProblem !== null) countMalformed(stats, gzipProblem, { offset: raw.offset });
      stats.bytes = s.offset;
      if (hash !== null) {
        // A parser that stopped early (a fatal problem) left bytes unread: hash them too.
        while ((await s.skip(1 << 24)) > 0) { /* drain */ }
        stats.sha256 = hash.digest("hex");
      } else if (threaded !== null) {
        threaded.release();
        stats.sha256 = await threaded.digest;
      }
      return stats;
    };
    return { stats, reader, finish, close };
  } catch (e) {
    await close();
    throw e;
  }
}

/**
 * The frame reader of a capture; for anything else an {@link InputError}
 * saying what the input is and, in `why`, what needs packets.
 */
export function captureFrames(input: ReadableInput, why: string): (sink: FrameSink) => Promise<void> {
  if (input.reader.kind === "frames") return input.reader.read;
  const format = input.stats.format;
  const what = format === "dnstap" ? "dnstap" : format.startsWith("zeek") ? "a Zeek log" : "a resolver's query log";
  throw new InputError(input.stats.path, `is ${what}, not a capture: ${why}`);
}

/**
 * Read one capture or log and stream its transactions.
 * Throws {@link InputError} when the file cannot be read at all; broken
 * parts inside a readable file are counted in the returned stats.
 */
export async function ingestFile(input: Input, options: IngestOptions = {}): Promise<FileStats> {
  const opened = await openInput(input, options);
  try {
    const { stats, reader } = opened;
    const onTransaction = options.onTransaction;
    if (reader.kind === "records") {
      await reader.read(countingRecords(stats, onTransaction));
    } else {
      const frames = new FrameDecoder(stats, onTransaction ?? ignore, {
        dnsPorts: options.dnsPorts,
        pairing: options.pairing,
        dns: options.dns,
      });
      await reader.read(frames);
      frames.end();
    }
    return await opened.finish();
  } finally {
    await opened.close();
  }
}

/**
 * Read several inputs one after another into one transaction stream.
 * Returns the stats of each file; stops at the first unreadable file.
 */
export async function ingestFiles(paths: Input[], options: IngestOptions = {}): Promise<FileStats[]> {
  const out: FileStats[] = [];
  for (const p of paths) out.push(await ingestFile(p, options));
  return out;
}
