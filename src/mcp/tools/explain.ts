/**
 * Where every point of a domain's score comes from.
 *
 * @module
 */

import { z } from "npm:zod@4.6.7";
import { roundScore } from "../../analysis/model.ts";
import { explainDocument } from "../../present/export.ts";
import { featureProblem } from "../../present/lookup.ts";
import { Answer, answer, q, runArg, TRAFFIC_NOTE } from "../answer.ts";
import { defineTool, type Tool } from "../tool.ts";

const explainInput = {
  domain: z.string().min(1).max(1024).describe("a scored parent domain (as Plumbum shows it)"),
  feature: z.string().max(64).optional().describe(
    "a feature of the run's model, to see the transactions behind it",
  ),
  run: runArg,
};

/** `plumbum_explain`. */
export const explainTool: Tool = defineTool({
  name: "plumbum_explain",
  title: "Explain a score",
  description:
    "Where every point of a domain's score comes from: each feature's raw value, normalized value, weight, contribution and share, with the evidence (sample names, record types, clients, timing, look-alike notes). The same document as `plumbum explain DOMAIN --json`; with `feature`, also the domain's first stored transactions.",
  input: explainInput,
  output: {
    run: z.number(),
    domain: z.string(),
    score: z.number(),
    severity: z.string(),
    is_c2: z.boolean(),
    tool: z.object({ name: z.string(), evidence: z.string() }).nullable().optional(),
    suppressed: z.object({ reason: z.string(), expires: z.string().nullable(), entry: z.string() }).nullable()
      .optional(),
    features: z.record(z.string(), z.unknown()),
    components: z.array(z.looseObject({ feature: z.string(), contribution: z.number().nullable() })),
    evidence: z.record(z.string(), z.unknown()),
    feature: z.string().optional(),
    transactions: z.array(z.record(z.string(), z.unknown())).optional(),
  },
  run: (ws, a) =>
    answer(() => {
      const run = ws.run(a.run);
      const f = ws.finding(run, a.domain);
      const problem = a.feature === undefined ? null : featureProblem(f, a.feature);
      if (problem !== null) throw new Answer(`feature ${JSON.stringify(a.feature)} ${problem}`);
      const doc = explainDocument(ws.reader(), run.id, f, a.feature);
      const text = [
        `Run #${run.id}: ${q(f.domain)} scores ${
          roundScore(f.score).toFixed(1)
        } (${f.severity}); score = 100 × Σ weight·norm / Σ weights.`,
        ...f.components.map((c) =>
          `  ${c.feature.padEnd(22)} norm ${c.norm.toFixed(3)} × weight ${c.weight} = ${c.contribution.toFixed(3)} (${
            (100 * c.share).toFixed(1)
          } points)`
        ),
        TRAFFIC_NOTE,
        `  sample names: ${f.evidence.sample_names.slice(0, 5).map(q).join(", ")}`,
        `  clients: ${f.evidence.clients.slice(0, 5).map((c) => `${q(c.client)} (${c.queries})`).join(", ")}`,
        ...(f.evidence.lookalikes ?? []).map((l) => `  looks like ${l.class}: ${l.reason}`),
      ].join("\n");
      return { data: doc, text };
    }),
});
