/**
 * Bytes into Plumbum's byte strings (one character per byte, so nothing an
 * attacker sends is lost or re-encoded), and copies of small byte runs that
 * outlive the reused input buffer.
 *
 * @module
 */

const utf8 = new TextDecoder();

// Small copies share 64 KB slabs: one view each instead of one buffer each.
// The slab is an allocator, not a table: decoders sharing it never see each
// other's bytes.
const SLAB = 1 << 16;
let slab = new Uint8Array(SLAB);
let slabUsed = SLAB;

/** A copy of `b[start..end)` that outlives the (reused) input buffer. */
export function copyBytes(b: Uint8Array, start: number, end: number): Uint8Array {
  const n = end - start;
  if (n > 1024) return b.slice(start, end);
  if (slabUsed + n > SLAB) {
    slab = new Uint8Array(SLAB);
    slabUsed = 0;
  }
  const at = slabUsed;
  for (let i = 0; i < n; i++) slab[at + i] = b[start + i];
  slabUsed += n;
  return slab.subarray(at, at + n);
}

/** Decode TXT RDATA into its character-strings (byte strings). */
export function readCharacterStrings(msg: Uint8Array, off: number, end: number): string[] | null {
  const out: string[] = [];
  let p = off;
  while (p < end) {
    const len = msg[p];
    if (p + 1 + len > end) return null;
    out.push(bytesToByteString(msg, p + 1, p + 1 + len));
    p += 1 + len;
  }
  return out;
}

// Argument lists for String.fromCharCode.apply, one per length, reused within
// one call: a plain array of small integers is read faster than a typed-array view.
const charArgs: number[][] = [];

/** Convert bytes to a byte string (one char per byte). */
export function bytesToByteString(b: Uint8Array, start: number, end: number): string {
  const n = end - start;
  if (n <= 0) return "";
  // Longer ASCII text (TXT payloads, encoded data) decodes natively: the same string, several times faster.
  if (n > 48) {
    let any = 0;
    for (let i = start; i < end; i++) any |= b[i];
    if (any < 0x80) return utf8.decode(b.subarray(start, end));
  }
  if (n <= 256) {
    const args = charArgs[n] ??= new Array<number>(n).fill(0);
    for (let i = 0; i < n; i++) args[i] = b[start + i];
    return String.fromCharCode.apply(null, args);
  }
  let s = "";
  for (let i = start; i < end; i += 4096) {
    s += String.fromCharCode.apply(null, b.subarray(i, Math.min(end, i + 4096)) as unknown as number[]);
  }
  return s;
}
