/**
 * Detection within a window, as `stream` sees it: each labeled capture is
 * replayed through tumbling windows of a given length (the same windows and
 * scoring `stream` uses), every domain of every window is scored against
 * its label, and each tunnel's time to detect is measured: the first window
 * in which it is HIGH or above, and the seconds from its first query to the
 * end of that window (when `stream` would have alerted). As `stream` does,
 * the whole stream so far is also scored at every window's close (the
 * stream view, which catches channels too slow for one window).
 *
 * @module
 */

import type { ModelConfig } from "../analysis/model.ts";
import type { WindowResult } from "../analysis/window.ts";
import { Pipeline } from "../run/pipeline.ts";
import { isTunnel, labelFor, LabelsError, type LabelSet } from "./labels.ts";
import type { LoadOptions } from "./evaluate.ts";

/** One domain in one window. */
export interface WindowDomain {
  /** Window number within its capture, from 0. */
  window: number;
  /** The domain's score in that window. */
  score: number;
  /** Its severity. */
  severity: string;
}

/** A labeled domain across the windows of its capture. */
export interface WindowedDomain {
  file: string;
  domain: string;
  label: string;
  /** Time of its first query (seconds since the epoch). */
  first_seen: number;
  /** The first window it appears in. */
  first_window: number;
  /** Windows it appears in, with its score in each. */
  windows: WindowDomain[];
  /** Tunnels: the first window in which it is HIGH or above (null: never). */
  detected_window: number | null;
  /** Tunnels: windows from its first one to the detecting one, counting both (1 = its first window). */
  windows_to_detect: number | null;
  /** Tunnels: seconds from its first query to the end of the detecting window (null: never detected). */
  time_to_detect: number | null;
  /** Tunnels: the first window at whose close the stream so far scores it HIGH or above (null: never). */
  stream_detected_window: number | null;
  /** Tunnels: seconds from its first query to that window's end. */
  stream_time_to_detect: number | null;
}

/** The windowed evaluation. */
export interface WindowReport {
  model: ModelConfig;
  window_secs: number;
  /** Windows per capture. */
  captures: { file: string; windows: number }[];
  /** Tunnel domain-windows, and those at HIGH or above. */
  tunnel_windows: number;
  tunnel_windows_high: number;
  /** Benign domain-windows, and those at MEDIUM or above (false alarms). */
  benign_windows: number;
  benign_windows_medium: number;
  /** Tunnels, those ever detected, and those detected within their first two windows. */
  tunnels: number;
  tunnels_detected: number;
  tunnels_within_two: number;
  /** Every tunnel, and every benign domain that raised a false alarm. */
  domains: WindowedDomain[];
  /** Tunnels detected by the stream view, and by either view. */
  tunnels_stream_detected: number;
  tunnels_detected_either: number;
  /** Benign domain-windows at MEDIUM or above. */
  false_alarms: FalseAlarm[];
  /** Benign domains the stream view scored MEDIUM or above at some window's close (the first such close). */
  stream_false_alarms: FalseAlarm[];
}

/** A benign domain at MEDIUM or above. */
export interface FalseAlarm {
  file: string;
  domain: string;
  label: string;
  window: number;
  score: number;
  severity: string;
}

const basename = (p: string) => p.replace(/^.*\//, "");
const high = (s: string) => s === "HIGH" || s === "CRITICAL";
const medium = (s: string) => high(s) || s === "MEDIUM";

/** Replay each capture in windows of `secs` seconds and score every window's domains against the labels. */
export async function evaluateWindows(
  paths: string[],
  labels: LabelSet,
  model: ModelConfig,
  secs: number,
  options: LoadOptions = {},
): Promise<WindowReport> {
  const report: WindowReport = {
    model,
    window_secs: secs,
    captures: [],
    tunnel_windows: 0,
    tunnel_windows_high: 0,
    benign_windows: 0,
    benign_windows_medium: 0,
    tunnels: 0,
    tunnels_detected: 0,
    tunnels_within_two: 0,
    domains: [],
    tunnels_stream_detected: 0,
    tunnels_detected_either: 0,
    false_alarms: [],
    stream_false_alarms: [],
  };
  for (const path of paths) {
    const file = basename(path);
    const rows = labels.get(file);
    if (rows === undefined) {
      throw new LabelsError(`no labels for ${file}: add rows "file<TAB>suffix<TAB>label" for it to the labels file`);
    }
    const byDomain = new Map<string, WindowedDomain>();
    let count = 0;
    const onClose = (w: WindowResult) => {
      count++;
      for (const f of w.findings) {
        let d = byDomain.get(f.domain);
        if (d === undefined) {
          d = {
            file,
            domain: f.domain,
            label: labelFor(rows, f.domain),
            first_seen: f.evidence.first_seen,
            first_window: w.index,
            windows: [],
            detected_window: null,
            windows_to_detect: null,
            time_to_detect: null,
            stream_detected_window: null,
            stream_time_to_detect: null,
          };
          byDomain.set(f.domain, d);
        }
        d.windows.push({ window: w.index, score: f.score, severity: f.severity });
        if (isTunnel(d.label)) {
          report.tunnel_windows++;
          if (high(f.severity)) {
            report.tunnel_windows_high++;
            if (d.detected_window === null) {
              d.detected_window = w.index;
              d.windows_to_detect = w.index - d.first_window + 1;
              d.time_to_detect = w.end - d.first_seen;
            }
          }
        } else {
          report.benign_windows++;
          if (medium(f.severity)) {
            report.benign_windows_medium++;
            report.false_alarms.push({
              file,
              domain: f.domain,
              label: d.label,
              window: w.index,
              score: f.score,
              severity: f.severity,
            });
          }
        }
      }
      // The stream view: every domain on everything so far.
      for (const f of pipeline.findings()) {
        if (!medium(f.severity)) break;
        const d = byDomain.get(f.domain);
        const label = d?.label ?? labelFor(rows, f.domain);
        if (isTunnel(label)) {
          if (d !== undefined && d.stream_detected_window === null && high(f.severity)) {
            d.stream_detected_window = w.index;
            d.stream_time_to_detect = w.end - d.first_seen;
          }
        } else if (!streamAlarmed.has(f.domain)) {
          streamAlarmed.add(f.domain);
          report.stream_false_alarms.push({
            file,
            domain: f.domain,
            label,
            window: w.index,
            score: f.score,
            severity: f.severity,
          });
        }
      }
    };
    const streamAlarmed = new Set<string>();
    const pipeline = new Pipeline({
      model,
      ...options,
      windows: { secs, onClose },
    });
    try {
      await pipeline.ingest([path]);
      await pipeline.end();
    } finally {
      pipeline.close();
    }
    report.captures.push({ file, windows: count });
    for (const d of byDomain.values()) {
      if (!isTunnel(d.label)) {
        if (d.windows.some((w) => medium(w.severity))) report.domains.push(d);
        continue;
      }
      report.domains.push(d);
      report.tunnels++;
      if (d.detected_window !== null) report.tunnels_detected++;
      if (d.windows_to_detect !== null && d.windows_to_detect <= 2) report.tunnels_within_two++;
      if (d.stream_detected_window !== null) report.tunnels_stream_detected++;
      if (d.detected_window !== null || d.stream_detected_window !== null) report.tunnels_detected_either++;
    }
  }
  return report;
}
