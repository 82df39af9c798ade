/**
 * The dashboard's data and text, apart from any terminal: what the screen
 * pages through (a run's domain names in the chosen order, read through an
 * index), the rows on screen, the detail of one domain, and the lines that
 * show them — every traffic string escaped and cut to fit.
 *
 * @module
 */

import type { DomainFinding } from "../analysis/analyze.ts";
import { roundScore, SEVERITIES, type Severity } from "../analysis/model.ts";
import { escapeTerminal } from "../present/escape.ts";
import { formatBytes } from "../present/progress.ts";
import { evidenceLines, suppressionText } from "../present/text.ts";
import { liveSummary } from "../present/export.ts";
import { ResultsReader, type TableRow } from "../store/reader.ts";
import { isLiveConfig, isReadableRun, type RunRecord } from "../store/types.ts";

/** Orders of the table. */
export const SORTS = ["score", "queries", "capacity", "name"] as const;
/** An order of the table. */
export type SortKey = typeof SORTS[number];
/** Severity floors the table cycles through (null: every domain). */
export const FLOORS: (Severity | null)[] = [null, "MEDIUM", "HIGH", "CRITICAL"];

/** What the table shows: sort, severity floor, text filter. */
export interface TableView {
  sort: SortKey;
  floor: Severity | null;
  text: string;
}

/** The workspace as the dashboard reads it, with small caches dropped whenever a writer commits. */
export class DashboardData {
  #reader: ResultsReader;
  #runs: RunRecord[] | null = null;
  #order = new Map<string, number[]>();
  #rows = new Map<string, TableRow>();
  /** Why the screen shows what was read before (the database was deleted, or its replacement cannot be read), or null. */
  stale: string | null = null;

  /** The data over `reader`, which it owns from now on ({@link close} closes it, or the one that replaced it). */
  constructor(reader: ResultsReader) {
    this.#reader = reader;
  }

  /** The reader of the workspace's database as it is now. */
  get reader(): ResultsReader {
    return this.#reader;
  }

