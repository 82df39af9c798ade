/**
 * Detection quality on labeled captures: each capture analyzed alone and all
 * of them pooled, per-domain scores against labels, recall of tunnels, false
 * positives among benign domains, ROC AUC, and the wrong ones with the
 * contributions that made them wrong.
 *
 * @module
 */

import {
  type DomainFinding,
  type DomainSummary,
  scoreAll,
  type SiblingLink,
  siblingLinks,
} from "../analysis/analyze.ts";
import type { ModelConfig } from "../analysis/model.ts";
import { Pipeline, type RunSettings } from "../run/pipeline.ts";
import { InputError } from "../ingest/source.ts";
import { mapInThreads } from "../thread.ts";
import { isUnder } from "../analysis/domain.ts";
import { isTunnel, labelFor, type LabelRow, LabelsError, type LabelSet } from "./labels.ts";

/** A capture's domains, summarized once and scored under any model. */
export interface LabeledCapture {
  file: string;
  path: string;
  summaries: DomainSummary[];
  labels: string[];
  /** Whether a label row names the domain (not only the `*` wildcard). */
  named: boolean[];
}

/** One scored, labeled domain. */
export interface EvalDomain {
  file: string;
  domain: string;
  label: string;
  named: boolean;
  score: number;
  severity: string;
  /** The largest contributions, as "feature share%". */
  top: { feature: string; share: number; raw: number | null }[];
}

/** Figures for one way of analyzing (alone or pooled). */
export interface EvalFigures {
  tunnels: number;
  benign: number;
  tunnel_recall_high: number;
  tunnel_recall_medium: number;
  benign_at_medium: number;
  benign_fpr_medium: number;
  auc: number;
  domains: EvalDomain[];
  wrong: EvalDomain[];
}

/** The evaluation document. */
export interface EvalReport {
  model: ModelConfig;
  captures: { file: string; path: string; domains: number; tunnels: number }[];
  alone: EvalFigures;
  pooled: EvalFigures;
}

