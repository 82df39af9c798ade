/**
 * `plumbum eval` and `plumbum tune`: detection quality on labeled captures.
 *
 * @module
 */

import { threadCount } from "../thread.ts";
import type { ModelConfig } from "../analysis/model.ts";
import { ConfigError, resolveModel } from "../config/config.ts";
import {
  type EvalDomain,
  type EvalFigures,
  evaluate,
  type LabeledCapture,
  loadLabeled,
  type LoadOptions,
} from "../eval/evaluate.ts";
import { evaluateWindows, type WindowReport } from "../eval/windows.ts";
import { isTunnel, LabelsError, type LabelSet, mergeLabels, parseLabels } from "../eval/labels.ts";
import { InputError } from "../ingest/source.ts";
import { hclBlock, tune } from "../eval/tune.ts";
import { displayText, escapeTerminal } from "../present/escape.ts";
import { out, UsageError } from "./common.ts";
import { runSettings, workspace, workspaceConfig } from "./workspace.ts";

/** Options shared by eval and tune. */
export interface LabeledOptions {
  labels: string[];
  weights?: string;
  dir?: string;
  json?: boolean;
  /** C2 suffixes beside config.hcl's. */
  c2Domains?: string[];
  /** Plain DNS ports (default from config.hcl). */
  dnsPorts?: number[];
  /** Captures read side by side (default: the machine's cores for captures of 256 MB and more on average, else 1). */
  jobs?: number;
}

/** What eval and tune work from: the model, the captures, their labels and the settings to read them with. */
interface Prepared {
  model: ModelConfig;
  captures: string[];
  labels: LabelSet;
  settings: LoadOptions;
}

async function prepare(captures: string[], o: LabeledOptions): Promise<Prepared> {
  if (o.labels.length === 0) throw new UsageError("--labels FILE is required (TSV: file, suffix, label)");
  const sets: LabelSet[] = [];
  const named: string[] = [];
  for (const f of o.labels) {
    let text: string;
    try {
      text = await Deno.readTextFile(f);
    } catch (e) {
      throw new UsageError(`${f}: cannot read labels: ${(e as Error).message}`);
    }
    try {
      const set = parseLabels(text, f);
      sets.push(set);
      // Without captures on the command line: every file the labels name, beside the labels file.
      const dir = f.includes("/") ? f.slice(0, f.lastIndexOf("/") + 1) : "";
      for (const file of set.keys()) named.push(dir + file);
    } catch (e) {
      if (e instanceof LabelsError) throw new UsageError(escapeTerminal(e.message));
      throw e;
    }
  }
  if (captures.length === 0 && named.length === 0) {
    throw new UsageError(
      `no captures to evaluate: ${o.labels.map(escapeTerminal).join(", ")} name${
        o.labels.length === 1 ? "s" : ""
      } none; add rows "file<TAB>suffix<TAB>label" or give the captures on the command line`,
    );
  }
  const cfg = await workspaceConfig(workspace(o.dir));
  try {
    return {
      model: resolveModel(cfg, { weights: o.weights }),
      captures: captures.length === 0 ? named : captures,
      labels: mergeLabels(sets),
      settings: runSettings(cfg, o),
    };
  } catch (e) {
    if (e instanceof ConfigError) throw new UsageError(e.message);
    throw e;
  }
}

/** Run `load` on prepared captures, turning label and input problems into usage errors. */
async function reading<T>(load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (e) {
    if (e instanceof LabelsError) throw new UsageError(escapeTerminal(e.message));
    if (e instanceof InputError) throw new UsageError(escapeTerminal(e.message));
    throw e;
  }
}

/**
 * Captures this big on average are read a thread each unless `--jobs` says otherwise: a thread takes 1.3 s to
 * start (it loads the whole pipeline), about what reading 250 MB of mixed traffic takes; two 513 MB captures took
 * 6.0-6.5 s on one thread, 4.2-4.3 s on two, and two 157 MB ones 1.5 s on one, 1.8 s on two.
 */
const THREAD_WORTH_BYTES = 256 << 20;

/** The mean size of `paths` (0 when one cannot be read: then the reader says why). */
function averageSize(paths: string[]): number {
  let total = 0;
  for (const p of paths) {
    try {
      total += Deno.statSync(p).size;
    } catch {
      return 0;
    }
  }
  return paths.length === 0 ? 0 : total / paths.length;
}

