/**
 * The workspace's runs.
 *
 * @module
 */

import { z } from "npm:zod@4.6.7";
import { runRecordObject } from "../../present/export.ts";
import { answer, MAX_RUNS, q } from "../answer.ts";
import { defineTool, type Tool } from "../tool.ts";

const runsInput = { limit: z.number().int().min(1).max(MAX_RUNS).default(20).describe("runs to list") };

/** `plumbum_runs`. */
export const runsTool: Tool = defineTool({
  name: "plumbum_runs",
  title: "Runs",
  description:
    "The workspace's runs, newest first, as `plumbum runs --json` lists them: status, sources, transactions, domains; a live run's capture facts.",
  input: runsInput,
  output: {
    latest: z.number().nullable(),
    runs: z.array(z.looseObject({ id: z.number(), status: z.string() })),
  },
  run: (ws, a) =>
    answer(() => {
      const reader = ws.reader();
      const runs = reader.runs().slice(0, a.limit);
      const latest = reader.latestRunId();
      const text = runs.map((r) =>
        `#${r.id} ${r.status} ${r.started_at} ${r.transactions} transactions, ${r.domains} domains, sources: ${
          r.sources.map((s) => q(s.path)).join(", ")
        }${r.error ? ` (${r.error})` : ""}`
      ).join("\n") || "No runs yet.";
      return { data: { latest, runs: runs.map(runRecordObject) }, text };
    }),
});