const basename = (p: string) => p.replace(/^.*\//, "");

/** How {@link loadLabeled} reads captures: as `apply` would with the same settings. */
export type LoadOptions = Partial<RunSettings>;

/**
 * Read each capture once, through the same pipeline as `apply`, into domain
 * summaries with their labels. With `jobs` above 1, captures are read side
 * by side, a thread each: each capture has a pipeline of its own, so the
 * summaries are the ones one thread gives.
 */
export async function loadLabeled(
  paths: string[],
  labels: LabelSet,
  model: ModelConfig,
  options: LoadOptions = {},
  jobs = 1,
): Promise<LabeledCapture[]> {
  const rows = paths.map((path) => {
    const file = basename(path);
    const r = labels.get(file);
    if (r === undefined) {
      throw new LabelsError(`no labels for ${file}: add rows "file<TAB>suffix<TAB>label" for it to the labels file`);
    }
    return r;
  });
  let summaries: SummarizeReply[] = [];
  if (Math.min(jobs, paths.length) <= 1) {
    for (const path of paths) {
      const s = await summarizeCapture({ path, model, options });
      summaries.push(s);
      if ("error" in s) break;
    }
  } else {
    summaries = await mapInThreads<SummarizeRequest, SummarizeReply>(
      { role: "plumbum:summarize", url: new URL("./summarize_worker.ts", import.meta.url) },
      paths.map((path) => ({ path, model, options })),
      jobs,
    );
  }
  return summaries.map((s, i) => {
    if ("error" in s) throw InputError.fromThread(paths[i], s.error);
    return labeledCapture(basename(paths[i]), paths[i], s.summaries, rows[i]);
  });
}

/** A capture to summarize. */
export interface SummarizeRequest {
  path: string;
  model: ModelConfig;
  options: LoadOptions;
}

/** Its domain summaries, or why it could not be read (an {@link InputError}'s message). */
export type SummarizeReply = { summaries: DomainSummary[] } | { error: string };

/** One capture through a pipeline of its own into its domains' summaries (in this thread, or a summarize thread). */
export async function summarizeCapture({ path, model, options }: SummarizeRequest): Promise<SummarizeReply> {
  const pipeline = new Pipeline({ model, ...options });
  try {
    await pipeline.ingest([path]);
    await pipeline.end();
    return { summaries: pipeline.analyzer.summaries() };
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
    return { error: e.message };
  } finally {
    pipeline.close();
  }
}

/**
 * A capture's summarized domains with their labels from `rows` (the labels file's rows for that capture).
 *
 * @internal Exported for the tests, the lab and the benches.
 */
export function labeledCapture(
  file: string,
  path: string,
  summaries: DomainSummary[],
  rows: LabelRow[],
): LabeledCapture {
  return {
    file,
    path,
    summaries,
    labels: summaries.map((s) => labelFor(rows, s.domain)),
    named: summaries.map((s) =>
      rows.some((r) => r.suffix !== "*" && (isUnder(s.domain, r.suffix) || isUnder(r.suffix, s.domain)))
    ),
  };
}

/**
 * ROC AUC of scores (Mann–Whitney U, ties count one half).
 *
 * @internal Exported for its tests.
 */
export function rocAuc(positives: number[], negatives: number[]): number {
  if (positives.length === 0 || negatives.length === 0) return NaN;
  let wins = 0;
  for (const p of positives) {
    for (const n of negatives) wins += p > n ? 1 : p === n ? 0.5 : 0;
  }
  return wins / (positives.length * negatives.length);
}

function evalDomain(c: LabeledCapture, i: number, f: DomainFinding): EvalDomain {
  const top = [...f.components].sort((a, b) => b.share - a.share).slice(0, 3).map((k) => ({
    feature: k.feature,
    share: k.share,
    raw: k.raw,
  }));
  return {
    file: c.file,
    domain: f.domain,
    label: c.labels[i],
    named: c.named[i],
    score: f.score,
    severity: f.severity,
    top,
  };
}

/** Figures from scored, labeled domains. */
export function figures(domains: EvalDomain[]): EvalFigures {
  const t = domains.filter((d) => isTunnel(d.label));
  const b = domains.filter((d) => !isTunnel(d.label));
  const high = (d: EvalDomain) => d.severity === "HIGH" || d.severity === "CRITICAL";
  const medium = (d: EvalDomain) => high(d) || d.severity === "MEDIUM";
  const wrong = [...t.filter((d) => !high(d)), ...b.filter(medium)];
  return {
    tunnels: t.length,
    benign: b.length,
    tunnel_recall_high: t.length ? t.filter(high).length / t.length : NaN,
    tunnel_recall_medium: t.length ? t.filter(medium).length / t.length : NaN,
    benign_at_medium: b.filter(medium).length,
    benign_fpr_medium: b.length ? b.filter(medium).length / b.length : NaN,
    auc: rocAuc(t.map((d) => d.score), b.map((d) => d.score)),
    domains,
    wrong,
  };
}

/** Score each capture alone under `model`. */
export function scoreAlone(caps: LabeledCapture[], model: ModelConfig): EvalDomain[] {
  const out: EvalDomain[] = [];
  for (const c of caps) {
    const findings = scoreAll(c.summaries, model);
    const index = new Map(c.summaries.map((s, i) => [s.domain, i]));
    for (const f of findings) out.push(evalDomain(c, index.get(f.domain)!, f));
  }
  return out;
}

/**
 * Score all captures pooled: one corpus for normalization. Domains stay
 * apart per capture (the same name may be a tunnel in one file and benign
 * in another, as the public captures warn).
 */
function scorePooled(caps: LabeledCapture[], model: ModelConfig): EvalDomain[] {
  const all: DomainSummary[] = [];
  const owner: [LabeledCapture, number][] = [];
  // Sibling zones are found within a capture: clients of different captures are different hosts.
  const links = new Map<number, SiblingLink>();
  for (const c of caps) {
    for (const [i, link] of siblingLinks(c.summaries)) links.set(all.length + i, link);
    c.summaries.forEach((s, i) => {
      all.push({ ...s, domain: `${all.length}\u0000${s.domain}` });
      owner.push([c, i]);
    });
  }
  return scoreAll(all, model, links).map((f) => {
    const k = Number(f.domain.slice(0, f.domain.indexOf("\u0000")));
    const [c, i] = owner[k];
    return evalDomain(c, i, { ...f, domain: c.summaries[i].domain });
  });
}

/** The whole evaluation. */
export function evaluate(caps: LabeledCapture[], model: ModelConfig): EvalReport {
  return {
    model,
    captures: caps.map((c) => ({
      file: c.file,
      path: c.path,
      domains: c.summaries.length,
      tunnels: c.labels.filter(isTunnel).length,
    })),
    alone: figures(scoreAlone(caps, model)),
    pooled: figures(scorePooled(caps, model)),
  };
}
