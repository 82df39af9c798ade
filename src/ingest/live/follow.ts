/**
 * Following a growing log (`stream --follow PATH`): Zeek's dns.log (TSV or
 * JSON) or a resolver's query log, read as it is written, through the same
 * line readers as a file, surviving rotation:
 *
 * - **rename and a new file** (logrotate's default, Zeek's own rotation):
 *   the file held open is read to its end, then the new file at the path
 *   from its start; nothing is lost or read twice.
 * - **gzip of the old file** after the rename: the handle still reads it.
 * - **copy-truncate**: the file is found shorter than what was read, and is
 *   read again from its start. Lines written between logrotate's copy and
 *   its truncation are in the copy only (logrotate says so); they are not
 *   read.
 *
 * The path is checked every {@link POLL_MS} ms once the end is reached.
 *
 * @module
 */

import { ByteStream } from "../bytes.ts";
import { isLogFormat, lineReader, type LogFormat, sniffFormat } from "../source.ts";
import type { ZeekSink } from "../zeek.ts";
import { SourceError, type SourceReady } from "./source.ts";

/** How often a log at its end is looked at again (ms). */
const POLL_MS = 250;

/** What a followed log hands on. */
export interface FollowHandlers extends ZeekSink {
  /** Awaited before reading more: a slower consumer holds the reading back. */
  pause?(): Promise<void>;
}

/** Counters of a followed log. */
export interface FollowCounts {
  /** Files read (the first, and one more at each rotation by rename). */
  files: number;
  /** Times the file was found truncated (copy-truncate). */
  truncations: number;
  /** Bytes read in all. */
  bytes: number;
}

/** A log followed as it grows (see the module's notes). */
export class FollowSource {
  /** Resolves once the log's format is known (rejects with a {@link SourceError} when it cannot be read). */
  readonly ready: Promise<SourceReady & { format: LogFormat }>;
  /** Resolves when stopped and every line read is handed on. */
  readonly done: Promise<null>;
  readonly counts: FollowCounts = { files: 0, truncations: 0, bytes: 0 };
  readonly #path: string;
  #stopped = false;
  #wake: (() => void) | null = null;

  private constructor(path: string, h: FollowHandlers) {
    this.#path = path;
    let format: LogFormat;
    this.ready = this.#sniff().then((f) => {
      format = f;
      return { linkType: -1, warning: null, version: "", filter: null, format: f };
    });
    this.done = this.ready.then(() => this.#follow(format, h));
    this.done.catch(() => {});
  }

  /** Follow the log at `path`. */
  static follow(path: string, handlers: FollowHandlers): FollowSource {
    return new FollowSource(path, handlers);
  }

  /** Wait up to `ms` (less when stopped). */
  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.#wake = null;
        resolve();
      }, ms);
      this.#wake = () => {
        clearTimeout(t);
        this.#wake = null;
        resolve();
      };
    });
  }

  /** The log's format, from its first bytes (waiting while it is empty or too short to tell). */
  async #sniff(): Promise<LogFormat> {
    while (!this.#stopped) {
      let head: Uint8Array;
      try {
        using f = await Deno.open(this.#path);
        if (!(await f.stat()).isFile) throw new SourceError("file", `${this.#path} is not a regular file`);
        head = new Uint8Array(4096);
        let n = 0;
        for (let r; n < head.length && (r = await f.read(head.subarray(n))) !== null;) n += r;
        head = head.subarray(0, n);
      } catch (e) {
        if (e instanceof SourceError) throw e;
        if (e instanceof Deno.errors.NotFound) {
          throw new SourceError("file", `${this.#path} does not exist (--follow waits for lines, not for the file)`);
        }
        throw new SourceError("file", `cannot read ${this.#path}: ${(e as Error).message}`);
      }
      const format = sniffFormat(head);
      if (format !== null && isLogFormat(format)) return format;
      if (format !== null || head.length === 4096 || (head[0] === 0x1f && head[1] === 0x8b)) {
        throw new SourceError(
          "file",
          `${this.#path} is not a Zeek dns.log nor a BIND or Unbound query log: --follow reads growing logs (apply reads files)`,
        );
      }
      // Empty, or not one whole line yet.
      await this.#sleep(POLL_MS);
    }
    throw new SourceError("file", `stopped before ${this.#path} held a line`);
  }

  async #follow(format: LogFormat, h: FollowHandlers): Promise<null> {
    let file = await Deno.open(this.#path);
    let ino = (await file.stat()).ino;
    let pos = 0;
    /** Polls at the old file's end since a new file appeared at the path (a writer may not have moved on yet). */
    let idleSinceRotation = 0;
    this.counts.files = 1;
    const read = async (into: Uint8Array): Promise<number | null> => {
      while (!this.#stopped) {
        await h.pause?.();
        const n = await file.read(into);
        if (n !== null && n > 0) {
          pos += n;
          this.counts.bytes += n;
          idleSinceRotation = 0;
          return n;
        }
        // At the end of the file held: has the path moved on?
        let now: Deno.FileInfo | null = null;
        try {
          now = await Deno.stat(this.#path);
        } catch {
          // Between a rename and the new file: wait.
        }
        // Renamed away (and maybe compressed): the old file is read until it has been quiet for two polls (its
        // writer may still be finishing it), then the new file from its start.
        if (now !== null && now.ino !== ino && ++idleSinceRotation >= 2) {
          idleSinceRotation = 0;
          file.close();
          file = await Deno.open(this.#path);
          ino = (await file.stat()).ino;
          pos = 0;
          this.counts.files++;
          continue;
        }
        if (now !== null && now.ino === ino && now.size < pos) {
          // Copy-truncate: the same file, shorter than what was read.
          await file.seek(0, Deno.SeekMode.Start);
          pos = 0;
          this.counts.truncations++;
          continue;
        }
        await this.#sleep(POLL_MS);
      }
      return null;
    };
    const s = new ByteStream(read);
    try {
      await lineReader(format)(s, h);
    } finally {
      file.close();
    }
    return null;
  }

  /** Stop at the end of what is written; {@link done} resolves once it is handed on. */
  stop(): void {
    this.#stopped = true;
    this.#wake?.();
  }

  /** As {@link stop}. */
  kill(): void {
    this.stop();
  }
}
