/**
 * A live run's alert policy, apart from its source, store and clock: as a
 * window closes, which domains alert. A domain alerts for each window it
 * reaches the threshold in, and once from the stream view (the stream from
 * its start to the window's end) when it reaches the threshold there
 * without ever doing so in one window — a channel too slow for a window.
 * Domains the allow-list suppressed are counted, not alerted, unless asked
 * for.
 *
 * @module
 */

import { byScore, type DomainFinding } from "../analysis/analyze.ts";
import { roundScore } from "../analysis/model.ts";
import type { AllowEntry } from "../analysis/allow.ts";
import { markSuppressed } from "./pipeline.ts";

/** A domain at or over the threshold as a window closes: of that window, or of the stream since its start. */
export interface StreamAlert {
  /** What was scored: the window (`start`..`end`), or the stream from its start to `end`. */
  horizon: "window" | "stream";
  finding: DomainFinding;
  /** Capture seconds: where the scored span starts and ends. */
  start: number;
  end: number;
  /** The window's length in seconds (the span's, for the stream view). */
  windowSecs: number;
}

/** Options of {@link WindowAlerter}. */
export interface AlerterOptions {
  /** Alert at this score or more (0-100, as shown). */
  threshold: number;
  /** The window's length (seconds). */
  windowSecs: number;
  /** The run's allow-list. */
  allow?: readonly AllowEntry[];
  /** Alert for suppressed domains too (marked so). */
  includeSuppressed?: boolean;
}

/** What one window's close gave. */
export interface WindowAlerts {
  /** The alerts, the window's by score, then the stream view's by score. */
  alerts: StreamAlert[];
  /** Alerts the allow-list held back. */
  suppressed: number;
}

/** Decides a live run's alerts, window by window (no input or output of its own). */
export class WindowAlerter {
  readonly #o: AlerterOptions;
  /** Domains that alerted, in a window or in the stream view (each alerts from the stream view once at most). */
  readonly #alerted = new Set<string>();
  #streamStart: number | null = null;

  /** A policy for one run. */
  constructor(options: AlerterOptions) {
    this.#o = options;
  }

  /**
   * The window `[start, end)` closed with `findings` (by score, highest
   * first); `stream` are the stream view's findings of the domains that
   * changed since the last window.
   */
  close(
    w: { start: number; end: number; findings: Iterable<DomainFinding> },
    stream: Iterable<DomainFinding>,
  ): WindowAlerts {
    const o = this.#o;
    const alerts: StreamAlert[] = [];
    let suppressed = 0;
    const streamStart = this.#streamStart ??= w.start;
    for (const f of markSuppressed(w.findings, o.allow)) {
      if (roundScore(f.score) < o.threshold) break;
      // Allowed: scored and stored, no alert (counted in the run's record) unless asked for.
      if (f.suppressed && !o.includeSuppressed) {
        suppressed++;
        continue;
      }
      this.#alerted.add(f.domain);
      alerts.push({ horizon: "window", finding: f, start: w.start, end: w.end, windowSecs: o.windowSecs });
    }
    // The stream view: what no single window showed (each domain scored in turn, the alerts kept).
    const loud: DomainFinding[] = [];
    for (const f of markSuppressed(stream, o.allow)) {
      if (roundScore(f.score) < o.threshold || this.#alerted.has(f.domain)) continue;
      if (f.suppressed && !o.includeSuppressed) {
        suppressed++;
        this.#alerted.add(f.domain);
      } else loud.push(f);
    }
    for (const f of byScore(loud)) {
      this.#alerted.add(f.domain);
      alerts.push({ horizon: "stream", finding: f, start: streamStart, end: w.end, windowSecs: w.end - streamStart });
    }
    return { alerts, suppressed };
  }
}
