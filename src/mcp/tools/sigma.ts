/**
 * A Sigma rule for a run's domains.
 *
 * @module
 */

import { z } from "npm:zod@4.6.7";
import type { DomainFinding } from "../../analysis/analyze.ts";
import { atLeast, SEVERITIES } from "../../analysis/model.ts";
import { displayText } from "../../present/escape.ts";
import { exportSigma } from "../../present/export.ts";
import { Answer, answer, byScore, MAX_DOMAINS, runArg, severity, TRAFFIC_NOTE } from "../answer.ts";
import { defineTool, type Tool } from "../tool.ts";

const sigmaInput = {
  domains: z.array(z.string().min(1).max(1024)).max(MAX_DOMAINS).optional().describe("scored domains to cover"),
  min_severity: severity.default("MEDIUM").describe("without domains: cover every domain at or above this"),
  limit: z.number().int().min(1).max(MAX_DOMAINS).default(MAX_DOMAINS).describe(
    `without domains: domains per rule, highest score first (at most ${MAX_DOMAINS}; offset pages on)`,
  ),
  offset: z.number().int().min(0).default(0).describe("without domains: domains to skip (paging)"),
  run: runArg,
};

/** `plumbum_sigma`. */
export const sigmaTool: Tool = defineTool({
  name: "plumbum_sigma",
  title: "Sigma rule",
  description:
    "A Sigma detection rule (YAML) for chosen domains of a run, or for the domains at or above a severity (MEDIUM by default), as `plumbum export --format sigma` writes it; past 500 domains, one rule per page (limit, offset).",
  input: sigmaInput,
  output: {
    run: z.number(),
    total: z.number().describe("domains the rule could cover (all pages)"),
    offset: z.number(),
    domains: z.array(z.string()),
    rule: z.string().describe("the rule, YAML"),
  },
  run: (ws, a) =>
    answer(() => {
      const run = ws.run(a.run);
      let total: number, findings: DomainFinding[], offset = 0;
      if (a.domains !== undefined) {
        findings = [...new Map(a.domains.map((d: string) => ws.finding(run, d)).map((f) => [f.domain, f])).values()]
          .sort(byScore);
        total = findings.length;
      } else {
        offset = a.offset;
        ({ total, findings } = ws.reader().findingsPage(run.id, {
          severities: SEVERITIES.filter((x) => atLeast(x, a.min_severity)),
          limit: a.limit,
          offset,
        }));
      }
      if (total === 0) {
        throw new Answer(
          `no domain in run #${run.id} is ${a.min_severity} or above: there is nothing to write a rule for`,
        );
      }
      if (findings.length === 0) throw new Answer(`offset ${offset} is past the ${total} domains the rule covers`);
      const rule = exportSigma(run, findings);
      const page = findings.length < total
        ? `Domains ${offset + 1}–${offset + findings.length} of ${total}, highest score first${
          offset + findings.length < total ? `: ask again with offset ${offset + findings.length} for the rest` : ""
        }.`
        : `All ${total} domain${total === 1 ? "" : "s"}.`;
      return {
        data: { run: run.id, total, offset, domains: findings.map((f) => displayText(f.domain)), rule },
        text: [page, TRAFFIC_NOTE, rule].join("\n"),
      };
    }),
});
