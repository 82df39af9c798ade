/**
 * `plumbum report`: one self-contained HTML page per run, for a reader who
 * will not run a terminal. Everything is inline — styles, the chart library
 * (uPlot: 51 KB, canvas, no dependencies), the page's script and the data —
 * and a Content-Security-Policy meta tag lets nothing else in: no request
 * leaves the page, and only the two scripts whose SHA-256 it lists run.
 *
 * Every string from traffic or a user is written as {@link displayText}
 * makes it (the export's representation) and then HTML-escaped where the
 * page holds it as markup, or JSON-escaped inside the data block (`<`, `>`,
 * `&` and line separators as `\u` escapes, so no `</script>` ends it);
 * the script puts data on the page with `textContent` only.
 *
 * The findings at or over the floor are written out in full (score taken
 * apart, evidence, timeline, names over time; at most {@link MAX_DETAILS});
 * every domain of the run is in the table, which the script sorts, filters
 * and pages.
 *
 * @module
 */

import uplotScript from "npm:uplot@1.6.32/dist/uPlot.iife.min.js" with { type: "text" };
import uplotCss from "npm:uplot@1.6.32/dist/uPlot.min.css" with { type: "text" };
import { createHash } from "node:crypto";
import type { DomainFinding } from "../analysis/analyze.ts";
import { atLeast, roundScore, SEVERITIES, type Severity } from "../analysis/model.ts";
import type { ResultsReader, TableRow } from "../store/reader.ts";
import type { RunRecord } from "../store/types.ts";
import { displayText } from "./escape.ts";
import { evidenceLines, fmtTime } from "./text.ts";

/** Findings written out in full at most (the rest are rows of the table). */
const MAX_DETAILS = 100;
/** Query names of one finding drawn over time at most. */
const MAX_NAME_POINTS = 2000;

/** What the page shows, read from a workspace (see {@link reportData}). */
export interface ReportData {
  run: RunRecord;
  version: string;
  floor: Severity;
  counts: Record<Severity, number>;
  /** Every domain of the run, highest score first. */
  rows: TableRow[];
  /** The findings at or over the floor, with their evidence (at most {@link MAX_DETAILS}). */
  details: DomainFinding[];
  /** Details left out past {@link MAX_DETAILS}. */
  detailsLeft: number;
  /** Each detailed finding's query names: [capture seconds, name length in bytes] (time order, at most 2 000). */
  names: [number, number][][];
  /** The run's transactions per bucket of capture time, or null when its transactions were not stored. */
  activity: { start: number; bucket_secs: number; counts: number[] } | null;
}

/** Read what the report of run `run` shows, details from `floor` up. */
export function reportData(reader: ResultsReader, run: RunRecord, floor: Severity, version: string): ReportData {
  const rows = reader.allTableRows(run.id);
  const wanted = rows.filter((r) => atLeast(r.severity, floor));
  const details = wanted.slice(0, MAX_DETAILS).map((r) => reader.finding(run.id, r.domain)!).filter((f) => f !== null);
  return {
    run,
    version,
    floor,
    counts: reader.severityCounts(run.id),
    rows,
    details,
    detailsLeft: wanted.length - details.length,
    names: details.map((f) =>
      reader.transactions(run.id, f.domain, MAX_NAME_POINTS).map((t) => [t.ts, t.query.length] as [number, number])
    ),
    activity: reader.activity(run.id),
  };
}

/**
 * Text for HTML markup and attribute values: `& < > " '` escaped.
 *
 * @internal Exported for its tests.
 */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * JSON that may stand inside a `<script>` element: nothing in it can end the element or the line.
 *
 * @internal Exported for its tests.
 */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

const sha256 = (s: string) => createHash("sha256").update(s, "utf8").digest("base64");

/** A traffic or user string as the page shows it. */
const show = (s: string) => escapeHtml(displayText(s));

const num = (n: number) => n.toLocaleString("en-US");

/** A component's share of the score as an SVG bar (SVG attributes, not style: the CSP allows no inline style). */
function bar(share: number): string {
  const w = Math.max(0, Math.min(1, share)) * 200;
  return `<svg class="bar" viewBox="0 0 200 10" width="200" height="10" aria-hidden="true"><rect width="200" height="10" class="track"/><rect width="${
    w.toFixed(1)
  }" height="10" class="fill"/></svg>`;
}

