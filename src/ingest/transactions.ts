/**
 * Pairs DNS queries with their responses into {@link Transaction}s.
 *
 * A query and a response belong together when client address and port,
 * server address and port, transaction id and question are equal. A query
 * that is never answered is still a transaction (rcode null), and so is a
 * response whose query was not seen. Transactions leave in the order their
 * queries arrived; a query waits at most `timeoutSecs` of capture time for
 * its answer, and at most `maxPending` queries wait at once, so memory stays
 * bounded whatever the capture size.
 *
 * @module
 */

import type { DnsMessage, Transaction } from "./types.ts";
import type { MessageMeta } from "./packet.ts";
import { asciiLower } from "./dns.ts";

/** Options of the pairing stage. */
export interface PairingOptions {
  timeoutSecs?: number;
  maxPending?: number;
}

interface Pending {
  key: string;
  tx: Transaction;
  done: boolean;
}

/** Builds transactions from messages; emits them through a callback. */
export class TransactionAssembler {
  readonly #waiting = new Map<string, Pending>();
  #queue: Pending[] = [];
  #head = 0;
  readonly #emit: (tx: Transaction) => void;
  readonly #timeout: number;
  readonly #maxPending: number;

  constructor(emit: (tx: Transaction) => void, options: PairingOptions = {}) {
    this.#emit = emit;
    this.#timeout = options.timeoutSecs ?? 30;
    this.#maxPending = options.maxPending ?? 200_000;
  }

  /** Add one message seen at `meta`. */
  add(m: DnsMessage, meta: MessageMeta): void {
    const q = m.questions.length > 0 ? m.questions[0] : null;
    const qname = q === null ? "" : q.key;
    const qtype = q === null ? 0 : q.type;
    // Multicast mDNS has no request/response association (as in Zeek).
    const pairable = meta.service !== "mdns";
    if (!m.qr) {
      const tx = newTransaction(m, meta, true);
      if (!pairable) {
        this.#flush(meta.ts);
        this.#emit(tx);
        return;
      }
      const key = `${meta.src}|${meta.srcPort}|${meta.dst}|${meta.dstPort}|${m.id}|${qtype}|${qname}`;
      // A retransmission while the first query still waits: the answer goes
      // to the first (as Zeek pairs it); the retransmission stays unanswered.
      const waiting = this.#waiting.has(key);
      const p: Pending = { key: waiting ? "" : key, tx, done: false };
      if (!waiting) this.#waiting.set(key, p);
      this.#queue.push(p);
      if (this.#queue.length - this.#head > this.#maxPending) this.#finish(this.#queue[this.#head]);
      this.#flush(meta.ts);
      return;
    }
    const key = `${meta.dst}|${meta.dstPort}|${meta.src}|${meta.srcPort}|${m.id}|${qtype}|${qname}`;
    const p = pairable ? this.#waiting.get(key) : undefined;
    if (p !== undefined && !p.done) {
      applyResponse(p.tx, m, meta.ts);
      this.#finish(p);
    } else {
      this.#flush(meta.ts);
      this.#emit(newTransaction(m, meta, false));
    }
    this.#flush(meta.ts);
  }

  /** Emit everything still waiting (end of input). */
  end(): void {
    this.#flush(Infinity);
  }

  #finish(p: Pending): void {
    p.done = true;
    if (p.key !== "" && this.#waiting.get(p.key) === p) this.#waiting.delete(p.key);
  }

  #flush(now: number): void {
    const q = this.#queue;
    while (this.#head < q.length) {
      const p = q[this.#head];
      if (!p.done && now - p.tx.ts <= this.#timeout && q.length - this.#head <= this.#maxPending) break;
      this.#finish(p);
      this.#emit(p.tx);
      this.#head++;
    }
    if (this.#head > 4096 && this.#head * 2 > q.length) {
      this.#queue = q.slice(this.#head);
      this.#head = 0;
    }
  }
}

function newTransaction(m: DnsMessage, meta: MessageMeta, isQuery: boolean): Transaction {
  const q = m.questions.length > 0 ? m.questions[0] : null;
  const tx: Transaction = {
    ts: meta.ts,
    rtt: null,
    transport: meta.transport,
    service: meta.service,
    client: isQuery ? meta.src : meta.dst,
    clientPort: isQuery ? meta.srcPort : meta.dstPort,
    server: isQuery ? meta.dst : meta.src,
    serverPort: isQuery ? meta.dstPort : meta.srcPort,
    id: m.id,
    opcode: m.opcode,
    // A response without a question (mDNS announcements) is about its first answer's name.
    query: q !== null ? q.name : (m.answers[0]?.name ?? ""),
    queryKey: q !== null ? q.key : asciiLower(m.answers[0]?.name ?? ""),
    qtype: q === null ? 0 : q.type,
    qclass: q === null ? 0 : q.class,
    rcode: null,
    aa: false,
    tc: false,
    rd: m.rd,
    ra: false,
    z: m.z,
    answers: [],
    hasQuery: isQuery,
    hasResponse: false,
    querySize: isQuery ? m.size : 0,
    responseSize: 0,
  };
  if (!isQuery) applyResponse(tx, m, meta.ts);
  return tx;
}

function applyResponse(tx: Transaction, m: DnsMessage, ts: number): void {
  tx.hasResponse = true;
  tx.rcode = m.rcode;
  tx.aa = m.aa;
  tx.tc = m.tc;
  tx.ra = m.ra;
  tx.z = m.z;
  tx.answers = m.answers;
  tx.responseSize = m.size;
  if (tx.hasQuery) tx.rtt = ts - tx.ts;
}