/** Prepared captures read into labeled domain summaries. */
async function loaded(captures: string[], o: LabeledOptions): Promise<{ model: ModelConfig; caps: LabeledCapture[] }> {
  const p = await prepare(captures, o);
  const jobs = o.jobs ?? (averageSize(p.captures) >= THREAD_WORTH_BYTES ? threadCount() : 1);
  return {
    model: p.model,
    caps: await reading(() => loadLabeled(p.captures, p.labels, p.model, p.settings, jobs)),
  };
}

const pct = (x: number) => Number.isNaN(x) ? "-" : `${(100 * x).toFixed(1)}%`;
const frac = (n: number, d: number) => `${n}/${d}`;

function domainRow(d: EvalDomain, pooled: EvalDomain | undefined): string {
  const why = d.top.map((t) => `${t.feature} ${(100 * t.share).toFixed(1)}`).join(", ");
  return `  ${escapeTerminal(d.file).padEnd(32)} ${escapeTerminal(d.domain).padEnd(26)} ${
    escapeTerminal(d.label).padEnd(22)
  } ${d.score.toFixed(1).padStart(5)} ${d.severity.padEnd(8)} ${(pooled?.score ?? NaN).toFixed(1).padStart(5)}  ${why}`;
}

/** The figures table (alone and pooled side by side). */
function figuresTable(alone: EvalFigures, pooled: EvalFigures): string {
  const high = (f: EvalFigures) => Math.round(f.tunnel_recall_high * f.tunnels);
  const med = (f: EvalFigures) => Math.round(f.tunnel_recall_medium * f.tunnels);
  return [
    "|                      | alone | pooled |",
    "| --- | ---: | ---: |",
    `| tunnels ≥ HIGH       | ${frac(high(alone), alone.tunnels)} (${pct(alone.tunnel_recall_high)}) | ${
      frac(high(pooled), pooled.tunnels)
    } (${pct(pooled.tunnel_recall_high)}) |`,
    `| tunnels ≥ MEDIUM     | ${frac(med(alone), alone.tunnels)} | ${frac(med(pooled), pooled.tunnels)} |`,
    `| benign ≥ MEDIUM      | ${frac(alone.benign_at_medium, alone.benign)} | ${
      frac(pooled.benign_at_medium, pooled.benign)
    } |`,
    `| ROC AUC              | ${alone.auc.toFixed(4)} | ${pooled.auc.toFixed(4)} |`,
  ].join("\n");
}

/** `plumbum eval`. */
export async function runEval(
  captures: string[],
  o: LabeledOptions & { all?: boolean; window?: number },
): Promise<number> {
  if (o.window !== undefined) return await runWindowEval(captures, o as LabeledOptions & { window: number });
  const { model, caps } = await loaded(captures, o);
  const report = evaluate(caps, model);
  if (o.json) {
    const clean = (f: EvalFigures) => ({
      ...f,
      domains: f.domains.map((d) => ({ ...d, domain: displayText(d.domain) })),
      wrong: f.wrong.map((d) => ({ ...d, domain: displayText(d.domain) })),
    });
    out(JSON.stringify({ ...report, alone: clean(report.alone), pooled: clean(report.pooled) }) + "\n");
    return 0;
  }
  const pooledBy = new Map(report.pooled.domains.map((d) => [`${d.file}\u0000${d.domain}`, d]));
  const lines = [
    `Evaluation: weights "${model.preset}", ${model.normalization} normalization; ${caps.length} captures, ${
      report.alone.tunnels + report.alone.benign
    } domains (${report.alone.tunnels} tunnels)`,
    "",
    `  ${"file".padEnd(32)} ${"domain".padEnd(26)} ${"label".padEnd(22)} ${"alone".padStart(5)} ${
      "severity".padEnd(8)
    } ${"pooled".padStart(5)}  top contributions (points)`,
  ];
  const wrongKeys = new Set(report.alone.wrong.map((d) => `${d.file}\u0000${d.domain}`));
  const shown = report.alone.domains.filter((d) =>
    o.all || d.named || isTunnel(d.label) || wrongKeys.has(`${d.file}\u0000${d.domain}`)
  );
  for (const d of shown) lines.push(domainRow(d, pooledBy.get(`${d.file}\u0000${d.domain}`)));
  const rest = report.alone.domains.filter((d) => !shown.includes(d));
  if (rest.length > 0) {
    lines.push(
      `  (+${rest.length} other benign domains, highest score ${
        rest.reduce((m, d) => Math.max(m, d.score), -Infinity).toFixed(1)
      }; --all lists them)`,
    );
  }
  lines.push("", figuresTable(report.alone, report.pooled), "");
  const wrong = [
    ...report.alone.wrong.map((d) => ["alone", d] as const),
    ...report.pooled.wrong.map((d) => ["pooled", d] as const),
  ];
  if (wrong.length === 0) lines.push("Wrong: none (every tunnel ≥ HIGH, no benign domain ≥ MEDIUM, alone and pooled).");
  else {
    lines.push("Wrong:");
    for (const [mode, d] of wrong) {
      lines.push(
        `  [${mode}] ${escapeTerminal(d.file)} ${escapeTerminal(d.domain)} is ${escapeTerminal(d.label)} but scored ${
          d.score.toFixed(1)
        } ${d.severity}: ${
          d.top.map((t) =>
            `${t.feature} ${(100 * t.share).toFixed(1)} pts (raw ${
              t.raw === null ? "-" : Number(t.raw.toPrecision(4))
            })`
          ).join(", ")
        }`,
      );
    }
  }
  out(lines.join("\n") + "\n");
  return 0;
}

