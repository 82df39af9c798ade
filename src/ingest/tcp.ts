/**
 * DNS over TCP (RFC 7766): per-flow stream reassembly and two-byte length
 * framing. Retransmitted and overlapping segments are trimmed, out-of-order
 * segments wait (bounded per flow), and flows are bounded in number and
 * expire when idle.
 *
 * @module
 */

/** Bounds of the TCP reassembler. */
export interface TcpLimits {
  maxFlows: number;
  /** Out-of-order bytes held per flow. */
  maxPendingBytes: number;
  idleSecs: number;
}

interface Flow {
  next: number; // next expected sequence number (uint32)
  stream: Uint8Array; // bytes received in order, not yet framed
  streamLen: number;
  ooo: Map<number, Uint8Array>;
  oooBytes: number;
  last: number;
}

/** Serial-number arithmetic (RFC 1982) on 32-bit sequence numbers. */
function seqDiff(a: number, b: number): number {
  return ((a - b) | 0);
}

/** Reassembles DNS messages from TCP segments. */
export class TcpReassembler {
  readonly #flows = new Map<string, Flow>();
  readonly #limits: TcpLimits;
  /** Bytes or segments given up on (overflow, gaps, bad framing). */
  dropped = 0;

  constructor(limits: TcpLimits = { maxFlows: 16384, maxPendingBytes: 256 * 1024, idleSecs: 300 }) {
    this.#limits = limits;
  }

  /** Flows currently tracked. */
  get size(): number {
    return this.#flows.size;
  }

  /**
   * Add one segment of the flow `key`. Calls `emit` with each complete DNS
   * message (without its length prefix).
   */
  segment(
    key: string,
    ts: number,
    seq: number,
    syn: boolean,
    fin: boolean,
    payload: Uint8Array,
    emit: (msg: Uint8Array) => void,
  ): void {
    let flow = this.#flows.get(key);
    if (syn) {
      // A new connection (or a restart): start fresh after the SYN.
      flow = this.#newFlow(key, (seq + 1) >>> 0, ts);
      if (payload.length === 0) return;
      seq = (seq + 1) >>> 0;
    }
    if (flow === undefined) {
      if (payload.length === 0) return;
      flow = this.#newFlow(key, seq, ts);
    }
    flow.last = ts;
    if (payload.length > 0) {
      const d = seqDiff(seq, flow.next);
      if (d <= 0) {
        // In order, or overlapping what we already have: keep the new tail.
        if (-d < payload.length) this.#append(flow, payload.subarray(-d));
        this.#drainOoo(flow);
      } else if (flow.oooBytes + payload.length <= this.#limits.maxPendingBytes) {
        if (!flow.ooo.has(seq)) {
          flow.ooo.set(seq, payload.slice());
          flow.oooBytes += payload.length;
        }
      } else {
        // A gap we cannot wait for: skip to the new data.
        this.dropped++;
        flow.ooo.clear();
        flow.oooBytes = 0;
        flow.streamLen = 0;
        flow.next = seq;
        this.#append(flow, payload);
      }
      this.#frame(flow, emit);
    }
    if (fin) this.#flows.delete(key);
  }

  /** Forget flows idle for longer than the limit at time `ts`. */
  expire(ts: number): void {
    for (const [k, f] of this.#flows) {
      if (ts - f.last > this.#limits.idleSecs) this.#flows.delete(k);
    }
  }

  #newFlow(key: string, next: number, ts: number): Flow {
    if (this.#flows.size >= this.#limits.maxFlows) {
      const oldest = this.#flows.keys().next().value as string;
      this.#flows.delete(oldest);
      this.dropped++;
    }
    const f: Flow = { next, stream: new Uint8Array(0), streamLen: 0, ooo: new Map(), oooBytes: 0, last: ts };
    this.#flows.delete(key);
    this.#flows.set(key, f);
    return f;
  }

  #append(flow: Flow, data: Uint8Array): void {
    const need = flow.streamLen + data.length;
    if (need > flow.stream.length) {
      const grown = new Uint8Array(Math.max(need, flow.stream.length * 2, 512));
      grown.set(flow.stream.subarray(0, flow.streamLen));
      flow.stream = grown;
    }
    flow.stream.set(data, flow.streamLen);
    flow.streamLen = need;
    flow.next = (flow.next + data.length) >>> 0;
  }

  #drainOoo(flow: Flow): void {
    let progressed = true;
    while (progressed && flow.ooo.size > 0) {
      progressed = false;
      for (const [s, data] of flow.ooo) {
        const d = seqDiff(s, flow.next);
        if (d <= 0) {
          flow.ooo.delete(s);
          flow.oooBytes -= data.length;
          if (-d < data.length) this.#append(flow, data.subarray(-d));
          progressed = true;
        }
      }
    }
  }

  #frame(flow: Flow, emit: (msg: Uint8Array) => void): void {
    let p = 0;
    const b = flow.stream;
    while (flow.streamLen - p >= 2) {
      const len = (b[p] << 8) | b[p + 1];
      if (flow.streamLen - p - 2 < len) break;
      emit(b.slice(p + 2, p + 2 + len));
      p += 2 + len;
    }
    if (p > 0) {
      b.copyWithin(0, p, flow.streamLen);
      flow.streamLen -= p;
    }
    // A DNS message is at most 65535 bytes: the stream never needs more.
    if (flow.streamLen > 65537) {
      this.dropped++;
      flow.streamLen = 0;
    }
  }
}
