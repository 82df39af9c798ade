/**
 * Scored domains of a run, filtered and paged.
 *
 * @module
 */

import { z } from "npm:zod@4.6.7";
import { atLeast, SEVERITIES } from "../../analysis/model.ts";
import { fromDisplayText } from "../../present/escape.ts";
import { domainObject } from "../../present/export.ts";
import { answer, line, MAX_DOMAINS, runArg, severity, TRAFFIC_NOTE } from "../answer.ts";
import { defineTool, type Tool } from "../tool.ts";

const queryInput = {
  min_score: z.number().min(0).max(100).optional().describe("only domains scoring at least this"),
  severity: severity.optional().describe("only domains of exactly this severity"),
  min_severity: severity.optional().describe("only domains of this severity or above"),
  contains: z.string().max(253).optional().describe("only domains whose name contains this text"),
  sort: z.enum(["score", "queries", "capacity", "name"]).default("score").describe("order of the domains"),
  limit: z.number().int().min(1).max(MAX_DOMAINS).default(50).describe(`domains per page (at most ${MAX_DOMAINS})`),
  offset: z.number().int().min(0).default(0).describe("domains to skip (paging)"),
  run: runArg,
};

/** `plumbum_query`. */
export const queryTool: Tool = defineTool({
  name: "plumbum_query",
  title: "Scored domains",
  description:
    "Scored parent domains of a run (the latest complete one by default), highest score first, filtered and paged. Each domain is the same object as `plumbum export --format json` gives: score, severity, raw features and every component of the score.",
  input: queryInput,
  output: {
    run: z.number(),
    total: z.number().describe("domains that match the filters"),
    offset: z.number(),
    counts: z.record(z.string(), z.number()).describe("domains of the run by severity"),
    domains: z.array(z.looseObject({ domain: z.string(), score: z.number(), severity: z.string() })),
  },
  run: (ws, a) =>
    answer(() => {
      const run = ws.run(a.run);
      const reader = ws.reader();
      const severities = SEVERITIES.filter((x) =>
        (a.severity === undefined || x === a.severity) && (a.min_severity === undefined || atLeast(x, a.min_severity))
      );
      const { total, findings: page } = reader.findingsPage(run.id, {
        minScore: a.min_score,
        severities: severities.length === SEVERITIES.length ? undefined : severities,
        contains: a.contains === undefined ? undefined : fromDisplayText(a.contains.toLowerCase()),
        sort: a.sort,
        limit: a.limit,
        offset: a.offset,
      });
      const c = reader.severityCounts(run.id);
      const all = SEVERITIES.reduce((n, x) => n + c[x], 0);
      const text = [
        `Run #${run.id}: ${all} domains (${
          SEVERITIES.slice().reverse().map((s) => `${c[s]} ${s}`).join(", ")
        }); ${total} match, showing ${page.length} from ${a.offset}.`,
        TRAFFIC_NOTE,
        ...page.map(line),
      ].join("\n");
      return { data: { run: run.id, total, offset: a.offset, counts: c, domains: page.map(domainObject) }, text };
    }),
});
