/**
 * Small bounded-memory summaries used by the per-domain accumulator.
 *
 * @module
 */

import { deflatedLength, type DeflatePool } from "./deflate_pool.ts";

/**
 * Murmur3's 32-bit finalizer: spreads every input bit over the output. It
 * takes and gives the 32 bits as a signed integer: an unsigned one past 2^31
 * is not an int32 to V8, whose optimized code then kept being thrown away
 * (4539 deoptimizations of the distinct counter in one `plan`).
 */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/**
 * Distinct counter: exact up to `exactLimit` items, then a HyperLogLog with
 * 2^12 registers (about 1.6 % standard error) in 4 KB.
 */
export class DistinctCounter {
  /** Exact items (made at the first: many of a domain's counters never see one); null past the limit. */
  #exact: Set<string> | null = null;
  #registers: Uint8Array | null = null;
  readonly #exactLimit: number;

  constructor(exactLimit = 2048) {
    this.#exactLimit = exactLimit;
  }

  /** Add an item; returns true when it was certainly new (exact mode only). */
  add(item: string): boolean {
    const exact = this.#registers === null ? (this.#exact ??= new Set()) : null;
    if (exact !== null) {
      const before = exact.size;
      exact.add(item);
      if (exact.size === before) return false;
      if (exact.size > this.#exactLimit) {
        this.#registers = new Uint8Array(4096);
        for (const x of exact) this.#hll(x);
        this.#exact = null;
      }
      return true;
    }
    this.#hll(item);
    return false;
  }

  /** Whether counting is still exact. */
  get exact(): boolean {
    return this.#registers === null;
  }

  /** The (estimated) number of distinct items. */
  get count(): number {
    if (this.#registers === null) return this.#exact?.size ?? 0;
    const r = this.#registers;
    const m = r.length;
    let sum = 0, zeros = 0;
    for (let i = 0; i < m; i++) {
      sum += Math.pow(2, -r[i]);
      if (r[i] === 0) zeros++;
    }
    const alpha = 0.7213 / (1 + 1.079 / m);
    let e = alpha * m * m / sum;
    if (e <= 2.5 * m && zeros > 0) e = m * Math.log(m / zeros);
    return Math.round(e);
  }

  #hll(item: string): void {
    // Two 32-bit FNV-1a hashes of the char codes, from two seeds, in one pass
    // (past the exact limit every name and answer of a domain comes here:
    // one loop instead of two took 0.83 instead of 1.8 µs for 130 chars).
    // The second decorrelates the rank bits from the register index; FNV
    // alone mixes poorly on similar names, so both finish with fmix32.
    let a = 0x811c9dc5 | 0;
    let b = 0x9747b28c | 0;
    for (let i = 0; i < item.length; i++) {
      const c = item.charCodeAt(i);
      a = Math.imul(a ^ c, 0x01000193);
      b = Math.imul(b ^ c, 0x01000193);
    }
    const h = fmix32(a);
    const h2 = fmix32(b);
    const idx = h >>> 20;
    const rank = Math.clz32(h2) + 1;
    if (rank > this.#registers![idx]) this.#registers![idx] = rank;
  }
}

/** Running mean and variance (Welford), with min and max. */
export class RunningStats {
  n = 0;
  mean = 0;
  #m2 = 0;
  min = Infinity;
  max = -Infinity;

  add(x: number): void {
    this.n++;
    const d = x - this.mean;
    this.mean += d / this.n;
    this.#m2 += d * (x - this.mean);
    if (x < this.min) this.min = x;
    if (x > this.max) this.max = x;
  }

  /** Population standard deviation. */
  get std(): number {
    return this.n > 0 ? Math.sqrt(this.#m2 / this.n) : 0;
  }
}

/**
 * A uniform sample of at most `size` values (reservoir sampling with a
 * deterministic generator, so the same input always keeps the same sample).
 */
export class Reservoir {
  readonly values: number[] = [];
  #seen = 0;
  #state = 0x2545f491;
  readonly #size: number;

  constructor(size = 512) {
    this.#size = size;
  }

