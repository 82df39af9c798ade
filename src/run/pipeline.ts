/**
 * The one way from frames to findings: frame → packet decoder → pairing →
 * analysis (the whole stream, and tumbling windows when asked) → store.
 * `apply` and `eval` feed it files, `stream` feeds it live frames and moves
 * its clock; nothing here knows of a terminal or a command line.
 *
 * @module
 */

import { DeflatePool } from "../analysis/deflate_pool.ts";
import { Analyzer, type DomainFinding } from "../analysis/analyze.ts";
import type { ModelConfig } from "../analysis/model.ts";
import type { SeedSpill } from "../analysis/seed.ts";
import { type AllowEntry, suppressionOf } from "../analysis/allow.ts";
import { TumblingWindows, type WindowResult } from "../analysis/window.ts";
import { DnsDecoder } from "../ingest/dns/mod.ts";
import { FrameDecoder } from "../ingest/frames.ts";
import type { PairingOptions } from "../ingest/transactions.ts";
import type { FileStats, Transaction } from "../ingest/types.ts";
import type { Input } from "../ingest/source.ts";
import type { TransactionWriter } from "../store/writer.ts";
import { ingestSources, type SourcesProgress } from "./ingest.ts";

/** What a run is told beside its model (config.hcl and the command line). */
export interface RunSettings {
  /** Suffixes named by the user as C2 (they win over public-suffix grouping). */
  c2Domains: string[];
  /** Ports that carry plain DNS (default [53]). */
  dnsPorts: number[];
  /** Addresses of the site's recursive resolvers. */
  resolvers: string[];
  /** The site's allow-list (allowed domains are scored, stored and marked suppressed); absent: none. */
  allow?: AllowEntry[];
}

/** A run's settings as its stored record keeps them (`runs --json` `config`). */
export function settingsRecord(s: RunSettings): Record<string, unknown> {
  return {
    c2_domains: s.c2Domains,
    dns_ports: s.dnsPorts,
    resolvers: s.resolvers,
    ...(s.allow !== undefined && s.allow.length > 0 ? { allow: s.allow } : {}),
  };
}

/** `findings` each marked with its suppression under `allow` (the time of marking: now). */
export function* markSuppressed(findings: Iterable<DomainFinding>, allow: readonly AllowEntry[] = []): Generator<
  DomainFinding
> {
  const now = new Date();
  for (const f of findings) {
    f.suppressed = allow.length === 0 ? null : suppressionOf(f, allow, now);
    yield f;
  }
}

/** Options of {@link Pipeline}. */
export interface PipelineOptions extends Partial<RunSettings> {
  /** The scoring model of the whole stream and of each window. */
  model: ModelConfig;
  /** Stores every transaction with its domain (null or absent: nothing stored). */
  writer?: TransactionWriter | null;
  /** Where the whole-stream analyzer puts the seeds of domains asked a few times (absent: memory). */
  spill?: SeedSpill;
  /** Tumbling windows beside the whole-stream view. */
  windows?: {
    secs: number;
    onClose: (w: WindowResult) => void;
    origin?: number;
    /** Transactions stored per window at most; the rest are counted in {@link Pipeline.unstored} (default: all). */
    storeLimit?: number;
  };
}

/** Transactions in, findings out: the whole stream's, and each window's as it closes. */
export class Pipeline {
  /** The whole-stream view: every transaction since the start. */
  readonly analyzer: Analyzer;
  /** One DNS decoder for every input of the pipeline (its tables are the pipeline's own). */
  readonly dns: DnsDecoder = new DnsDecoder();
  readonly #o: PipelineOptions;
  readonly #writer: TransactionWriter | null;
  readonly #windows: TumblingWindows | null;
  readonly #frames: FrameDecoder[] = [];
  readonly #storeLimit: number;
  #storeBudget: number;
  /** Transactions not stored because their window had stored its limit. */
  unstored = 0;
  /** Transactions handed to the writer (a run's rows are numbered in this order). */
  stored = 0;
  /** Full blocks of the whole stream's name-information bound are deflated on this pool's thread. */
  readonly #deflate = new DeflatePool();

  /** A pipeline with an analyzer of its own, and windows when asked for. */
  constructor(options: PipelineOptions) {
    this.#o = options;
    const site = { c2Domains: options.c2Domains, resolvers: options.resolvers };
    this.analyzer = new Analyzer({ model: options.model, ...site, spill: options.spill, deflate: this.#deflate });
    this.#writer = options.writer ?? null;
    const w = options.windows;
    this.#storeLimit = this.#storeBudget = w?.storeLimit ?? Infinity;
    this.#windows = w === undefined ? null : new TumblingWindows({
      secs: w.secs,
      model: options.model,
      ...site,
      onClose: (result) => {
        this.#storeBudget = this.#storeLimit;
        w.onClose(result);
      },
      origin: w.origin,
      deflate: this.#deflate,
    });
  }

  /** One transaction (valid only during the call, as the decoders hand them out). */
  add(tx: Transaction): void {
    const domain = this.analyzer.add(tx);
    // The window first: a transaction past its end closes it (and renews the budget).
    this.#windows?.add(tx);
    if (domain !== null && this.#writer !== null) {
      if (this.#storeBudget > 0) {
        this.#storeBudget--;
        this.stored++;
        this.#writer.add(tx, domain);
      } else this.unstored++;
    }
  }

  /**
   * A frame decoder that feeds this pipeline (a live source's), counting
   * into `stats`, pairing within the limits of `pairing`.
   */
  frames(stats: FileStats, pairing: PairingOptions = {}): FrameDecoder {
    const f = new FrameDecoder(stats, (tx) => this.add(tx), {
      dnsPorts: this.#o.dnsPorts,
      dns: this.dns,
      pairing,
    });
    this.#frames.push(f);
    return f;
  }

  /**
   * The clock moved to `now` (seconds, capture time) without traffic:
   * waiting queries time out, idle flows and fragments go, and a window
   * whose end `windowsNow` has passed closes (a live source holds windows
   * open a little past their end, for the answers still on their way).
   */
  advance(now: number, windowsNow: number = now): void {
    for (const f of this.#frames) f.advance(now);
    this.#windows?.advance(windowsNow);
  }

  /** Read files into the pipeline, in order; returns each file's stats. */
  ingest(
    paths: Input[],
    options: { sha256?: boolean; onSourcesProgress?: (p: SourcesProgress) => void; pairing?: PairingOptions } = {},
  ): Promise<FileStats[]> {
    return ingestSources(paths, {
      dnsPorts: this.#o.dnsPorts,
      dns: this.dns,
      pairing: options.pairing,
      sha256: options.sha256,
      onSourcesProgress: options.onSourcesProgress,
      onTransaction: (tx) => this.add(tx),
      // Reading waits while the writer thread is behind.
      pause: this.#writer === null ? undefined : () => this.#writer!.ready(),
    });
  }

  /** Stop the pipeline's threads of its own (its deflate thread); call once its findings are read. */
  close(): void {
    this.#deflate.close();
  }

  /**
   * End of input: live frame decoders let their waiting queries go, the
   * open window closes, and every stored row is committed.
   */
  async end(): Promise<void> {
    for (const f of this.#frames) f.end();
    this.#windows?.end();
    await this.#writer?.flush();
  }

  /** The whole stream's findings, highest score first. */
  findings(): DomainFinding[] {
    return this.analyzer.findings();
  }
}
