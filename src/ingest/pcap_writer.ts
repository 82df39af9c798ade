/**
 * Writes a classic pcap file (microsecond timestamps, the host's byte order
 * as libpcap writes it) through a file handle the caller opened and
 * checked: frames are buffered and written in large blocks.
 *
 * @module
 */

import { writeAll } from "../files.ts";

/** Bytes buffered before a write. */
const BUFFER_BYTES = 1 << 18;

/** A pcap file being written. */
export class PcapWriter {
  readonly #file: Deno.FsFile;
  readonly #buf = new Uint8Array(BUFFER_BYTES);
  readonly #dv = new DataView(this.#buf.buffer);
  #used = 0;
  /** Frames written so far. */
  frames = 0;

  /** Starts the file with its header: link type `linkType`, frames cut at `snaplen` bytes. */
  constructor(file: Deno.FsFile, linkType: number, snaplen: number) {
    this.#file = file;
    const dv = this.#dv;
    dv.setUint32(0, 0xa1b2c3d4, true);
    dv.setUint16(4, 2, true);
    dv.setUint16(6, 4, true);
    dv.setUint32(16, snaplen >>> 0, true);
    dv.setUint32(20, linkType >>> 0, true);
    this.#used = 24;
  }

  /** One frame: `ts` seconds, its captured bytes, `wireLen` bytes on the wire. */
  add(ts: number, bytes: Uint8Array, wireLen: number): void {
    const need = 16 + bytes.length;
    if (this.#used + need > this.#buf.length) this.flush();
    if (need > this.#buf.length) {
      this.#header(ts, bytes.length, wireLen);
      this.flush();
      this.#write(bytes);
    } else {
      this.#header(ts, bytes.length, wireLen);
      this.#buf.set(bytes, this.#used);
      this.#used += bytes.length;
    }
    this.frames++;
  }

  #header(ts: number, caplen: number, wireLen: number): void {
    let sec = Math.floor(ts);
    let usec = Math.round((ts - sec) * 1e6);
    if (usec >= 1e6) {
      sec++;
      usec -= 1e6;
    }
    const dv = this.#dv, at = this.#used;
    dv.setUint32(at, sec >>> 0, true);
    dv.setUint32(at + 4, usec, true);
    dv.setUint32(at + 8, caplen, true);
    dv.setUint32(at + 12, wireLen >>> 0, true);
    this.#used += 16;
  }

  #write(bytes: Uint8Array): void {
    writeAll(this.#file, bytes);
  }

  /** Write what is buffered (an error of the file, such as a full disk, is thrown). */
  flush(): void {
    if (this.#used === 0) return;
    this.#write(this.#buf.subarray(0, this.#used));
    this.#used = 0;
  }

  /** Flush and close the file. */
  close(): void {
    try {
      this.flush();
    } finally {
      this.#file.close();
    }
  }
}
