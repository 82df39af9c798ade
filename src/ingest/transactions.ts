/**
 * Pairs DNS queries with their responses into {@link Transaction}s.
 *
 * A query and a response belong together when client address and port,
 * server address and port, transaction id and question are equal. A query
 * that is never answered is still a transaction (rcode null), and so is a
 * response whose query was not seen. Transactions leave in the order their
 * queries arrived (a resolver's upstream copy of a client's question is
 * recognized by coming after it); a query waits at most `timeoutSecs` of
 * capture time for its answer, and at most `maxPending` queries wait at
 * once. An answered query waits behind the unanswered ones before it, but
 * at most `maxHeld` answered ones wait so: past that the oldest of them
 * leave ahead of the unanswered (then, and only then, out of query order),
 * so one query that is never answered does not hold a fast link's
 * transactions for its whole wait. Memory stays bounded whatever the
 * capture size or rate.
 *
 * Transaction objects are recycled: one handed to the callback is valid
 * until the callback returns (copy it, `{ ...tx }`, to keep it; its
 * `answers` array is its own and may be kept).
 *
 * @module
 */

import type { DnsMessage, Transaction } from "./types.ts";
import type { MessageMeta } from "./packet.ts";
import { asciiLower } from "./dns/mod.ts";

/**
 * Seconds of capture time a query waits for its answer by default. Resolvers
 * give up sooner; a longer wait only holds back the answered transactions
 * after it (up to {@link PAIRING_MAX_HELD}).
 */
export const PAIRING_TIMEOUT_SECS = 30;
/**
 * Unanswered queries waiting at once, by default: past it the oldest leaves
 * unanswered (a waiting query has no answers yet: some 300 bytes, ~60 MB
 * at most).
 */
export const PAIRING_MAX_PENDING = 200_000;
/**
 * Answered queries that wait behind an unanswered one at once, by default
 * (about 1 KB each where every name and answer is new: ~32 MB). At 50 000
 * queries a second one unanswered query holds back 0.65 s of answers
 * before they overtake it.
 */
export const PAIRING_MAX_HELD = 32_768;

/** Options of the pairing stage. */
export interface PairingOptions {
  /** Seconds of capture time a query waits for its answer (default {@link PAIRING_TIMEOUT_SECS}). */
  timeoutSecs?: number;
  /** Queries waiting at once at most (default {@link PAIRING_MAX_PENDING}). */
  maxPending?: number;
  /** Answered queries waiting behind unanswered ones at most (default {@link PAIRING_MAX_HELD}). */
  maxHeld?: number;
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
  readonly #waiting = new PendingTable();
  // Queries in arrival order, answered or not, from the oldest unanswered
  // one on: a ring that doubles when full (an array used as a queue took
  // push, and a slice every 4 096 emits). A slot whose query left ahead of
  // its turn is null.
  #ring: (Pending | null)[] = new Array(1024).fill(null);
  #head = 0;
  /** Slots from the head to the tail (holes included). */
  #size = 0;
  /** Queries in the ring not answered yet. */
  #open = 0;
  /** Answered queries in the ring (waiting behind unanswered ones). */
  #held = 0;
  /** Emitted slots, for reuse: the first #freeCount of #free. */
  readonly #free: (Pending | null)[] = new Array(FREE_SLOTS).fill(null);
  #freeCount = 0;
  readonly #emit: (tx: Transaction) => void;
  readonly #timeout: number;
  readonly #maxPending: number;
  readonly #maxHeld: number;

  constructor(emit: (tx: Transaction) => void, options: PairingOptions = {}) {
    this.#emit = emit;
    this.#timeout = options.timeoutSecs ?? PAIRING_TIMEOUT_SECS;
    this.#maxPending = options.maxPending ?? PAIRING_MAX_PENDING;
    this.#maxHeld = Math.max(1, options.maxHeld ?? PAIRING_MAX_HELD);
  }

