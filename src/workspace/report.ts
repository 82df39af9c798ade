/**
 * A run's report saved inside its workspace (`reports/run-N.html`), for the
 * front-ends that write no file of the user's naming: the MCP server (when
 * it may write) and the dashboard.
 *
 * @module
 */

import type { Severity } from "../analysis/model.ts";
import { reportData, reportHtml } from "../present/report.ts";
import type { ResultsReader } from "../store/reader.ts";
import type { RunRecord } from "../store/types.ts";
import { VERSION } from "../version.ts";
import { openOutput, workspaceFiles } from "./output.ts";
import { writeAll } from "../files.ts";

/** Write the report of `run` (findings from `floor` up) to `dir/reports/run-N.html`; returns its path and size. */
export function saveReport(
  reader: ResultsReader,
  run: RunRecord,
  dir: string,
  floor: Severity = "MEDIUM",
): { path: string; bytes: number } {
  const bytes = new TextEncoder().encode(reportHtml(reportData(reader, run, floor, VERSION)));
  Deno.mkdirSync(`${dir}/reports`, { recursive: true });
  const path = `${dir}/reports/run-${run.id}.html`;
  const file = openOutput(path, workspaceFiles(dir), { option: "report", what: "the report", shown: path });
  try {
    writeAll(file, bytes);
  } finally {
    file.close();
  }
  return { path, bytes: bytes.length };
}