/** `plumbum tune`. */
export async function runTune(
  captures: string[],
  o: LabeledOptions & { seed: number; folds: number; iterations: number },
): Promise<number> {
  const { model, caps } = await loaded(captures, o);
  const r = tune(caps, model, { seed: o.seed, folds: o.folds, iterations: o.iterations });
  if (o.json) {
    out(
      JSON.stringify({
        model: model.preset,
        normalization: model.normalization,
        seed: o.seed,
        ...r,
        hcl: hclBlock(model.preset, r.weights, model.normalization),
      }) + "\n",
    );
    return 0;
  }
  const lines = [
    `Tuning "${model.preset}" weights (${model.normalization} normalization) by simulated annealing: seed ${o.seed}, ${r.folds.length}-fold cross-validation, ${o.iterations} steps per fold`,
    "",
    "| fold | held-out tunnels ≥ HIGH | held-out benign ≥ MEDIUM | held-out AUC | train AUC |",
    "| ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const f of r.folds) {
    lines.push(
      `| ${f.fold} | ${
        Math.round(f.heldOut.tunnel_recall_high * f.heldOut.tunnels)
      }/${f.heldOut.tunnels} | ${f.heldOut.benign_at_medium}/${f.heldOut.benign} | ${f.heldOut.auc.toFixed(4)} | ${
        f.train.auc.toFixed(4)
      } |`,
    );
  }
  const h = r.heldOut;
  lines.push(
    `| all held-out | ${Math.round(h.tunnel_recall_high * h.tunnels)}/${h.tunnels} (${
      pct(h.tunnel_recall_high)
    }) | ${h.benign_at_medium}/${h.benign} | ${h.auc.toFixed(4)} | |`,
    "",
    `Weights before: ${Object.entries(r.start).map(([k, v]) => `${k} ${v}`).join(", ")}`,
    `Weights after (trained on everything): ${Object.entries(r.weights).map(([k, v]) => `${k} ${v}`).join(", ")}`,
    `  on all data: tunnels ≥ HIGH ${pct(r.all.tunnel_recall_high)}, benign ≥ MEDIUM ${r.all.benign_at_medium}, AUC ${
      r.all.auc.toFixed(4)
    } (training figures)`,
    "",
    "Paste into .plumbum/config.hcl:",
    "",
    hclBlock(model.preset, r.weights, model.normalization),
  );
  out(lines.join("\n"));
  return 0;
}

const secsText = (s: number | null) => s === null ? "-" : s < 120 ? `${s.toFixed(0)} s` : `${(s / 60).toFixed(1)} min`;

