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

  /**
   * @param read reads more bytes
   * @param maxWindow the largest record the caller may ask for at once
   */
  constructor(read: ReadFn, maxWindow = 64 << 20) {
    this.#read = read;
    this.#maxWindow = maxWindow;
    this.buf = new Uint8Array(DEFAULT_CHUNK);
  }

  /** Bytes available in the window. */
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
    return this.end - this.start >= n;
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
