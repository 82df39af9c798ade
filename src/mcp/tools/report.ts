/**
 * The run's HTML report, written into the workspace's reports/ folder.
 *
 * @module
 */

import { z } from "npm:zod@4.6.7";
import { displayText } from "../../present/escape.ts";
import { saveReport } from "../../workspace/report.ts";
import { OutputRefused } from "../../workspace/output.ts";
import { Answer, answer, q, runArg, severity } from "../answer.ts";
import { defineTool, type Tool } from "../tool.ts";

const reportInput = {
  min_severity: severity.default("MEDIUM").describe("findings written out in full from this severity up"),
  run: runArg,
};

/** `plumbum_report`. */
export const reportTool: Tool = defineTool({
  name: "plumbum_report",
  title: "HTML report",
  description:
    "Write the run's report — one self-contained HTML page (summary, every domain, each finding taken apart with charts), as `plumbum report` writes it — into the workspace's reports/ folder, and answer with its path, for a person who will not use a terminal.",
  input: reportInput,
  output: { run: z.number(), path: z.string(), bytes: z.number() },
  run: (ws, a) =>
    answer(() => {
      const run = ws.run(a.run);
      let saved;
      try {
        saved = saveReport(ws.reader(), run, ws.dir, a.min_severity);
      } catch (e) {
        if (e instanceof OutputRefused || e instanceof Deno.errors.NotCapable) {
          throw new Answer(`cannot write the report: ${(e as Error).message}`);
        }
        throw e;
      }
      return {
        data: { run: run.id, path: displayText(saved.path), bytes: saved.bytes },
        text: `Wrote the report of run #${run.id} to ${q(saved.path)} (${
          (saved.bytes / 1e6).toFixed(2)
        } MB); open it in a browser, offline.`,
      };
    }),
});
