/**
 * Detection judged source by source. The model is never judged on one
 * pooled figure: each source is reported on its own, and the worst source
 * is the headline. Sources:
 *
 * - `lab`: the recorded lab (`fixtures/lab/`) and the generated scenarios
 *   (`lab/scenarios.ts`: busy hosts, app bursts, a bare-server tunnel, a
 *   slow address implant, a 4-query burst, a tunnel at its resolver);
 * - `corpus`: `../shared/corpus/` as recorded in front of the resolver;
 * - `resolver`: the same captures with the resolver's upstream leg merged
 *   in (what a sensor on the resolver's NIC sees; needs `mergecap`);
 * - `public`: `../shared/corpus/public/`;
 * - `public-benign`: `../shared/corpus/public-benign/`.
 *
 * Each source also gets the replay check: its captures with time running
 * 100× faster, cut in 5-s windows; a benign domain-window at MEDIUM or
 * more is a false alarm.
 *
 * With `--loso`, the model's measured scales ({@link TUNNEL_SCALES}) are
 * refitted leaving one source out at a time (the lab, the corpus with its
 * resolver leg, the public tool captures, the public benign captures): a
 * grid of scales is scored on the other sources (fewest errors — tunnels
 * under HIGH, benign domains at MEDIUM or more —, then the widest margin,
 * then the nearest to the shipped scales) and the choice is measured on the
 * source left out. The worst held-out source is the headline.
 *
 *   deno task judge [--json] [--seed N] [--loso]
 *
 * @module
 */
import { Analyzer } from "../src/analysis/analyze.ts";
import { presetModel, roundScore, severityOf, TUNNEL_SCALES } from "../src/analysis/model.ts";
import { evaluate, type LabeledCapture, labeledCapture, scoreAlone } from "../src/eval/evaluate.ts";
import { isTunnel, labelFor, type LabelRow, parseLabels } from "../src/eval/labels.ts";
import { ingestSources } from "../src/run/ingest.ts";
import type { Transaction } from "../src/ingest/types.ts";
import { scenarios } from "../lab/scenarios.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const SHARED = `${ROOT}../shared/corpus`;
const model = presetModel("tunnel");

/** Benign domain-windows at MEDIUM or more when `txs` replay `speed`× faster in windows of `secs`. */
function replayAlarms(file: string, txs: Iterable<Transaction>, rows: LabelRow[], speed = 100, secs = 5) {
  const alarms: { file: string; domain: string; score: number }[] = [];
  let windows = 0;
  let a: Analyzer | null = null;
  let end = -Infinity;
  let origin: number | null = null;
  const close = () => {
    if (a === null) return;
    windows++;
    for (const f of a.findings()) {
      if (!isTunnel(labelFor(rows, f.domain)) && severityOf(roundScore(f.score), model.thresholds) !== "LOW") {
        alarms.push({ file, domain: f.domain, score: roundScore(f.score) });
      }
    }
  };
  for (const t of txs) {
    if (origin === null) origin = t.ts;
    const ts = origin + (t.ts - origin) / speed;
    if (ts >= end) {
      close();
      a = new Analyzer({ model });
      end = origin + (Math.floor((ts - origin) / secs) + 1) * secs;
    }
    a!.add({ ...t, ts });
  }
  close();
  return { windows, alarms };
}

interface SourceFigures {
  source: string;
  captures: number;
  tunnels: number;
  tunnels_high: number;
  tunnels_medium: number;
  benign: number;
  benign_medium: number;
  weakest_tunnel: { file: string; domain: string; label: string; score: number } | null;
  strongest_benign: { file: string; domain: string; label: string; score: number } | null;
  /** Tunnels whose tool was named, and benign domains given a tool's name (false names). */
  tools_named: number;
  tools_false: { file: string; domain: string; tool: string }[];
  replay_windows: number;
  replay_alarms: { file: string; domain: string; score: number }[];
  wrong: { file: string; domain: string; label: string; score: number; top: string }[];
}

/** A labeled capture from transactions, and its replay check: one analysis, as `apply` makes it, per capture. */
function judgeCapture(file: string, txs: Transaction[], rows: LabelRow[]) {
  const a = new Analyzer({ model });
  for (const t of txs) a.add(t);
  return { cap: labeledCapture(file, file, a.summaries(), rows), replay: replayAlarms(file, txs, rows) };
}