  /**
   * Whether anything changed since the last call (caches are dropped then):
   * a writer committed, or the database file was deleted or replaced (a
   * replacement is opened; while none can be, {@link stale} says why).
   */
  refresh(): boolean {
    if (this.#reader.replaced()) {
      let next: ResultsReader;
      try {
        next = ResultsReader.open(this.#reader.path);
      } catch (e) {
        const was = this.stale;
        this.stale = `showing what was read before: the database was deleted or replaced and cannot be read now (${
          (e as Error).message
        })`;
        return was !== this.stale;
      }
      this.#reader.close();
      this.#reader = next;
      this.stale = null;
    } else if (!this.#reader.changed()) return false;
    this.#runs = null;
    this.#order.clear();
    this.#rows.clear();
    return true;
  }

  /** Close the reader. */
  close(): void {
    this.#reader.close();
  }

  /** Every run, newest first. */
  runs(): RunRecord[] {
    return this.#runs ??= this.reader.runs();
  }

  /** The run to show by default: the newest that can be read (complete, or a live one). */
  defaultRun(): RunRecord | null {
    return this.runs().find(isReadableRun) ?? null;
  }

  /** The domains of `run` as `view` orders and filters them, as row numbers. */
  order(run: number, view: TableView): number[] {
    const key = `${run} ${view.sort} ${view.floor} ${view.text}`;
    let o = this.#order.get(key);
    if (o === undefined) {
      const floor = view.floor;
      o = this.reader.domainOrder(run, {
        sort: view.sort,
        severities: floor === null ? undefined : SEVERITIES.slice(SEVERITIES.indexOf(floor)),
        contains: view.text === "" ? undefined : view.text.toLowerCase(),
      });
      // Two orders kept (each a list of every domain name): going back to the last one is instant.
      if (this.#order.size >= 2) this.#order.delete(this.#order.keys().next().value!);
      this.#order.set(key, o);
    }
    return o;
  }

  /** The table rows of `ids` (row numbers from {@link DashboardData.order}), in that order. */
  rows(run: number, ids: number[]): TableRow[] {
    const missing = ids.filter((id) => !this.#rows.has(`${run} ${id}`));
    if (missing.length > 0) {
      if (this.#rows.size > 4096) this.#rows.clear();
      for (const r of this.reader.tableRows(run, missing)) this.#rows.set(`${run} ${r.id}`, r);
    }
    return ids.map((id) => this.#rows.get(`${run} ${id}`)).filter((r): r is TableRow => r !== undefined);
  }

  /** One domain's finding with its evidence. */
  finding(run: number, domain: string): DomainFinding | null {
    return this.reader.finding(run, domain);
  }

  /** The domain's score in the other readable runs, newest first (at most `limit`). */
  history(domain: string, limit = 8): { run: number; score: number; severity: Severity }[] {
    const out: { run: number; score: number; severity: Severity }[] = [];
    for (const r of this.runs()) {
      if (out.length >= limit) break;
      if (!isReadableRun(r)) continue;
      const f = this.reader.finding(r.id, domain);
      if (f !== null) out.push({ run: r.id, score: f.score, severity: f.severity });
    }
    return out;
  }
}

/** `s` escaped for a terminal and cut to `width` columns (an ellipsis marks the cut): for traffic strings. */
export function fit(s: string, width: number): string {
  return cut(escapeTerminal(s), width);
}

/** Text already safe for a terminal (Plumbum's own, or escaped), cut to `width` columns. */
export function cut(s: string, width: number): string {
  if (width <= 0) return "";
  return s.length <= width ? s : s.slice(0, Math.max(0, width - 1)) + "…";
}

/** A bar of `fraction` (0..1) in `width` cells. */
export function bar(fraction: number, width: number): string {
  const f = Math.max(0, Math.min(1, Number.isFinite(fraction) ? fraction : 0));
  const eighths = Math.round(f * width * 8);
  const full = Math.floor(eighths / 8), rest = eighths % 8;
  return ("█".repeat(full) + (rest > 0 ? " ▏▎▍▌▋▊▉"[rest] : "")).padEnd(width, " ");
}

/** A count for a narrow column: 1234 → "1,234", 1 234 567 → "1.2M" (by hand: toLocaleString cost a frame ~1.5 ms). */
export function count(n: number | null): string {
  if (n === null || !Number.isFinite(n)) return "-";
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  const s = String(Math.round(n));
  return s.length <= 3 ? s : `${s.slice(0, -3)},${s.slice(-3)}`;
}

/** A time of day (UTC) for a table column. */
export function clock(ts: number | null): string {
  if (ts === null || !Number.isFinite(ts)) return "-";
  const d = new Date(ts * 1000);
  return isNaN(d.getTime()) ? "-" : d.toISOString().slice(11, 19);
}

/** Column widths of the table for a terminal `cols` wide: the domain takes what the numbers leave. */
export function columns(cols: number): { domain: number; bar: number; times: boolean } {
  // severity 8, score 5, queries 8, clients 7, names 8, capacity 9, and a space before each after the first;
  // on a wide terminal a score bar, and first/last seen (8 each).
  const times = cols >= 100;
  const bar = cols >= 120 ? 10 : 0;
  const fixed = 8 + 1 + 5 + 1 + 8 + 1 + 7 + 1 + 8 + 1 + 9 + 1 + (times ? 18 : 0) + (bar > 0 ? bar + 1 : 0);
  return { domain: Math.max(12, cols - fixed), bar, times };
}

/** The table's header line. */
export function headerLine(cols: number): string {
  const c = columns(cols);
  return [
    "SEVERITY".padEnd(8),
    "SCORE".padStart(5),
    ...(c.bar > 0 ? ["".padEnd(c.bar)] : []),
    "DOMAIN".padEnd(c.domain),
    "QUERIES".padStart(8),
    "CLIENTS".padStart(7),
    "NAMES".padStart(8),
    "CAPACITY".padStart(9),
    ...(c.times ? ["FIRST".padStart(8), "LAST".padStart(8)] : []),
  ].join(" ");
}

/** One table row as text (severity first, so a caller may colour it). */
export function rowLine(r: TableRow, cols: number): { severity: string; rest: string } {
  const c = columns(cols);
  const score = roundScore(r.score);
  return {
    severity: r.severity.padEnd(8),
    rest: [
      "",
      score.toFixed(1).padStart(5),
      ...(c.bar > 0 ? [bar(score / 100, c.bar)] : []),
      cut(escapeTerminal(r.domain) + (r.is_c2 ? " (C2)" : ""), c.domain).padEnd(c.domain),
      count(r.queries).padStart(8),
      count(r.clients).padStart(7),
      count(r.names).padStart(8),
      (r.capacity === null ? "-" : formatBytes(r.capacity)).padStart(9),
      ...(c.times ? [clock(r.first_seen).padStart(8), clock(r.last_seen).padStart(8)] : []),
    ].join(" "),
  };
}

/** The detail of one domain as lines: the score taken apart (bars), the evidence, earlier runs. */
export function detailLines(
  f: DomainFinding,
  run: number,
  history: { run: number; score: number; severity: Severity }[],
  cols: number,
): string[] {
  const w = Math.max(20, cols - 2);
  const lines = [
    cut(`${escapeTerminal(f.domain)}${f.is_c2 ? " (named C2 suffix)" : ""}`, w),
    `score ${roundScore(f.score).toFixed(1)} ${f.severity} in run #${run}: 100 × Σ weight·norm / Σ weights`,
    ...(f.suppressed ? [cut(suppressionText(f.suppressed), w)] : []),
    "",
    "Components:                norm        weight  contribution  share",
  ];
  for (const k of f.components) {
    lines.push(
      `  ${k.feature.padEnd(22)} ${bar(k.norm, 10)} ${k.norm.toFixed(3)}  ${String(k.weight).padStart(5)}  ${
        k.contribution.toFixed(3).padStart(12)
      }  ${bar(k.share, 8)} ${(100 * k.share).toFixed(1).padStart(5)} pts`,
    );
  }
  lines.push("");
  // Evidence lines escape their traffic strings themselves.
  if (f.evidence !== undefined) lines.push(...evidenceLines(f.evidence, f.features, f.domain).map((l) => cut(l, w)));
  lines.push("", "Earlier runs:");
  const others = history.filter((h) => h.run !== run);
  if (others.length === 0) lines.push("  (scored in no other run)");
  for (const h of others) lines.push(`  #${h.run}  ${roundScore(h.score).toFixed(1).padStart(5)}  ${h.severity}`);
  return lines;
}

/** A live run's capture figures as its last window's commit stored them (null for a run over files). */
export function storedLive(r: RunRecord): { packets: number; dropped: number | null; windows: number } | null {
  if (!isLiveConfig(r.config)) return null;
  const live = liveSummary(r);
  const n = (v: unknown) => (typeof v === "number" ? v : null);
  return { packets: n(live.packets) ?? 0, dropped: n(live.dropped), windows: n(live.windows) ?? 0 };
}

/** The time span of a run's traffic, from its sources' first and last timestamps ("" when unknown). */
export function runSpan(r: RunRecord): string {
  let first = Infinity, last = -Infinity;
  for (const s of r.sources) {
    const f = s.stats?.first_ts, l = s.stats?.last_ts;
    if (typeof f === "number" && f < first) first = f;
    if (typeof l === "number" && l > last) last = l;
  }
  if (!Number.isFinite(first) || !Number.isFinite(last)) return "";
  const secs = last - first;
  const length = secs < 120
    ? `${secs.toFixed(0)} s`
    : secs < 7200
    ? `${(secs / 60).toFixed(0)} min`
    : `${(secs / 3600).toFixed(1)} h`;
  return `${new Date(first * 1000).toISOString().slice(0, 19).replace("T", " ")} UTC + ${length}`;
}

/** What a run is, in one line of the header. */
export function runLine(r: RunRecord): string {
  const src = r.sources.map((s) => escapeTerminal(s.path)).join(", ") ||
    escapeTerminal(
      String((r.config.interface as string | undefined) ?? (r.config.files as string[] | undefined)?.join(", ") ?? ""),
    );
  const live = isLiveConfig(r.config) ? " live" : "";
  return `run #${r.id} (${r.status}${live}) · ${src} · ${count(r.transactions)} transactions · ${
    count(r.domains)
  } domains`;
}
