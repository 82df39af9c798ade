/**
 * `plumbum eval` and `plumbum tune`: detection quality on labeled captures.
 *
 * @module
 */

import type { ModelConfig } from "../analysis/model.ts";
import { ConfigError, resolveModel } from "../config/config.ts";
import { type EvalDomain, type EvalFigures, evaluate, type LabeledCapture, loadLabeled } from "../eval/evaluate.ts";
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
}

async function prepare(captures: string[], o: LabeledOptions): Promise<{ model: ModelConfig; caps: LabeledCapture[] }> {
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
  if (captures.length === 0) captures = named;
  const labels = mergeLabels(sets);
  const cfg = await workspaceConfig(workspace(o.dir));
  let model: ModelConfig;
  try {
    model = resolveModel(cfg, { weights: o.weights });
  } catch (e) {
    if (e instanceof ConfigError) throw new UsageError(e.message);
    throw e;
  }
  try {
    return {
      model,
      caps: await loadLabeled(captures, labels, model, runSettings(cfg, o)),
    };
  } catch (e) {
    if (e instanceof LabelsError) throw new UsageError(escapeTerminal(e.message));
    if (e instanceof InputError) throw new UsageError(escapeTerminal(e.message));
    throw e;
  }
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
export function figuresTable(alone: EvalFigures, pooled: EvalFigures): string {
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
export async function runEval(captures: string[], o: LabeledOptions & { all?: boolean }): Promise<number> {
  const { model, caps } = await prepare(captures, o);
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
        Math.max(...rest.map((d) => d.score)).toFixed(1)
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
  const { model, caps } = await prepare(captures, o);
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