/** The captures a labels file names, each read once; `prefix` before their names in the report. */
async function fileSource(source: string, paths: string[], labelText: string, prefix = "") {
  const labels = parseLabels(labelText, source);
  const caps: LabeledCapture[] = [];
  const replay: ReturnType<typeof replayAlarms>[] = [];
  for (const p of paths) {
    const txs: Transaction[] = [];
    await ingestSources([p], { onTransaction: (t) => txs.push({ ...t }) });
    const base = p.replace(/^.*\//, "");
    const judged = judgeCapture(prefix + base, txs, labels.get(base) ?? []);
    caps.push(judged.cap);
    replay.push(judged.replay);
  }
  return { caps, replay };
}

function figuresOf(source: string, caps: LabeledCapture[], replay: ReturnType<typeof replayAlarms>[]): SourceFigures {
  const report = evaluate(caps, model).alone;
  const t = report.domains.filter((d) => isTunnel(d.label));
  const b = report.domains.filter((d) => !isTunnel(d.label));
  const high = (s: string) => s === "HIGH" || s === "CRITICAL";
  const min = t.reduce((m, d) => m === null || d.score < m.score ? d : m, null as (typeof t)[number] | null);
  const max = b.reduce((m, d) => m === null || d.score > m.score ? d : m, null as (typeof b)[number] | null);
  const brief = (d: (typeof t)[number] | null) =>
    d === null ? null : { file: d.file, domain: d.domain, label: d.label, score: roundScore(d.score) };
  return {
    source,
    captures: caps.length,
    tunnels: t.length,
    tunnels_high: t.filter((d) => high(d.severity)).length,
    tunnels_medium: t.filter((d) => d.severity !== "LOW").length,
    benign: b.length,
    benign_medium: b.filter((d) => d.severity !== "LOW").length,
    weakest_tunnel: brief(min),
    strongest_benign: brief(max),
    tools_named: caps.reduce(
      (n, c) => n + c.summaries.filter((s, i) => isTunnel(c.labels[i]) && s.evidence.tool).length,
      0,
    ),
    tools_false: caps.flatMap((c) =>
      c.summaries.flatMap((s, i) =>
        !isTunnel(c.labels[i]) && s.evidence.tool
          ? [{ file: c.file, domain: s.domain, tool: s.evidence.tool.name }]
          : []
      )
    ),
    replay_windows: replay.reduce((n, r) => n + r.windows, 0),
    replay_alarms: replay.flatMap((r) => r.alarms),
    wrong: report.wrong.map((d) => ({
      file: d.file,
      domain: d.domain,
      label: d.label,
      score: roundScore(d.score),
      top: d.top.map((k) => `${k.feature} ${(100 * k.share).toFixed(1)}`).join(", "),
    })),
  };
}

type Scales = typeof TUNNEL_SCALES;

/** Errors (tunnels under HIGH, benign at MEDIUM or more) and margin of `caps` under `scales`. */
function judgeScales(caps: LabeledCapture[], scales: Scales): { errors: number; margin: number } {
  const shipped = { ...TUNNEL_SCALES };
  Object.assign(TUNNEL_SCALES, scales);
  try {
    const high = (s: string) => s === "HIGH" || s === "CRITICAL";
    let errors = 0, weakest = Infinity, strongest = -Infinity;
    for (const d of scoreAlone(caps, model)) {
      const tunnel = isTunnel(d.label);
      if (tunnel ? !high(d.severity) : d.severity !== "LOW") errors++;
      else if (tunnel) weakest = Math.min(weakest, d.score);
      else strongest = Math.max(strongest, d.score);
    }
    // How far the right answers sit from the nearest threshold they must clear.
    return { errors, margin: Math.min(weakest - model.thresholds.high, model.thresholds.medium - strongest) };
  } finally {
    Object.assign(TUNNEL_SCALES, shipped);
  }
}

/** The grid of scales a fold chooses from (the shipped ones among them). */
function scaleGrid(): Scales[] {
  const out: Scales[] = [];
  for (const lo of [100, 200, 300, 500, 800]) {
    for (const k of [2, 4, 8]) {
      for (const b of [150, 300, 450]) {
        for (const m of [1.5, 2, 3]) out.push({ evidenceBits: [lo, lo * k], bulkNameBits: [b, b * m] });
      }
    }
  }
  return out;
}

/** Distance of scales from the shipped ones (sum of log ratios), for ties. */
function distance(a: Scales, b: Scales): number {
  const d = (x: number, y: number) => Math.abs(Math.log(x / y));
  return d(a.evidenceBits[0], b.evidenceBits[0]) + d(a.evidenceBits[1], b.evidenceBits[1]) +
    d(a.bulkNameBits[0], b.bulkNameBits[0]) + d(a.bulkNameBits[1], b.bulkNameBits[1]);
}

/** Leave one source out: fit the scales on the others, measure on it. */
function leaveOneSourceOut(groups: { source: string; caps: LabeledCapture[] }[]) {
  const shipped: Scales = {
    evidenceBits: [...TUNNEL_SCALES.evidenceBits],
    bulkNameBits: [...TUNNEL_SCALES.bulkNameBits],
  };
  const grid = scaleGrid();
  // Each candidate scored once per source; a fold sums the sources it trains on.
  const table = grid.map((scales) => groups.map((g) => judgeScales(g.caps, scales)));
  return groups.map((held, h) => {
    let best = -1;
    let bestKey: [number, number, number] = [Infinity, -Infinity, Infinity];
    table.forEach((row, i) => {
      const train = row.filter((_, k) => k !== h);
      const key: [number, number, number] = [
        train.reduce((n, r) => n + r.errors, 0),
        Math.min(...train.map((r) => r.margin)),
        distance(grid[i], shipped),
      ];
      const better = key[0] < bestKey[0] || (key[0] === bestKey[0] &&
        (key[1] > bestKey[1] || (key[1] === bestKey[1] && key[2] < bestKey[2])));
      if (better) [best, bestKey] = [i, key];
    });
    return {
      held_out: held.source,
      chosen: grid[best],
      train_errors: bestKey[0],
      held_out_errors: table[best][h].errors,
      held_out_margin: table[best][h].margin,
      shipped_errors: judgeScales(held.caps, shipped).errors,
    };
  });
}

async function exists(p: string): Promise<boolean> {
  try {
    await Deno.stat(p);
    return true;
  } catch {
    return false;
  }
}

function labelPaths(dir: string, text: string): string[] {
  const files = new Set<string>();
  for (const line of text.split("\n").slice(1)) {
    const f = line.split("\t")[0];
    if (f) files.add(`${dir}/${f}`);
  }
  return [...files];
}

async function mergecap(out: string, inputs: string[]): Promise<boolean> {
  try {
    const p = await new Deno.Command("mergecap", { args: ["-F", "pcap", "-w", out, ...inputs], stderr: "null" })
      .output();
    return p.success;
  } catch {
    return false;
  }
}

if (import.meta.main) {
  const json = Deno.args.includes("--json");
  const seedAt = Deno.args.indexOf("--seed");
  const seed = seedAt >= 0 ? Number(Deno.args[seedAt + 1]) : 1;
  const out: SourceFigures[] = [];
  const skipped: string[] = [];
  /** Each source's captures, for --loso (the resolver leg goes with the corpus it was recorded with). */
  const groups: { source: string; caps: LabeledCapture[] }[] = [];

  // The lab: recorded captures and generated scenarios.
  const labText = await Deno.readTextFile(`${ROOT}fixtures/lab/labels.tsv`);
  const lab = await fileSource("lab", labelPaths(`${ROOT}fixtures/lab`, labText), labText);
  for (const s of scenarios(seed)) {
    const judged = judgeCapture(s.file, s.transactions, s.labels.map((l) => ({ file: s.file, ...l })));
    lab.caps.push(judged.cap);
    lab.replay.push(judged.replay);
  }
  out.push(figuresOf("lab", lab.caps, lab.replay));
  groups.push({ source: "lab", caps: lab.caps });

  if (await exists(SHARED)) {
    const corpusText = await Deno.readTextFile(`${SHARED}/labels.tsv`);
    const corpus = await fileSource("corpus", labelPaths(SHARED, corpusText), corpusText);
    out.push(figuresOf("corpus", corpus.caps, corpus.replay));
    groups.push({ source: "corpus (+ resolver leg)", caps: corpus.caps });
    // The resolver's vantage: both legs in one capture.
    const tmp = await Deno.makeTempDir({ prefix: "plumbum-judge-" });
    const merged: string[] = [];
    for (const p of labelPaths(SHARED, corpusText)) {
      const up = p.replace(/\.pcap$/, ".upstream.pcap");
      const m = `${tmp}/${p.replace(/^.*\//, "")}`;
      if (await exists(up) && await mergecap(m, [p, up])) merged.push(m);
    }
    if (merged.length > 0) {
      const resolver = await fileSource("resolver", merged, corpusText, "resolver:");
      out.push(figuresOf("resolver", resolver.caps, resolver.replay));
      groups[groups.length - 1].caps.push(...resolver.caps);
    } else skipped.push("resolver (needs mergecap, from the tshark/wireshark-common package)");
    await Deno.remove(tmp, { recursive: true });
    for (const name of ["public", "public-benign"]) {
      const dir = `${SHARED}/${name}`;
      const text = await Deno.readTextFile(`${dir}/labels.tsv`);
      const src = await fileSource(name, labelPaths(dir, text), text);
      out.push(figuresOf(name, src.caps, src.replay));
      groups.push({ source: name, caps: src.caps });
    }
  } else skipped.push(`corpus, resolver, public, public-benign (${SHARED} is absent)`);

  const loso = Deno.args.includes("--loso") ? leaveOneSourceOut(groups) : null;
  if (json) {
    console.log(JSON.stringify({ model: model.preset, seed, sources: out, loso, skipped }));
  } else {
    const rows = [
      "| source | captures | tunnels ≥ HIGH | ≥ MEDIUM | benign ≥ MEDIUM | weakest tunnel | strongest benign | 100× 5-s windows: benign ≥ MEDIUM | tool named (tunnels) | tool named (benign) |",
      "| --- | ---: | ---: | ---: | ---: | --- | --- | ---: | ---: | ---: |",
    ];
    for (const s of out) {
      rows.push(
        `| ${s.source} | ${s.captures} | ${s.tunnels_high}/${s.tunnels} | ${s.tunnels_medium}/${s.tunnels} | ${s.benign_medium}/${s.benign} | ${
          s.weakest_tunnel ? `${s.weakest_tunnel.score} ${s.weakest_tunnel.label}` : "-"
        } | ${
          s.strongest_benign ? `${s.strongest_benign.score} ${s.strongest_benign.domain}` : "-"
        } | ${s.replay_alarms.length}/${s.replay_windows} | ${s.tools_named}/${s.tunnels} | ${s.tools_false.length} |`,
      );
    }
    console.log(rows.join("\n"));
    const worstT = out.filter((s) =>
      s.tunnels > 0
    ).sort((a, b) => a.tunnels_high / a.tunnels - b.tunnels_high / b.tunnels)[0];
    const worstB = [...out].sort((a, b) =>
      b.benign_medium / Math.max(1, b.benign) - a.benign_medium / Math.max(1, a.benign)
    )[0];
    console.log(
      `\nWorst source: tunnels ${worstT?.source} (${worstT?.tunnels_high}/${worstT?.tunnels} ≥ HIGH); benign ${worstB?.source} (${worstB?.benign_medium}/${worstB?.benign} ≥ MEDIUM)`,
    );
    for (const s of out) {
      for (const w of s.wrong) {
        console.log(`  wrong [${s.source}] ${w.file} ${w.domain} ${w.label} ${w.score}: ${w.top}`);
      }
      for (const t of s.tools_false) console.log(`  false tool [${s.source}] ${t.file} ${t.domain} named ${t.tool}`);
      for (const a of s.replay_alarms.slice(0, 10)) {
        console.log(`  replay alarm [${s.source}] ${a.file} ${a.domain} ${a.score}`);
      }
      if (s.replay_alarms.length > 10) {
        console.log(`  … ${s.replay_alarms.length - 10} more replay alarms in ${s.source}`);
      }
    }
    if (loso !== null) {
      const range = (r: [number, number]) => `${r[0]}→${r[1]}`;
      console.log(
        `\nLeave one source out (scales shipped: evidence ${range(TUNNEL_SCALES.evidenceBits)} bits, bulk ${
          range(TUNNEL_SCALES.bulkNameBits)
        } bits a name):\n`,
      );
      console.log(
        "| held out | scales fitted on the others (evidence; bulk) | errors on the others | errors held out | held-out margin | errors held out, shipped scales |",
      );
      console.log("| --- | --- | ---: | ---: | ---: | ---: |");
      for (const f of loso) {
        console.log(
          `| ${f.held_out} | ${range(f.chosen.evidenceBits)}; ${
            range(f.chosen.bulkNameBits)
          } | ${f.train_errors} | ${f.held_out_errors} | ${f.held_out_margin.toFixed(1)} | ${f.shipped_errors} |`,
        );
      }
      const worst = [...loso].sort((a, b) =>
        b.held_out_errors - a.held_out_errors || a.held_out_margin - b.held_out_margin
      )[0];
      console.log(
        `\nWorst held-out source: ${worst.held_out} (${worst.held_out_errors} errors, margin ${
          worst.held_out_margin.toFixed(1)
        })`,
      );
    }
    for (const s of skipped) console.log(`skipped: ${s}`);
  }
}