function runSection(d: ReportData): string {
  const r = d.run;
  const stats = r.sources.map((s) => s.stats ?? {});
  const first = Math.min(...stats.map((s) => typeof s.first_ts === "number" ? s.first_ts : Infinity));
  const last = Math.max(...stats.map((s) => typeof s.last_ts === "number" ? s.last_ts : -Infinity));
  const sum = (k: string) => stats.reduce((n, s) => n + (typeof s[k] === "number" ? s[k] as number : 0), 0);
  const model = r.config.model as
    | { preset?: string; weights?: Record<string, number>; normalization?: string }
    | undefined;
  const sources = r.sources.map((s) =>
    `<li><code>${show(s.path)}</code> ${s.format ? `(${escapeHtml(s.format)}` : "("}${
      s.size === null ? "" : `, ${num(s.size)} bytes`
    })${s.sha256 ? ` <span class="hash">SHA-256 ${escapeHtml(s.sha256)}</span>` : ""}</li>`
  ).join("");
  const weights = Object.entries(model?.weights ?? {}).map(([f, w]) => `${escapeHtml(f)} ${w}`).join(", ");
  return `<section id="run"><h2>Run #${r.id}</h2>
<dl>
<dt>Sources</dt><dd><ul>${sources || "<li>-</li>"}</ul></dd>
<dt>Time span</dt><dd>${fmtTime(Number.isFinite(first) ? first : null)} – ${
    fmtTime(Number.isFinite(last) ? last : null)
  }</dd>
<dt>Traffic</dt><dd>${num(sum("packets"))} packets, ${num(r.transactions)} DNS transactions, ${
    num(sum("malformed"))
  } malformed skipped, ${num(d.rows.length)} domains</dd>
<dt>Model</dt><dd>${escapeHtml(model?.preset ?? "-")} (${escapeHtml(model?.normalization ?? "-")}): ${weights}</dd>
<dt>Run</dt><dd>${escapeHtml(r.status)}, started ${escapeHtml(r.started_at)}${
    r.finished_at ? `, finished ${escapeHtml(r.finished_at)}` : ""
  }; Plumbum ${escapeHtml(d.version)}</dd>
</dl></section>`;
}

function summarySection(d: ReportData): string {
  const cells = [...SEVERITIES].reverse().map((s) =>
    `<div class="sev ${s.toLowerCase()}"><span class="n">${num(d.counts[s])}</span> <span class="l">${s}</span></div>`
  ).join("");
  const list = d.details.slice(0, 20).map((f) =>
    `<li><a href="#d${d.details.indexOf(f)}">${show(f.domain)}</a> — ${f.severity} ${roundScore(f.score).toFixed(1)}${
      f.tool ? `, ${escapeHtml(f.tool.name)}` : ""
    }</li>`
  ).join("");
  return `<section id="summary"><h2>Summary</h2><div class="sevs">${cells}</div>
<p>${num(d.details.length + d.detailsLeft)} domain${
    d.details.length + d.detailsLeft === 1 ? "" : "s"
  } at ${d.floor} or above${
    d.detailsLeft > 0 ? ` (the first ${d.details.length} written out below; every domain is in the table)` : ""
  }.</p>${list ? `<ol class="top">${list}</ol>` : ""}</section>`;
}

function detailSection(f: DomainFinding, i: number): string {
  const total = f.components.reduce((n, c) => n + c.contribution, 0) || 1;
  const comps = f.components.map((c) =>
    `<tr><td>${escapeHtml(c.feature)}</td><td>${bar(c.contribution / total)}</td><td class="num">${
      (100 * c.contribution / total).toFixed(1)
    } %</td><td class="num">${c.norm.toFixed(3)}</td><td class="num">${c.weight}</td><td class="num">${
      c.raw === null ? "-" : Number(c.raw.toPrecision(4))
    }</td></tr>`
  ).join("");
  const evidence = evidenceLines(f.evidence, f.features, f.domain).slice(1).map(escapeHtml).join("\n");
  const clients = f.evidence.clients.slice(0, 10).map((c) =>
    `<li><code>${show(c.client)}</code> ${num(c.queries)}</li>`
  )
    .join("");
  return `<section class="finding" id="d${i}"><h2><span class="sev-label ${f.severity.toLowerCase()}">${f.severity}</span> ${
    roundScore(f.score).toFixed(1)
  } <span class="domain">${show(f.domain)}</span></h2>
${f.tool ? `<p class="tool">Tool: <b>${escapeHtml(f.tool.name)}</b> — ${show(f.tool.evidence)}</p>` : ""}
${
    f.suppressed
      ? `<p class="tool">Allowed by config.hcl (<code>${show(f.suppressed.entry)}</code>): ${
        show(f.suppressed.reason)
      }${f.suppressed.expires === null ? "" : `, until ${escapeHtml(f.suppressed.expires)}`}</p>`
      : ""
  }
<h3>The score taken apart</h3>
<table class="components"><thead><tr><th>feature</th><th>share of the score</th><th></th><th>norm</th><th>weight</th><th>raw</th></tr></thead><tbody>${comps}</tbody></table>
<div class="charts"><figure><div class="chart" data-chart="timeline" data-i="${i}"></div><figcaption>Queries per minute: this domain and the whole capture</figcaption></figure>
<figure><div class="chart" data-chart="names" data-i="${i}"></div><figcaption>Length of each query name (bytes) over time</figcaption></figure></div>
<h3>Busiest clients</h3><ul class="clients">${clients || "<li>-</li>"}</ul>
<h3>Evidence</h3><pre class="evidence">${evidence}</pre></section>`;
}

const STYLE = `${uplotCss}
:root{color-scheme:light;font-family:system-ui,sans-serif;line-height:1.4}
body{margin:0 auto;max-width:72rem;padding:1rem 1.5rem;color:#111;background:#fff}
h1{font-size:1.6rem;margin:.2rem 0}h2{font-size:1.25rem;margin:1.6rem 0 .4rem;border-bottom:1px solid #999}
h3{font-size:1rem;margin:1rem 0 .3rem}code,pre,.domain{font-family:ui-monospace,monospace;word-break:break-all}
pre.evidence{white-space:pre-wrap;background:#f4f4f4;padding:.5rem;border:1px solid #ddd;font-size:.8rem}
dl{display:grid;grid-template-columns:9rem 1fr;gap:.2rem .8rem}dt{font-weight:bold}dd{margin:0}dd ul{margin:0;padding-left:1rem}
.hash{font-size:.75rem;color:#555}.sevs{display:flex;gap:1rem;flex-wrap:wrap}
.sev{border:2px solid #333;padding:.3rem .8rem;border-radius:.3rem}.sev .n{font-size:1.4rem;font-weight:bold}
.critical{border-color:#a00}.high{border-color:#c60}.medium{border-color:#b90}.low{border-color:#777}
.sev-label{font-size:.9rem;border:2px solid;padding:0 .3rem;border-radius:.2rem}
table{border-collapse:collapse;font-size:.85rem}th,td{padding:.15rem .5rem;text-align:left;border-bottom:1px solid #ddd}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
svg.bar .track{fill:#eee}svg.bar .fill{fill:#345}
.charts{display:flex;flex-wrap:wrap;gap:1rem}figure{margin:.5rem 0}figcaption{font-size:.8rem;color:#444}
.controls{display:flex;gap:.5rem;align-items:center;margin:.5rem 0}#rows th{cursor:pointer;user-select:none}
#rows th[aria-sort]::after{content:" " attr(data-arrow)}
@media print{.controls,#table nav,.noprint{display:none}.finding,#table{break-before:page}body{max-width:none;padding:0}
 a{color:inherit;text-decoration:none}pre.evidence{background:none}}
`;

/** The page's own script: the table (sort, filter, pages) and the charts, from the data block, through textContent only. */
const SCRIPT = `"use strict";
(() => {
const D = JSON.parse(document.getElementById("plumbum-data").textContent);
const PAGE = 200;
let rows = D.rows, sortKey = 1, sortDir = -1, page = 0, filter = "";
const body = document.querySelector("#rows tbody"), info = document.getElementById("table-info");
const cols = ["domain", "score", "severity", "queries", "clients", "names", "capacity"];
function cell(tr, text, num) { const td = document.createElement("td"); td.textContent = text; if (num) td.className = "num"; tr.appendChild(td); }
function view() {
  const f = filter.toLowerCase();
  let v = f === "" ? rows : rows.filter((r) => r[0].toLowerCase().includes(f));
  v = v.slice().sort((a, b) => (a[sortKey] < b[sortKey] ? -1 : a[sortKey] > b[sortKey] ? 1 : 0) * sortDir);
  const pages = Math.max(1, Math.ceil(v.length / PAGE));
  page = Math.min(page, pages - 1);
  body.replaceChildren();
  for (const r of v.slice(page * PAGE, page * PAGE + PAGE)) {
    const tr = document.createElement("tr");
    cell(tr, r[0]); cell(tr, r[1].toFixed(1), true); cell(tr, r[2]);
    for (let k = 3; k < 7; k++) cell(tr, r[k].toLocaleString("en-US"), true);
    body.appendChild(tr);
  }
  info.textContent = v.length.toLocaleString("en-US") + " of " + rows.length.toLocaleString("en-US") +
    " domains, page " + (page + 1) + " of " + pages;
  document.querySelectorAll("#rows th").forEach((th, k) => {
    if (k === sortKey) { th.setAttribute("aria-sort", sortDir < 0 ? "descending" : "ascending"); th.dataset.arrow = sortDir < 0 ? "▼" : "▲"; }
    else th.removeAttribute("aria-sort");
  });
}
document.querySelectorAll("#rows th").forEach((th, k) => th.addEventListener("click", () => {
  sortDir = k === sortKey ? -sortDir : (k === 0 || k === 2 ? 1 : -1); sortKey = k; page = 0; view();
}));
document.getElementById("filter").addEventListener("input", (e) => { filter = e.target.value; page = 0; view(); });
document.getElementById("prev").addEventListener("click", () => { page = Math.max(0, page - 1); view(); });
document.getElementById("next").addEventListener("click", () => { page++; view(); });
view();
const width = 520, height = 180;
function perMinute(a) {
  if (!a || !a.counts.length) return null;
  const f = 60 / a.bucket_secs;
  return { x: a.counts.map((_, k) => a.start + k * a.bucket_secs), y: a.counts.map((n) => n * f) };
}
document.querySelectorAll(".chart").forEach((el) => {
  const d = D.details[Number(el.dataset.i)];
  if (el.dataset.chart === "timeline") {
    const own = perMinute(d.activity), all = perMinute(D.activity);
    if (!own) { el.textContent = "no timeline"; return; }
    const xs = Array.from(new Set([...own.x, ...(all ? all.x : [])])).sort((a, b) => a - b);
    const at = (s, x) => { if (!s) return null; const k = s.x.indexOf(x); return k < 0 ? null : s.y[k]; };
    const data = [xs, xs.map((x) => at(own, x)), ...(all ? [xs.map((x) => at(all, x))] : [])];
    const series = [{}, { label: "this domain", stroke: "#a00", width: 2, spanGaps: true },
      ...(all ? [{ label: "whole capture", stroke: "#345", width: 1, dash: [4, 3], spanGaps: true }] : [])];
    new uPlot({ width, height, series, scales: { x: { time: true } }, axes: [{}, { label: "queries/min" }] }, data, el);
  } else {
    const pts = D.names[Number(el.dataset.i)];
    if (!pts.length) { el.textContent = "no stored transactions"; return; }
    const data = [pts.map((p) => p[0]), pts.map((p) => p[1])];
    new uPlot({ width, height, scales: { x: { time: true } }, axes: [{}, { label: "bytes" }],
      series: [{}, { label: "name length", stroke: "#345", width: 0, points: { show: true, size: 3, fill: "#345" } }] }, data, el);
  }
});
})();
`;

/** The report page of `d`. */
export function reportHtml(d: ReportData): string {
  const data = {
    rows: d.rows.map((
      r,
    ) => [
      displayText(r.domain),
      roundScore(r.score),
      r.severity,
      r.queries,
      r.clients,
      r.names,
      Math.round(r.capacity),
    ]),
    details: d.details.map((f) => ({ activity: f.evidence.activity ?? null })),
    names: d.names,
    activity: d.activity,
  };
  const style = STYLE;
  const csp = [
    "default-src 'none'",
    `script-src 'sha256-${sha256(uplotScript)}' 'sha256-${sha256(SCRIPT)}'`,
    `style-src 'sha256-${sha256(style)}'`,
    "img-src data:",
    "base-uri 'none'",
    "form-action 'none'",
  ].join("; ");
  const title = `Plumbum report — run #${d.run.id}`;
  const details = d.details.map(detailSection).join("\n");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${escapeHtml(csp)}">
<meta name="referrer" content="no-referrer">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${style}</style>
</head>
<body>
<header><h1>${escapeHtml(title)}</h1>
<p>DNS tunnelling findings of Plumbum: each score (0–100) is a sum of named parts, taken apart below with the evidence behind it. Names are DNS traffic as seen on the wire, chosen by whoever sent it.</p></header>
${summarySection(d)}
${runSection(d)}
<section id="findings"><h2 class="noprint">Findings at ${d.floor} or above</h2>
${details || `<p>No domain of this run is ${d.floor} or above.</p>`}
${d.detailsLeft > 0 ? `<p>${num(d.detailsLeft)} more at ${d.floor} or above are in the table.</p>` : ""}
</section>
<section id="table"><h2>Every domain</h2>
<div class="controls"><label>Filter <input id="filter" type="search" placeholder="part of a name"></label>
<nav><button id="prev" type="button">previous</button> <button id="next" type="button">next</button></nav>
<span id="table-info">The table needs scripts; the findings above do not.</span></div>
<table id="rows"><thead><tr><th>domain</th><th class="num">score</th><th>severity</th><th class="num">queries</th><th class="num">clients</th><th class="num">names</th><th class="num">capacity (bytes)</th></tr></thead><tbody></tbody></table>
</section>
<script type="application/json" id="plumbum-data">${scriptJson(data)}</script>
<script>${uplotScript}</script>
<script>${SCRIPT}</script>
</body>
</html>
`;
}
