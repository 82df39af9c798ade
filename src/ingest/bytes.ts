/**
 * A buffered byte reader over a file, standard input or a decompressed
 * stream. Parsers look at `buf[start..end)` synchronously and call
 * {@link ByteStream.fill} only when a record does not fit, so the per-record
 * cost stays a few comparisons.
 *
 * @module
 */

/** Something that reads bytes into a buffer, like `Deno.FsFile.read`. */
export type ReadFn = (into: Uint8Array) => Promise<number | null>;

const DEFAULT_CHUNK = 4 << 20;
/**
 * Room kept before a read-ahead's bytes, where the unread rest of the old
 * window goes: enough for any one capture record (pcap and pcapng frames are
 * at most 256 KB and a block header).
 */
const READ_AHEAD_HEAD = 512 << 10;

/** Options of a {@link ByteStream}. */
export interface ByteStreamOptions {
  /** The largest record the caller may ask for at once (default 64 MB). */
  maxWindow?: number;
  /**
   * Keep one read in flight into a second buffer while the caller parses
   * the window (default false), so that waiting for the file overlaps the
   * parsing. For files: a stream that may block (a terminal, a pipe) should
   * not be read ahead of need.
   */
  readAhead?: boolean;
}

/** Buffered reader with a sliding window. */
export class ByteStream {
  /** The window; valid bytes are `buf[start..end)`. */
  buf: Uint8Array;
  start = 0;
  end = 0;
  /** File offset of `buf[0]`. */
  base = 0;
  eof = false;
  readonly #read: ReadFn;
  readonly #maxWindow: number;
  readonly #readAhead: boolean;
  /** The read-ahead buffer: its bytes from {@link READ_AHEAD_HEAD} on are being read into. */
  #spare: Uint8Array | null = null;
  /** The read in flight into {@link #spare}, if any. */
  #pending: Promise<number | null> | null = null;

  /** @param read reads more bytes */
  constructor(read: ReadFn, options: ByteStreamOptions = {}) {
    this.#read = read;
    this.#maxWindow = options.maxWindow ?? 64 << 20;
    this.#readAhead = options.readAhead ?? false;
    this.buf = new Uint8Array(DEFAULT_CHUNK);
  }

  /** Bytes available in the window. */
  /** Whether reading more may wait on no one (a regular file): a pipe's writer may keep it open and quiet. */
  get readsAhead(): boolean {
    return this.#readAhead;
  }

  get available(): number {
    return this.end - this.start;
  }

  /** File offset of `buf[start]`. */
  get offset(): number {
    return this.base + this.start;
  }

  /**
   * Make at least `n` bytes available. Returns false at end of input (or
   * when `n` is larger than the window may grow), leaving whatever is there.
   */
  async fill(n: number): Promise<boolean> {
    if (this.end - this.start >= n) return true;
    if (n > this.#maxWindow) return false;
    if (this.#pending !== null && (await this.#takeReadAhead()) && this.end - this.start >= n) {
      this.#startReadAhead();
      return true;
    }
    // Move the remainder to the front, growing the buffer if needed.
    if (this.start > 0) {
      this.buf.copyWithin(0, this.start, this.end);
      this.base += this.start;
      this.end -= this.start;
      this.start = 0;
    }
    if (n > this.buf.length) {
      const size = Math.min(this.#maxWindow, Math.max(n, this.buf.length * 2));
      const bigger = new Uint8Array(size);
      bigger.set(this.buf.subarray(0, this.end));
      this.buf = bigger;
    }
    while (this.end < n && !this.eof) {
      const got = await this.#read(this.buf.subarray(this.end));
      if (got === null || got === 0) {
        if (got === null) this.eof = true;
        else continue;
      } else this.end += got;
    }
    this.#startReadAhead();
    return this.end - this.start >= n;
  }

  /** Start reading the next chunk into the spare buffer (when reading ahead and not at the end). */
  #startReadAhead(): void {
    if (!this.#readAhead || this.eof || this.#pending !== null) return;
    this.#spare ??= new Uint8Array(READ_AHEAD_HEAD + DEFAULT_CHUNK);
    const p = this.#read(this.#spare.subarray(READ_AHEAD_HEAD));
    // A stream abandoned before its read-ahead is awaited must not report the rejection as unhandled.
    p.catch(() => {});
    this.#pending = p;
  }

  /**
   * Wait for the read in flight and put its bytes after the window's unread
   * rest: by swapping buffers (the rest copied into the room before them)
   * when the rest fits there, else by copying. Returns false at the end.
   */
  async #takeReadAhead(): Promise<boolean> {
    const got = await this.#pending!;
    this.#pending = null;
    if (got === null) {
      this.eof = true;
      return false;
    }
    const spare = this.#spare!;
    const rest = this.end - this.start;
    if (rest <= READ_AHEAD_HEAD) {
      const at = READ_AHEAD_HEAD - rest;
      spare.set(this.buf.subarray(this.start, this.end), at);
      // buf[start] was at file offset base + start; it is now spare[at].
      this.base += this.start - at;
      this.#spare = this.buf;
      this.buf = spare;
      this.start = at;
      this.end = READ_AHEAD_HEAD + got;
      return true;
    }
    if (rest + got > this.buf.length) {
      const bigger = new Uint8Array(rest + got + DEFAULT_CHUNK);
      bigger.set(this.buf.subarray(this.start, this.end));
      this.buf = bigger;
    } else this.buf.copyWithin(0, this.start, this.end);
    this.base += this.start;
    this.start = 0;
    this.end = rest;
    this.buf.set(spare.subarray(READ_AHEAD_HEAD, READ_AHEAD_HEAD + got), rest);
    this.end += got;
    return true;
  }

  /** Wait for a read still in flight (its bytes are dropped, a failure ignored): call before closing the input. */
  async settle(): Promise<void> {
    const p = this.#pending;
    this.#pending = null;
    if (p !== null) await p.catch(() => null);
  }

  /** Fill the window as far as it goes (used for format sniffing). */
  async peek(n: number): Promise<Uint8Array> {
    await this.fill(n);
    return this.buf.subarray(this.start, Math.min(this.end, this.start + n));
  }

  /** Skip `n` bytes, reading past the window when needed. Returns bytes skipped. */
  async skip(n: number): Promise<number> {
    let left = n;
    while (left > 0) {
      const have = this.end - this.start;
      if (have >= left) {
        this.start += left;
        return n;
      }
      left -= have;
      this.start = this.end;
      if (!(await this.fill(1))) return n - left;
    }
    return n;
  }
}

/** Adapt a ReadableStream to a {@link ReadFn}. */
export function readFnFromStream(stream: ReadableStream<Uint8Array>): ReadFn {
  const reader = stream.getReader();
  let pending: Uint8Array | null = null;
  return async (into) => {
    if (pending === null || pending.length === 0) {
      const r = await reader.read();
      if (r.done) return null;
      pending = r.value;
    }
    const n = Math.min(into.length, pending.length);
    into.set(pending.subarray(0, n));
    pending = pending.subarray(n);
    return n;
  };
}

/** The unsigned 32-bit big-endian number at `b[o..o+4)` (network order: pcap's other byte order, Frame Streams). */
export function u32be(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}