  add(x: number): void {
    this.#seen++;
    if (this.values.length < this.#size) {
      this.values.push(x);
      return;
    }
    // xorshift32
    let s = this.#state;
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    // Kept as a signed 32-bit integer, read as unsigned for the modulus: the same bits, and an
    // integer modulus (a stored unsigned value past 2^31 is a double to V8, and its modulus a call).
    this.#state = s;
    const j = (s >>> 0) % this.#seen;
    if (j < this.#size) this.values[j] = x;
  }
}

/** Percentile of a sample (nearest rank), or null when empty. */
export function percentile(values: readonly number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p / 100 * sorted.length) - 1));
  return sorted[i];
}

/**
 * Counts per time bucket, starting at one-minute buckets and doubling the
 * width whenever more than `maxBuckets` would be needed.
 */
export class ActivitySeries {
  start: number | null = null;
  width = 60;
  counts: number[] = [];
  readonly #maxBuckets: number;

  constructor(maxBuckets = 1440) {
    this.#maxBuckets = maxBuckets;
  }

  add(ts: number): void {
    if (this.start === null) this.start = Math.floor(ts / 60) * 60;
    if (ts < this.start) return; // before the first bucket: out of order, not counted
    let i = Math.floor((ts - this.start) / this.width);
    while (i >= this.#maxBuckets) {
      const merged: number[] = [];
      for (let k = 0; k < this.counts.length; k += 2) merged.push((this.counts[k] ?? 0) + (this.counts[k + 1] ?? 0));
      this.counts = merged;
      this.width *= 2;
      i = Math.floor((ts - this.start) / this.width);
    }
    while (this.counts.length <= i) this.counts.push(0);
    this.counts[i]++;
  }
}

const charCounts = new Uint32Array(256);
const seenChars = new Uint8Array(256);

/** Shannon entropy of a byte string's characters, in bits per character. */
export function shannonEntropy(s: string): number {
  const n = s.length;
  if (n === 0) return 0;
  let distinct = 0;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i) & 0xff;
    if (charCounts[c]++ === 0) seenChars[distinct++] = c;
  }
  let h = 0;
  for (let k = 0; k < distinct; k++) {
    const c = seenChars[k];
    const p = charCounts[c] / n;
    h -= p * Math.log2(p);
    charCounts[c] = 0;
  }
  return h;
}

/**
 * Bounded counter of keys (strings, or numbers such as record types): keys
 * past `maxKeys` are counted under "(other)".
 */
export class BoundedCounts<K extends string | number = string> {
  // A mutable cell per key: counting a known key is one map lookup. Made at the first key (most of a domain's
  // counters see numbers only, or nothing).
  #counts: Map<K, { n: number }> | null = null;
  // Integer keys from -1 to 254 (record types, rcodes, "no rcode") count in two short arrays, scanned: a
  // domain sees a few such keys, and an array of 256 slots (no scan) was 2 KB per counter, three per domain.
  // Made with the first such key, one slot long (an empty array's first push makes room for 17).
  #smallKeys: number[] | null = null;
  #smallCounts: number[] | null = null;
  /** Where the small key added last is. */
  #smallAt = 0;
  /** The key added last (never a key under "(other)") and its cell. */
  #lastKey: K | undefined = undefined;
  #lastCell: { n: number } | null = null;
  other = 0;
  readonly #maxKeys: number;

  constructor(maxKeys = 256) {
    this.#maxKeys = maxKeys;
  }

