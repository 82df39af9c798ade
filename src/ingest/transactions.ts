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
  /** Map key (client port, id, type), or -1 when not in the map. */
  key: number;
  tx: Transaction;
  done: boolean;
  /** Next waiting query with the same key but another name. */
  same: Pending | null;
}

/** Builds transactions from messages; emits them through a callback. */
export class TransactionAssembler {
  // Keyed by a small number mixed from client port, id and type; the rest
  // is compared on the (short) chain, so no key string is built and long
  // tunnel names are not hashed for every message.
  readonly #waiting = new Map<number, Pending>();
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
      const key = pairKey(meta.srcPort, m.id, qtype);
      const p: Pending = { key: -1, tx, done: false, same: null };
      const first = this.#waiting.get(key);
      if (first === undefined) {
        p.key = key;
        this.#waiting.set(key, p);
      } else if (find(first, qname, qtype, m.id, meta.src, meta.srcPort, meta.dst, meta.dstPort) === null) {
        // Same port, id and type but another exchange: chain it.
        let last = first;
        while (last.same !== null) last = last.same;
        p.key = key;
        last.same = p;
      }
      // Otherwise a retransmission while the first query still waits: the
      // answer goes to the first (as Zeek pairs it); this one stays unanswered.
      this.#queue.push(p);
      if (this.#queue.length - this.#head > this.#maxPending) this.#finish(this.#queue[this.#head]);
      this.#flush(meta.ts);
      return;
    }
    const first = pairable ? this.#waiting.get(pairKey(meta.dstPort, m.id, qtype)) : undefined;
    const p = first === undefined
      ? null
      : find(first, qname, qtype, m.id, meta.dst, meta.dstPort, meta.src, meta.srcPort);
    if (p !== null) {
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
    if (p.done) return;
    p.done = true;
    if (p.key < 0) return;
    const first = this.#waiting.get(p.key);
    if (first === p) {
      if (p.same === null) this.#waiting.delete(p.key);
      else this.#waiting.set(p.key, p.same);
    } else if (first !== undefined) {
      let prev = first;
      while (prev.same !== null && prev.same !== p) prev = prev.same;
      if (prev.same === p) prev.same = p.same;
    }
    p.same = null;
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

/**
 * The pairing key: client port, transaction id and question type mixed into
 * a small integer (a V8 Smi, which a Map hashes without allocating).
 * Different exchanges may share a key; {@link find} tells them apart.
 */
function pairKey(clientPort: number, id: number, qtype: number): number {
  return (((clientPort << 16) | id) ^ Math.imul(qtype, 0x9e3779b1)) & 0x3fffffff;
}

/** The waiting, unanswered query on a chain for this exchange. */
function find(
  first: Pending,
  qname: string,
  qtype: number,
  id: number,
  client: string,
  clientPort: number,
  server: string,
  serverPort: number,
): Pending | null {
  for (let p: Pending | null = first; p !== null; p = p.same) {
    const t = p.tx;
    if (
      !p.done && t.id === id && t.clientPort === clientPort && t.qtype === qtype && t.queryKey === qname &&
      t.client === client && t.server === server && t.serverPort === serverPort
    ) {
      return p;
    }
  }
  return null;
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