  /** Add one message seen at `meta` (neither is kept after the call). */
  add(m: DnsMessage, meta: MessageMeta): void {
    const q = m.questions.length > 0 ? m.questions[0] : null;
    const qname = q === null ? "" : q.key;
    const qtype = q === null ? 0 : q.type;
    // Multicast mDNS has no request/response association (as in Zeek).
    const pairable = meta.service !== "mdns";
    if (!m.qr) {
      if (!pairable) {
        this.#flush(meta.ts);
        this.#emitLoose(m, meta, true);
        return;
      }
      const p = this.#take();
      fillTransaction(p.tx, m, meta, true);
      const key = pairKey(meta.srcPort, m.id, qtype);
      // One probe finds the key or the place for it.
      const waiting = this.#waiting;
      const at = waiting.slot(key);
      const first = waiting.valueAt(at, key);
      if (first === undefined) {
        p.key = key;
        waiting.insertAt(at, key, p);
      } else if (find(first, qname, qtype, m.id, meta.src, meta.srcPort, meta.dst, meta.dstPort) === null) {
        // Same port, id and type but another exchange: chain it.
        let last = first;
        while (last.same !== null) last = last.same;
        p.key = key;
        last.same = p;
      }
      // Otherwise a retransmission while the first query still waits: the
      // answer goes to the first (as Zeek pairs it); this one stays unanswered.
      this.#enqueue(p);
      if (this.#due(meta.ts)) this.#flush(meta.ts);
      return;
    }
    const waiting = this.#waiting;
    const key = pairKey(meta.dstPort, m.id, qtype);
    const at = pairable ? waiting.slot(key) : -1;
    const first = at < 0 ? undefined : waiting.valueAt(at, key);
    const p = first === undefined
      ? null
      : find(first, qname, qtype, m.id, meta.dst, meta.dstPort, meta.src, meta.srcPort);
    if (p !== null) {
      applyResponse(p.tx, m, meta.ts);
      if (p === first && p.same === null) {
        // The usual case, the only query waiting under its key: out of the table at the slot found.
        p.done = true;
        waiting.deleteAt(at);
      } else this.#finish(p);
      this.#open--;
      if (++this.#held > this.#maxHeld) this.#overtake();
    } else {
      this.#flush(meta.ts);
      this.#emitLoose(m, meta, false);
    }
    if (this.#due(meta.ts)) this.#flush(meta.ts);
  }

  /**
   * Whether the head of the ring may leave at `now`: a hole, answered,
   * waited out, or over the bound of waiting queries.
   */
  #due(now: number): boolean {
    if (this.#size === 0) return false;
    const p = this.#ring[this.#head];
    return p === null || p.done || !(now - p.tx.ts <= this.#timeout) || this.#open > this.#maxPending;
  }

  /**
   * Too many answered queries wait behind unanswered ones: the oldest
   * answered leave now, in query order, until a quarter of the bound is
   * free (so the walk past the unanswered ones is paid once per that many).
   */
  #overtake(): void {
    const ring = this.#ring;
    const mask = ring.length - 1;
    const target = this.#maxHeld - Math.max(1, this.#maxHeld >> 2);
    for (let i = 0; i < this.#size && this.#held > target; i++) {
      const at = (this.#head + i) & mask;
      const p = ring[at];
      if (p === null || !p.done) continue;
      ring[at] = null;
      this.#held--;
      this.#emit(p.tx);
      this.#release(p);
    }
  }

  /**
   * The clock moved to `now` (seconds, capture time) without a message:
   * queries that have waited out their timeout leave unanswered, as the
   * next message would have let them leave.
   */
  advance(now: number): void {
    if (this.#due(now)) this.#flush(now);
  }

  /** Queries waiting for their answers. */
  get pending(): number {
    return this.#open;
  }

  /** Emit everything still waiting (end of input). */
  end(): void {
    this.#flush(Infinity);
  }

  #enqueue(p: Pending): void {
    let ring = this.#ring;
    if (this.#size === ring.length) {
      // Double, the waiting ones first in order.
      const grown: (Pending | null)[] = new Array(ring.length * 2).fill(null);
      for (let i = 0; i < this.#size; i++) grown[i] = ring[(this.#head + i) & (ring.length - 1)];
      this.#ring = ring = grown;
      this.#head = 0;
    }
    ring[(this.#head + this.#size) & (ring.length - 1)] = p;
    this.#size++;
    this.#open++;
  }

  /** A waiting slot from the free list (or a new one). */
  #take(): Pending {
    const p = this.#freeCount > 0
      ? this.#free[--this.#freeCount]!
      : { key: -1, tx: blankTransaction(), done: false, same: null };
    p.key = -1;
    p.done = false;
    p.same = null;
    return p;
  }

  /** Emit a transaction that waits for nothing (mDNS; a response whose query was not seen). */
  #emitLoose(m: DnsMessage, meta: MessageMeta, isQuery: boolean): void {
    const p = this.#take();
    fillTransaction(p.tx, m, meta, isQuery);
    this.#emit(p.tx);
    this.#release(p);
  }

  #release(p: Pending): void {
    p.tx.answers = NO_ANSWERS;
    if (this.#freeCount < FREE_SLOTS) this.#free[this.#freeCount++] = p;
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
    const ring = this.#ring;
    const mask = ring.length - 1;
    while (this.#due(now)) {
      const p = ring[this.#head];
      ring[this.#head] = null;
      this.#head = (this.#head + 1) & mask;
      this.#size--;
      if (p === null) continue;
      if (p.done) this.#held--;
      else {
        this.#finish(p);
        this.#open--;
      }
      this.#emit(p.tx);
      this.#release(p);
    }
  }
}

/** Emitted slots kept for reuse at most. */
const FREE_SLOTS = 4096;

/**
 * Waiting queries by pairing key: open addressing with linear probing in
 * typed arrays (lookups stay in compiled code, no map builtins), deletion
 * by shifting back, doubling when half full. Exported for its tests.
 *
 * @internal Exported for its tests.
 */
export class PendingTable<V = Pending> {
  #bits = 12;
  /** Keys (>= 0), -1 for an empty slot. */
  #keys = new Int32Array(1 << 12).fill(-1);
  #vals: (V | null)[] = new Array(1 << 12).fill(null);
  #size = 0;

  #home(key: number): number {
    return Math.imul(key, 0x9e3779b1) >>> (32 - this.#bits);
  }

  #find(key: number): number {
    const mask = this.#keys.length - 1;
    for (let i = this.#home(key);; i = (i + 1) & mask) {
      const k = this.#keys[i];
      if (k === key || k === -1) return i;
    }
  }

  get size(): number {
    return this.#size;
  }

  get(key: number): V | undefined {
    return this.valueAt(this.#find(key), key);
  }

  /** Where `key` is, or the empty slot where it would go (valid until the table changes). */
  slot(key: number): number {
    return this.#find(key);
  }

  /** The value at slot `i` when it holds `key`. */
  valueAt(i: number, key: number): V | undefined {
    return this.#keys[i] === key ? this.#vals[i]! : undefined;
  }

  /** Put `key` at slot `i`, which {@link slot} gave for it (nothing changed since). */
  insertAt(i: number, key: number, p: V): void {
    if (this.#keys[i] !== key) {
      this.#keys[i] = key;
      this.#size++;
    }
    this.#vals[i] = p;
    if (this.#size * 2 > this.#keys.length) this.#grow();
  }

  set(key: number, p: V): void {
    this.insertAt(this.#find(key), key, p);
  }

  delete(key: number): void {
    const i = this.#find(key);
    if (this.#keys[i] === key) this.deleteAt(i);
  }

  /** Empty slot `i` (which holds a key). */
  deleteAt(i: number): void {
    const mask = this.#keys.length - 1;
    // Shift later entries of the probe run back over the hole.
    for (let j = (i + 1) & mask;; j = (j + 1) & mask) {
      const k = this.#keys[j];
      if (k === -1) break;
      const h = this.#home(k);
      const stays = i <= j ? h > i && h <= j : h > i || h <= j;
      if (!stays) {
        this.#keys[i] = k;
        this.#vals[i] = this.#vals[j];
        i = j;
      }
    }
    this.#keys[i] = -1;
    this.#vals[i] = null;
    this.#size--;
  }

  #grow(): void {
    const keys = this.#keys;
    const vals = this.#vals;
    this.#bits++;
    this.#keys = new Int32Array(1 << this.#bits).fill(-1);
    this.#vals = new Array(1 << this.#bits).fill(null);
    this.#size = 0;
    for (let i = 0; i < keys.length; i++) if (keys[i] !== -1) this.set(keys[i], vals[i]!);
  }
}

/**
 * The pairing key: client port, transaction id and question type mixed into
 * a non-negative 30-bit integer ({@link PendingTable} marks empty slots -1).
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

const NO_ANSWERS: Transaction["answers"] = Object.freeze([]) as unknown as Transaction["answers"];

function blankTransaction(): Transaction {
  return {
    ts: 0,
    rtt: null,
    transport: "udp",
    service: "dns",
    client: "",
    clientPort: 0,
    server: "",
    serverPort: 0,
    id: 0,
    opcode: 0,
    query: "",
    queryKey: "",
    queryRef: 0,
    qtype: 0,
    qclass: 0,
    rcode: null,
    aa: false,
    tc: false,
    rd: false,
    ra: false,
    z: 0,
    answers: NO_ANSWERS,
    hasQuery: false,
    hasResponse: false,
    querySize: 0,
    responseSize: 0,
  };
}

/** Overwrite every field of `tx` from a query (or a lone response). */
function fillTransaction(tx: Transaction, m: DnsMessage, meta: MessageMeta, isQuery: boolean): void {
  const q = m.questions.length > 0 ? m.questions[0] : null;
  tx.ts = meta.ts;
  tx.rtt = null;
  tx.transport = meta.transport;
  tx.service = meta.service;
  tx.client = isQuery ? meta.src : meta.dst;
  tx.clientPort = isQuery ? meta.srcPort : meta.dstPort;
  tx.server = isQuery ? meta.dst : meta.src;
  tx.serverPort = isQuery ? meta.dstPort : meta.srcPort;
  tx.id = m.id;
  tx.opcode = m.opcode;
  // A response without a question (mDNS announcements) is about its first answer's name.
  tx.query = q !== null ? q.name : (m.answers[0]?.name ?? "");
  tx.queryKey = q !== null ? q.key : asciiLower(m.answers[0]?.name ?? "");
  tx.queryRef = q !== null ? q.ref ?? 0 : 0;
  tx.qtype = q === null ? 0 : q.type;
  tx.qclass = q === null ? 0 : q.class;
  tx.rcode = null;
  tx.aa = false;
  tx.tc = false;
  tx.rd = m.rd;
  tx.ra = false;
  tx.z = m.z;
  tx.answers = NO_ANSWERS;
  tx.hasQuery = isQuery;
  tx.hasResponse = false;
  tx.querySize = isQuery ? m.size : 0;
  tx.responseSize = 0;
  if (!isQuery) applyResponse(tx, m, meta.ts);
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