/** The windowed figures as a table. */
function windowTable(r: WindowReport): string {
  const median = (xs: number[]) => xs.length === 0 ? null : xs.sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
  const slowest = (xs: number[]) => xs.length === 0 ? null : Math.max(...xs);
  const either = r.domains.flatMap((d) => {
    const t = [d.time_to_detect, d.stream_time_to_detect].filter((x): x is number => x !== null);
    return t.length === 0 ? [] : [Math.min(...t)];
  });
  const inWindow = r.domains.flatMap((d) => d.time_to_detect === null ? [] : [d.time_to_detect]);
  return [
    `|                                              | ${r.window_secs} s windows |`,
    "| --- | ---: |",
    `| tunnel domain-windows ≥ HIGH                 | ${frac(r.tunnel_windows_high, r.tunnel_windows)} (${
      pct(r.tunnel_windows_high / r.tunnel_windows)
    }) |`,
    `| benign domain-windows ≥ MEDIUM               | ${frac(r.benign_windows_medium, r.benign_windows)} |`,
    `| tunnels ≥ HIGH in their first two windows    | ${frac(r.tunnels_within_two, r.tunnels)} |`,
    `| tunnels ≥ HIGH in some window                | ${frac(r.tunnels_detected, r.tunnels)} |`,
    `| time to detect in a window, median / slowest | ${secsText(median(inWindow))} / ${secsText(slowest(inWindow))} |`,
    `| tunnels ≥ HIGH in the stream view            | ${frac(r.tunnels_stream_detected, r.tunnels)} |`,
    `| benign ≥ MEDIUM in the stream view           | ${r.stream_false_alarms.length} |`,
    `| tunnels detected either way                  | ${frac(r.tunnels_detected_either, r.tunnels)} |`,
    `| time to detect either way, median / slowest  | ${secsText(median(either))} / ${secsText(slowest(either))} |`,
  ].join("\n");
}

/** `plumbum eval --window SECS`. */
async function runWindowEval(captures: string[], o: LabeledOptions & { window: number }): Promise<number> {
  const p = await prepare(captures, o);
  const r = await reading(() => evaluateWindows(p.captures, p.labels, p.model, o.window, p.settings));
  if (o.json) {
    const clean = <T extends { domain: string }>(xs: T[]) => xs.map((d) => ({ ...d, domain: displayText(d.domain) }));
    out(
      JSON.stringify({
        ...r,
        domains: clean(r.domains),
        false_alarms: clean(r.false_alarms),
        stream_false_alarms: clean(r.stream_false_alarms),
      }) + "\n",
    );
    return 0;
  }
  const lines = [
    `Windowed evaluation: ${o.window} s windows, weights "${p.model.preset}"; ${r.captures.length} captures, ${
      r.captures.reduce((a, c) => a + c.windows, 0)
    } windows, ${r.tunnels} tunnels`,
    "",
    `  ${"file".padEnd(32)} ${"domain".padEnd(26)} ${"label".padEnd(24)} ${"windows".padStart(7)} ${
      "≥HIGH".padStart(5)
    } ${"first ≥HIGH".padStart(11)} ${"detect".padStart(8)} ${"stream view".padStart(11)}`,
  ];
  for (const d of r.domains.filter((x) => isTunnel(x.label))) {
    const highs = d.windows.filter((w) => w.severity === "HIGH" || w.severity === "CRITICAL").length;
    lines.push(
      `  ${escapeTerminal(d.file).padEnd(32)} ${escapeTerminal(d.domain).padEnd(26)} ${
        escapeTerminal(d.label).padEnd(24)
      } ${String(d.windows.length).padStart(7)} ${String(highs).padStart(5)} ${
        (d.windows_to_detect === null ? "never" : `window ${d.windows_to_detect}`).padStart(11)
      } ${secsText(d.time_to_detect).padStart(8)} ${secsText(d.stream_time_to_detect).padStart(11)}`,
    );
  }
  lines.push("", windowTable(r), "");
  const alarms = [
    ...r.false_alarms.map((f) => ["window", f] as const),
    ...r.stream_false_alarms.map((f) => ["stream view", f] as const),
  ];
  if (alarms.length === 0) {
    lines.push("False alarms: none (no benign domain ≥ MEDIUM in any window or in the stream view).");
  } else {
    lines.push("False alarms:");
    for (const [view, f] of alarms) {
      lines.push(
        `  [${view}] ${escapeTerminal(f.file)} ${escapeTerminal(f.domain)} (${
          escapeTerminal(f.label)
        }) window ${f.window}: ${f.score.toFixed(1)} ${f.severity}`,
      );
    }
  }
  out(lines.join("\n") + "\n");
  return 0;
}