  /** Distinct keys counted (not those under "(other)"). */
  get size(): number {
    return (this.#counts?.size ?? 0) + (this.#smallKeys?.length ?? 0);
  }

  add(key: K, n = 1): void {
    if (typeof key === "number" && (key | 0) === key && key >= -1 && key < 255) {
      const keys = this.#smallKeys;
      if (keys === null) {
        if (this.size >= this.#maxKeys) {
          this.other += n;
          return;
        }
        this.#smallKeys = [key];
        this.#smallCounts = [n];
        return;
      }
      let at = this.#smallAt;
      if (keys[at] !== key) {
        at = keys.indexOf(key);
        if (at < 0) {
          if (this.size >= this.#maxKeys) {
            this.other += n;
            return;
          }
          at = keys.push(key) - 1;
          this.#smallCounts!.push(0);
        }
        this.#smallAt = at;
      }
      this.#smallCounts![at] += n;
      return;
    }
    // Consecutive adds are often of one key (one client's burst, one service): no lookup then.
    if (key === this.#lastKey) {
      this.#lastCell!.n += n;
      return;
    }
    const counts = this.#counts ??= new Map();
    let c = counts.get(key);
    if (c === undefined) {
      if (this.size >= this.#maxKeys) {
        this.other += n;
        return;
      }
      counts.set(key, c = { n: 0 });
    }
    c.n += n;
    this.#lastKey = key;
    this.#lastCell = c;
  }

  /**
   * The `k` largest entries by their names (`name` turns a key into one;
   * keys are their own names by default), biggest first, ties by name.
   */
  top(k: number, name: (key: K) => string = String): [string, number][] {
    const all: [string, number][] = [];
    for (const [key, c] of this.#counts ?? []) all.push([name(key), c.n]);
    const keys = this.#smallKeys ?? [], counts = this.#smallCounts ?? [];
    for (let i = 0; i < keys.length; i++) all.push([name(keys[i] as K), counts[i]]);
    return all.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, k);
  }
}

/** Deflated sizes of short blocks, by their bytes (as a byte string); starts over when full. */
const deflatedShort = new Map<string, number>();
const SHORT_BLOCK = 64;
const SHORT_KEPT = 4096;

/**
 * Raw deflate's output size for `bytes` (level 6). Each call of zlib makes
 * and frees a compressor of some 270 KB: 13 µs, and a heap that grew 80 MB
 * over 300 000 calls. Most domains' blocks are a few bytes, and the same
 * few ("www", "api", "mail"): their sizes are looked up.
 */
function deflatedSize(bytes: Uint8Array): number {
  if (bytes.length > SHORT_BLOCK) return deflatedLength(bytes);
  const key = String.fromCharCode.apply(null, bytes as unknown as number[]);
  let n = deflatedShort.get(key);
  if (n === undefined) {
    n = deflatedLength(bytes);
    if (deflatedShort.size >= SHORT_KEPT) deflatedShort.clear();
    deflatedShort.set(key, n);
  }
  return n;
}

/**
 * Compressed size of everything added, in bytes: an upper bound on the
 * information it carried. Data is buffered in 64 KB blocks, each deflated
 * on its own, so memory stays bounded (redundancy across blocks is not
 * credited, which only overstates the bound slightly). With a `pool`, full
 * blocks are deflated on its thread; the sizes are the same.
 */
export class CompressedSize {
  #buf: Uint8Array | null = null;
  #len = 0;
  #done = 0;
  readonly #pool: DeflatePool | null;
  /** Full blocks on the pool's thread, their sizes not yet read. */
  #pending: number[] | null = null;

  /** An empty measure; full blocks go to `pool` when given. */
  constructor(pool: DeflatePool | null = null) {
    this.#pool = pool;
  }

  /** Add a byte string. */
  add(s: string): void {
    // A domain's names or answers are often a few bytes in all: the buffer starts small and grows.
    let buf = this.#buf ?? (this.#buf = new Uint8Array(64));
    let len = this.#len;
    // Copy in runs that fit the buffer (the fields stay out of the inner loop).
    for (let i = 0; i < s.length;) {
      if (len === buf.length) {
        if (buf.length < 65536) {
          const grown: Uint8Array = new Uint8Array(buf.length * 4);
          grown.set(buf);
          buf = this.#buf = grown;
        } else {
          this.#len = len;
          this.#flush();
          len = 0;
        }
      }
      const stop = Math.min(s.length, i + buf.length - len);
      for (; i < stop; i++) buf[len++] = s.charCodeAt(i) & 0xff;
    }
    this.#len = len;
  }

  #flush(): void {
    if (this.#len === 0) return;
    const block = this.#buf!.subarray(0, this.#len);
    this.#len = 0;
    const pool = this.#pool;
    const slot = pool === null ? null : pool.submit(block);
    if (slot === null) {
      this.#done += deflatedSize(block);
      return;
    }
    const pending = this.#pending ??= [];
    pending.push(slot);
    // Sizes the thread has written are read now: the slots go back to the pool.
    if (pending.length > 1) {
      let kept = 0;
      for (const p of pending) {
        if (pool!.done(p)) this.#done += pool!.take(p);
        else pending[kept++] = p;
      }
      pending.length = kept;
    }
  }

  /** Compressed bytes so far (the pending block included). */
  get bytes(): number {
    if (this.#pending !== null) {
      for (const p of this.#pending) this.#done += this.#pool!.take(p);
      this.#pending = null;
    }
    if (this.#len === 0) return this.#done;
    return this.#done + deflatedSize(this.#buf!.subarray(0, this.#len));
  }
}
