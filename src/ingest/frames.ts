/**
 * Captured frames to DNS transactions: the packet decoder and the pairing
 * stage joined, with the counters a {@link FileStats} reports. Files and
 * live captures feed frames through the same object, and a live source
 * moves its clock with {@link FrameDecoder.advance} on a quiet link.
 *
 * @module
 */

import type { DnsDecoder } from "./dns/mod.ts";
import { type MessageMeta, PacketDecoder } from "./packet.ts";
import { type PairingOptions, TransactionAssembler } from "./transactions.ts";
import type { FileStats, Frame, MalformedSite, Transaction } from "./types.ts";
import type { ZeekSink } from "./zeek.ts";

/** Fresh counters for an input called `path`. */
export function emptyStats(path: string): FileStats {
  return {
    path,
    format: "unknown",
    compression: null,
    link_types: [],
    packets: 0,
    dns_messages: 0,
    transactions: 0,
    queries: 0,
    responses: 0,
    txt: 0,
    malformed: 0,
    first_ts: null,
    last_ts: null,
    bytes: 0,
    skipped: 0,
    first_malformed: null,
    malformed_reasons: {},
  };
}

/** Count one transaction leaving an input. */
function countTransaction(stats: FileStats, tx: Transaction): void {
  stats.transactions++;
  if (tx.qtype === 16) stats.txt++;
  if (stats.first_ts === null || tx.ts < stats.first_ts) stats.first_ts = tx.ts;
  if (stats.last_ts === null || tx.ts > stats.last_ts) stats.last_ts = tx.ts;
}

/** Count one malformed part, keeping where the first was and why. */
export function countMalformed(stats: FileStats, reason: string, site: Omit<MalformedSite, "reason">): void {
  stats.malformed++;
  stats.malformed_reasons[reason] = (stats.malformed_reasons[reason] ?? 0) + 1;
  if (stats.first_malformed === null) stats.first_malformed = { ...site, reason };
}

/** Count one log line's transaction (a record that is a transaction already: Zeek, a resolver's log). */
function countRecord(stats: FileStats, tx: Transaction): void {
  stats.dns_messages++;
  stats.queries++;
  if (tx.hasResponse) stats.responses++;
  countTransaction(stats, tx);
}

/**
 * A log reader's sink that counts into `stats` what its lines hold — each
 * line's transaction (then handed to `onTransaction`), a broken line, a
 * line with no DNS row — and, with `linesAsPackets`, every line as a
 * packet (a followed log's status counts lines so).
 */
export function countingRecords(
  stats: FileStats,
  onTransaction: ((tx: Transaction) => void) | undefined,
  linesAsPackets = false,
): ZeekSink {
  const line = linesAsPackets ? 1 : 0;
  return {
    transaction(tx) {
      stats.packets += line;
      countRecord(stats, tx);
      onTransaction?.(tx);
    },
    problem(reason, lineNo) {
      stats.packets += line;
      countMalformed(stats, reason, { line: lineNo });
    },
    skipped() {
      stats.packets += line;
      stats.skipped++;
    },
  };
}

/** Options of {@link FrameDecoder}. */
export interface FrameDecoderOptions {
  /** Plain DNS ports (default [53]). */
  dnsPorts?: number[];
  /** The pairing stage's limits (a query's wait for its answer, queries waiting at once). */
  pairing?: PairingOptions;
  /** The DNS decoder to use (its tables); a new one by default. */
  dns?: DnsDecoder;
}

/**
 * What takes frames, in order: the one interface every frame source feeds
 * (a capture file's reader, the libpcap ring, a replayed capture).
 */
export interface FrameSink {
  /** One frame (the record is reused by the source: valid during the call). */
  frame(f: Frame): void;
  /** A problem of the container (not of a frame) at byte `offset`; `fatal` when reading stops there. */
  problem(reason: string, offset: number, fatal?: boolean): void;
  /** A link type seen. */
  linkType(t: number): void;
  /** End of input. */
  end(): void;
}

/** A frame record for `data[start..end)` (the whole buffer by default), for callers holding one frame. */
export function frameOf(linkType: number, data: Uint8Array, ts: number, start = 0, end = data.length): Frame {
  return { ts, linkType, data, start, end, origLen: end - start, offset: 0 };
}

/** Frames in, transactions out (through `onTransaction`), counted in `stats`. */
export class FrameDecoder implements FrameSink {
  /** The counters of what went through. */
  readonly stats: FileStats;
  readonly #packets: PacketDecoder;
  readonly #pairing: TransactionAssembler;
  #offset = 0;

  /** Frames decoded into transactions for `onTransaction`, counted into `stats`. */
  constructor(stats: FileStats, onTransaction: (tx: Transaction) => void, options: FrameDecoderOptions = {}) {
    this.stats = stats;
    this.#pairing = new TransactionAssembler((tx) => {
      countTransaction(stats, tx);
      onTransaction(tx);
    }, options.pairing);
    const pairing = this.#pairing;
    this.#packets = new PacketDecoder(
      (m, meta) => {
        stats.dns_messages++;
        if (m.qr) stats.responses++;
        else stats.queries++;
        pairing.add(m, meta);
      },
      (reason) => countMalformed(stats, reason, { packet: stats.packets, offset: this.#offset }),
      { dnsPorts: options.dnsPorts, allSections: false, reuseMessages: true, dns: options.dns },
    );
  }

  /** Decode one frame (see {@link FrameSink.frame}). */
  frame(f: Frame): void {
    this.stats.packets++;
    this.#offset = f.offset;
    if (!this.#packets.frame(f)) this.stats.skipped++;
  }

  /**
   * One DNS message that came without a packet around it (dnstap):
   * `data[start..end)`, from and to where `meta` says; `offset` is where
   * it ends in its file. Counted as a frame.
   */
  message(data: Uint8Array, start: number, end: number, meta: MessageMeta, offset = 0): void {
    this.stats.packets++;
    this.#offset = offset;
    this.#packets.message(data, start, end, meta);
  }

  /** A problem of the container (not of a frame) at byte `offset`. */
  problem(reason: string, offset: number): void {
    countMalformed(this.stats, reason, { offset, packet: this.stats.packets + 1 });
  }

  /** A link type seen. */
  linkType(t: number): void {
    if (!this.stats.link_types.includes(t)) this.stats.link_types.push(t);
  }

  /**
   * The clock moved to `now` (seconds, capture time) with no frame:
   * unanswered queries past their timeout leave as transactions, idle TCP
   * flows and stale fragments are dropped.
   */
  advance(now: number): void {
    this.#packets.advance(now);
    this.#pairing.advance(now);
  }

  /** Queries waiting for answers, TCP flows and fragments held. */
  get held(): { queries: number; tcpFlows: number; fragments: number } {
    return { queries: this.#pairing.pending, ...this.#packets.held };
  }

  /** End of input: every waiting query leaves. */
  end(): void {
    this.#pairing.end();
  }
}
