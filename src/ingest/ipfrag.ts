/**
 * IPv4 and IPv6 fragment reassembly with bounded memory: at most
 * {@link FragmentLimits.maxDatagrams} datagrams in progress, each at most
 * 65 535 bytes, dropped after {@link FragmentLimits.timeoutSecs} of capture
 * time without completing.
 *
 * @module
 */

/** Bounds of the reassembler. */
export interface FragmentLimits {
  maxDatagrams: number;
  timeoutSecs: number;
}

interface Pending {
  first: number;
  parts: { offset: number; data: Uint8Array }[];
  total: number; // -1 until the last fragment arrives
  bytes: number;
}

/** Reassembles fragmented IP payloads. */
export class FragmentReassembler {
  readonly #pending = new Map<string, Pending>();
  readonly #limits: FragmentLimits;
  /** Datagrams dropped (timeout, overflow, overlap or size). */
  dropped = 0;

  constructor(limits: FragmentLimits = { maxDatagrams: 4096, timeoutSecs: 30 }) {
    this.#limits = limits;
  }

  /** Datagrams currently waiting for fragments. */
  get size(): number {
    return this.#pending.size;
  }

  /**
   * Add one fragment. Returns the whole transport payload when this fragment
   * completes the datagram, otherwise null.
   */
  add(key: string, ts: number, offset: number, more: boolean, data: Uint8Array): Uint8Array | null {
    this.expire(ts);
    let p = this.#pending.get(key);
    if (p === undefined) {
      if (this.#pending.size >= this.#limits.maxDatagrams) {
        const oldest = this.#pending.keys().next().value as string;
        this.#pending.delete(oldest);
        this.dropped++;
      }
      p = { first: ts, parts: [], total: -1, bytes: 0 };
      this.#pending.set(key, p);
    }
    const end = offset + data.length;
    if (end > 65535 || (!more && p.total >= 0 && p.total !== end)) {
      this.#pending.delete(key);
      this.dropped++;
      return null;
    }
    if (!more) p.total = end;
    p.parts.push({ offset, data: data.slice() });
    p.bytes += data.length;
    if (p.total < 0 || p.bytes < p.total) return null;
    // Check coverage and assemble.
    p.parts.sort((a, b) => a.offset - b.offset);
    const out = new Uint8Array(p.total);
    let covered = 0;
    for (const part of p.parts) {
      if (part.offset > covered) return null; // a hole: wait for more
      const stop = Math.min(p.total, part.offset + part.data.length);
      if (stop > covered) {
        out.set(part.data.subarray(covered - part.offset, stop - part.offset), covered);
        covered = stop;
      }
    }
    if (covered < p.total) return null;
    this.#pending.delete(key);
    return out;
  }

  /** Drop datagrams that have waited longer than the timeout at time `ts` (a quiet link calls this on a clock). */
  expire(ts: number): void {
    for (const [k, p] of this.#pending) {
      if (ts - p.first <= this.#limits.timeoutSecs) break;
      this.#pending.delete(k);
      this.dropped++;
    }
  }
}
