/**
 * Weight tuning by simulated annealing on labeled captures, deterministic for
 * a seed, with k-fold cross-validation over labeled domains so the figures it
 * reports are held-out figures, not training figures.
 *
 * @module
 */

import type { ModelConfig } from "../analysis/model.ts";
import { type EvalDomain, type EvalFigures, figures, type LabeledCapture, scoreAlone } from "./evaluate.ts";
import { isTunnel } from "./labels.ts";

/**
 * A small deterministic PRNG (mulberry32).
 *
 * @internal Exported for the tests, the lab and the benches.
 */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Options of {@link tune}. */
export interface TuneOptions {
  seed: number;
  folds: number;
  iterations: number;
  /** Largest weight allowed. */
  maxWeight?: number;
}

/** The figures reported for held-out domains. */
export type HeldOutFigures = Pick<
  EvalFigures,
  | "tunnels"
  | "benign"
  | "tunnel_recall_high"
  | "tunnel_recall_medium"
  | "benign_at_medium"
  | "benign_fpr_medium"
  | "auc"
>;

/** One fold's held-out result. */
export interface FoldResult {
  fold: number;
  weights: Record<string, number>;
  train: Pick<EvalFigures, "tunnel_recall_high" | "benign_fpr_medium" | "auc">;
  heldOut: HeldOutFigures;
}

/** The tuning result. */
export interface TuneResult {
  start: Record<string, number>;
  weights: Record<string, number>;
  folds: FoldResult[];
  /** Held-out figures pooled over every fold's held-out domains. */
  heldOut: HeldOutFigures;
  /** Figures of the final weights on all data (training figures, for reference). */
  all: Pick<EvalFigures, "tunnel_recall_high" | "benign_at_medium" | "auc">;
}

const key = (d: { file: string; domain: string }) => `${d.file}\u0000${d.domain}`;

/**
 * The objective: AUC, plus tunnel recall at HIGH, minus twice the benign
 * rate at MEDIUM, plus a little margin between the weakest tunnel and the
 * strongest benign domain. Higher is better.
 */
function objective(domains: EvalDomain[]): number {
  const f = figures(domains);
  const t = domains.filter((d) => isTunnel(d.label)).map((d) => d.score);
  const b = domains.filter((d) => !isTunnel(d.label)).map((d) => d.score);
  const margin = t.length && b.length ? (Math.min(...t) - Math.max(...b)) / 100 : 0;
  const auc = Number.isNaN(f.auc) ? 0 : f.auc;
  const recall = Number.isNaN(f.tunnel_recall_high) ? 0 : f.tunnel_recall_high;
  const fpr = Number.isNaN(f.benign_fpr_medium) ? 0 : f.benign_fpr_medium;
  return auc + recall - 2 * fpr + 0.1 * margin;
}

function anneal(
  caps: LabeledCapture[],
  model: ModelConfig,
  train: Set<string>,
  o: TuneOptions,
  rand: () => number,
): Record<string, number> {
  const names = Object.keys(model.weights);
  const max = o.maxWeight ?? 5;
  const evalW = (w: Record<string, number>) =>
    objective(scoreAlone(caps, { ...model, weights: w }).filter((d) => train.has(key(d))));
  let cur = { ...model.weights };
  let curJ = evalW(cur);
  let best = cur, bestJ = curJ;
  const t0 = 0.05, t1 = 0.0005;
  for (let i = 0; i < o.iterations; i++) {
    const temp = t0 * Math.pow(t1 / t0, i / Math.max(1, o.iterations - 1));
    const next = { ...cur };
    const f = names[Math.floor(rand() * names.length)];
    // Multiplicative step (scale-free), with a chance to try zero or revive a zero.
    const r = rand();
    if (r < 0.05) next[f] = 0;
    else if (next[f] === 0) next[f] = rand() * 0.5;
    else next[f] = Math.min(max, next[f] * Math.exp((rand() - 0.5) * 0.8));
    if (names.every((n) => next[n] === 0)) continue;
    const j = evalW(next);
    if (j >= curJ || rand() < Math.exp((j - curJ) / temp)) {
      cur = next;
      curJ = j;
      if (j > bestJ) {
        best = next;
        bestJ = j;
      }
    }
  }
  // Round for a readable config (three significant places).
  return Object.fromEntries(Object.entries(best).map(([k, v]) => [k, Number(v.toPrecision(3))]));
}

function pick(f: EvalFigures): HeldOutFigures {
  return {
    tunnels: f.tunnels,
    benign: f.benign,
    tunnel_recall_high: f.tunnel_recall_high,
    tunnel_recall_medium: f.tunnel_recall_medium,
    benign_at_medium: f.benign_at_medium,
    benign_fpr_medium: f.benign_fpr_medium,
    auc: f.auc,
  };
}

/** Tune the weights of `model` on labeled captures. */
export function tune(caps: LabeledCapture[], model: ModelConfig, o: TuneOptions): TuneResult {
  const rand = prng(o.seed);
  // Stratified folds over labeled domains, shuffled by the seed.
  const all = scoreAlone(caps, model);
  const tunnels = all.filter((d) => isTunnel(d.label)).map(key);
  const benign = all.filter((d) => !isTunnel(d.label)).map(key);
  const shuffle = (xs: string[]) => {
    const a = [...xs].sort();
    for (let i = a.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [a[i], a[j]] = [a[j], a[i]];
    }
    return a;
  };
  const k = Math.max(2, Math.min(o.folds, tunnels.length || 2));
  const foldOf = new Map<string, number>();
  shuffle(tunnels).forEach((x, i) => foldOf.set(x, i % k));
  shuffle(benign).forEach((x, i) => foldOf.set(x, i % k));
  const folds: FoldResult[] = [];
  const heldOutDomains: EvalDomain[] = [];
  for (let fold = 0; fold < k; fold++) {
    const train = new Set([...foldOf].filter(([, f]) => f !== fold).map(([x]) => x));
    const w = anneal(caps, model, train, o, rand);
    const scored = scoreAlone(caps, { ...model, weights: w });
    const trainF = figures(scored.filter((d) => train.has(key(d))));
    const held = scored.filter((d) => foldOf.get(key(d)) === fold);
    heldOutDomains.push(...held);
    folds.push({
      fold: fold + 1,
      weights: w,
      train: {
        tunnel_recall_high: trainF.tunnel_recall_high,
        benign_fpr_medium: trainF.benign_fpr_medium,
        auc: trainF.auc,
      },
      heldOut: pick(figures(held)),
    });
  }
  const everything = new Set(foldOf.keys());
  const weights = anneal(caps, model, everything, o, rand);
  const final = figures(scoreAlone(caps, { ...model, weights }));
  return {
    start: { ...model.weights },
    weights,
    folds,
    heldOut: pick(figures(heldOutDomains)),
    all: { tunnel_recall_high: final.tunnel_recall_high, benign_at_medium: final.benign_at_medium, auc: final.auc },
  };
}

/** An HCL `analysis` block with these weights, ready for config.hcl. */
export function hclBlock(preset: string, weights: Record<string, number>, normalization: string): string {
  const lines = ["analysis {", `  weight_preset = "${preset}"`, `  normalization = "${normalization}"`];
  for (const [f, w] of Object.entries(weights)) lines.push(`  ${`${f}_weight`.padEnd(28)} = ${w}`);
  lines.push("}");
  return lines.join("\n") + "\n";
}
