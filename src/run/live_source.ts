/**
 * Where a live run's DNS comes from, behind one surface: libpcap on an
 * interface, a capture replayed as if live, resolvers' dnstap on a socket,
 * a growing log. Each says what it is (its stats' path and format, the
 * run's config, the facts its `live` record keeps) and feeds one
 * {@link LiveFeed}: frames and dnstap messages into the pipeline's frame
 * decoder, a log's transactions into the pipeline itself.
 *
 * @module
 */

import { countingRecords, type FrameDecoder } from "../ingest/frames.ts";
import { DnstapFeed } from "../ingest/dnstap.ts";
import type { FileStats, Frame } from "../ingest/types.ts";
import {
  type CaptureCounters,
  type CaptureSettings,
  type FileSettings,
  forEachFrame,
} from "../ingest/live/protocol.ts";
import { FrameSource, type SourceReady } from "../ingest/live/source.ts";
import { type DnstapSettings, DnstapSource } from "../ingest/live/dnstap_source.ts";
import { FollowSource } from "../ingest/live/follow.ts";
import { realPathIn } from "../files.ts";
import type { Pipeline } from "./pipeline.ts";

/** Where the frames (or a resolver's dnstap messages, or a log's lines) come from. */
export type StreamSource =
  | { kind: "capture"; settings: CaptureSettings }
  | { kind: "file"; settings: FileSettings }
  | { kind: "dnstap"; settings: DnstapSettings }
  | { kind: "follow"; settings: { path: string; count?: number } };

/** An open live source: every kind has these. */
export interface LiveSource {
  /** Resolves when it is open (rejects with a SourceError when it cannot open). */
  readonly ready: Promise<SourceReady>;
  /** Resolves when it has ended and everything it read is handed on. */
  readonly done: Promise<unknown>;
  stop(): void;
  kill(): void;
}

/** What a live source feeds. */
export interface LiveFeed {
  /** The pipeline (a log's transactions go straight in). */
  pipeline: Pipeline;
  /** The pipeline's frame decoder for this source (frames, and dnstap's DNS messages). */
  frames: FrameDecoder;
  /** The source's counters (`frames.stats`). */
  stats: FileStats;
  /** The clock moved (capture time). */
  advance(now: number): void;
  /** Awaited before reading more: resolves when the store has caught up. */
  behind(): Promise<void>;
  /** libpcap's counters, about once a second. */
  counters(c: CaptureCounters): void;
}

/** The path and format its stats carry. */
export function sourceIdentity(s: StreamSource): { path: string; format: string } {
  switch (s.kind) {
    case "capture":
      return { path: `interface:${s.settings.device}`, format: "live" };
    case "file":
      return { path: s.settings.path, format: "replay" };
    case "dnstap":
      return { path: `dnstap:${s.settings.listen}`, format: "dnstap" };
    case "follow":
      return { path: s.settings.path, format: "follow" };
  }
}

/** What the run's config records of the source. */
export function sourceConfig(s: StreamSource): Record<string, unknown> {
  switch (s.kind) {
    case "capture":
      return {
        interface: s.settings.device,
        filter: s.settings.filter,
        // Where the packets were saved (a real path: carving reads them there).
        ...(s.settings.save === null ? {} : { save: realPathIn(s.settings.save) }),
      };
    case "file":
      return { files: [s.settings.path] };
    case "dnstap":
      return { dnstap: s.settings.listen };
    case "follow":
      return { follow: s.settings.path };
  }
}

/** What the run's `live` record keeps of the source so far. */
export function sourceFacts(
  s: StreamSource,
  open: LiveSource | null,
  o: { filter: string | null; counters: CaptureCounters | null },
): Record<string, unknown> {
  switch (s.kind) {
    case "capture":
      return {
        interface: s.settings.device,
        filter: o.filter,
        captured: o.counters?.received ?? null,
        dropped: o.counters?.dropped ?? null,
        if_dropped: o.counters?.ifDropped ?? null,
      };
    case "file":
      return { speed: s.settings.speed };
    case "dnstap":
      return { listen: s.settings.listen, connections: open instanceof DnstapSource ? open.counts.connections : 0 };
    case "follow": {
      const c = open instanceof FollowSource ? open.counts : { files: 0, truncations: 0 };
      return { follow: s.settings.path, files: c.files, truncations: c.truncations };
    }
  }
}

/** Whether the source's clock is the wall clock (a live link or socket), not its own timestamps (a file, a log). */
export function wallClock(s: StreamSource): boolean {
  return s.kind === "capture" || s.kind === "dnstap";
}

/**
 * `--count` for a source that reads records itself (a log's DNS lines,
 * dnstap messages): `take()` is true for each of the first `count` (every
 * one when `count` is 0), then false, and `stop` is called once, at the
 * last one taken; `over()` says whether that has happened.
 */
function countedTo(count: number | undefined, stop: () => void): { take(): boolean; over(): boolean } {
  let left = count !== undefined && count > 0 ? count : Infinity;
  return {
    take() {
      if (left <= 0) return false;
      if (--left === 0) stop();
      return true;
    },
    over: () => left <= 0,
  };
}

/** Open `s`, feeding `feed`. */
export function openLiveSource(s: StreamSource, feed: LiveFeed): LiveSource {
  const { frames, stats } = feed;
  if (s.kind === "dnstap") {
    const tap = new DnstapFeed(frames);
    const count = countedTo(s.settings.count, () => queueMicrotask(() => source.stop()));
    const source: LiveSource = DnstapSource.listen(s.settings, {
      data: (buf, start, end) => {
        if (count.take()) tap.frame(buf, start, end, 0);
      },
      problem: (reason) => frames.problem(reason, 0),
      pause: feed.behind,
    });
    return source;
  }
  if (s.kind === "follow") {
    // Counted: the DNS lines (transactions, and lines too broken to read); headers and others are not.
    const count = countedTo(s.settings.count, () => source.stop());
    const lines = countingRecords(stats, (tx) => feed.pipeline.add(tx), true);
    const source: LiveSource = FollowSource.follow(s.settings.path, {
      transaction: (tx) => count.take() && lines.transaction(tx),
      problem: (reason, line) => count.take() && lines.problem(reason, line),
      skipped: () => count.over() || lines.skipped(),
      pause: feed.behind,
    });
    return source;
  }
  let linkType = -1;
  const sink = {
    frame(f: Frame) {
      if (f.linkType !== linkType) frames.linkType(linkType = f.linkType);
      frames.frame(f);
    },
  };
  const handlers = {
    frames: async (m: { data: Uint8Array; bytes: number; count: number; clock: number }) => {
      forEachFrame(m, sink);
      feed.advance(m.clock);
      await feed.behind();
    },
    clock: feed.advance,
    problem: (reason: string, offset: number) => frames.problem(reason, offset),
    counters: feed.counters,
  };
  return s.kind === "capture" ? FrameSource.capture(s.settings, handlers) : FrameSource.file(s.settings, handlers);
}
