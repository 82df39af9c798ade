/**
 * A domain's score in every run that scored it.
 *
 * @module
 */

import { z } from "npm:zod@4.6.7";
import { displayText } from "../../present/escape.ts";
import { lookupDomain, nameTooLong } from "../../present/lookup.ts";
import { isReadableRun } from "../../store/types.ts";
import { Answer, answer, MAX_RUNS, q, TRAFFIC_NOTE } from "../answer.ts";
import { defineTool, type Tool } from "../tool.ts";

const historyInput = {
  domain: z.string().min(1).max(1024).describe("a parent domain"),
  limit: z.number().int().min(1).max(MAX_RUNS).default(50).describe("runs to look at, newest first"),
};

/** `plumbum_history`. */
export const historyTool: Tool = defineTool({
  name: "plumbum_history",
  title: "A domain across runs",
  description: "A domain's score and severity in every run that scored it, newest first.",
  input: historyInput,
  output: {
    domain: z.string(),
    runs: z.array(z.object({ run: z.number(), started_at: z.string(), score: z.number(), severity: z.string() })),
  },
  run: (ws, a) =>
    answer(() => {
      const reader = ws.reader();
      const runs = reader.runs().filter(isReadableRun).slice(0, a.limit);
      const rows: { run: number; started_at: string; score: number; severity: string }[] = [];
      let name = a.domain;
      for (const r of runs) {
        const l = lookupDomain(reader, r.id, a.domain, false);
        if (l.kind === "too-long") {
          throw new Answer(nameTooLong(l.length));
        }
        if (l.kind !== "found") continue;
        name = l.finding.domain;
        rows.push({ run: r.id, started_at: r.started_at, score: l.finding.score, severity: l.finding.severity });
      }
      if (rows.length === 0) {
        throw new Answer(`no run scored ${q(a.domain)} (of the ${runs.length} looked at)\n${TRAFFIC_NOTE}`);
      }
      const text = [
        `${q(name)} in ${rows.length} of ${runs.length} runs:`,
        TRAFFIC_NOTE,
        ...rows.map((x) => `  #${x.run} ${x.started_at} ${x.score.toFixed(1)} ${x.severity}`),
      ].join("\n");
      return { data: { domain: displayText(name), runs: rows }, text };
    }),
});
