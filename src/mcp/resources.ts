/**
 * The MCP server's resources: the workspace's status, the latest run's
 * domains, its runs, one run, one domain's explanation (JSON documents).
 *
 * @module
 */

// @ts-types="npm:@modelcontextprotocol/sdk@1.32.2/dist/esm/server/mcp.d.ts"
import { type McpServer, ResourceTemplate } from "npm:@modelcontextprotocol/sdk@1.32.2/server/mcp.js";
import { ErrorCode, McpError } from "npm:@modelcontextprotocol/sdk@1.32.2/types.js";
import { domainObject, explainDocument, runRecordObject } from "../present/export.ts";
import { Answer, jsonResource, MAX_DOMAINS, MAX_RUNS } from "./answer.ts";
import type { Workspace } from "./workspace.ts";

/** Register the resources over `ws`; `domainNames` completes a domain's name. */
export function registerResources(server: McpServer, ws: Workspace, domainNames: (prefix: string) => string[]): void {
  server.registerResource("status", "plumbum://status", {
    title: "Analysis status",
    description:
      "The workspace, its latest complete run (sources, transactions, domains by severity) and runs in progress.",
    mimeType: "application/json",
  }, (uri: URL) =>
    jsonResource(uri, () => {
      const reader = ws.reader();
      const runs = reader.runs();
      const latest = reader.latestRunId();
      const run = latest === null ? null : reader.run(latest)!;
      return {
        workspace: ws.dir,
        runs: runs.length,
        latest_run: run === null ? null : { ...runRecordObject(run), counts: reader.severityCounts(run.id) },
        running: runs.filter((r) => r.status === "running").map(runRecordObject),
      };
    }));

  server.registerResource("domains", "plumbum://domains", {
    title: "Scored domains",
    description:
      `Scored domains of the latest complete run, highest first (at most ${MAX_DOMAINS}; plumbum_query pages).`,
    mimeType: "application/json",
  }, (uri: URL) =>
    jsonResource(uri, () => {
      const run = ws.run();
      const { total, findings } = ws.reader().findingsPage(run.id, { limit: MAX_DOMAINS, offset: 0 });
      return { run: run.id, total, domains: findings.map(domainObject) };
    }));

  server.registerResource("runs", "plumbum://runs", {
    title: "Runs",
    description: `The workspace's runs, newest first (at most ${MAX_RUNS}).`,
    mimeType: "application/json",
  }, (uri: URL) => jsonResource(uri, () => ({ runs: ws.reader().runs().slice(0, MAX_RUNS).map(runRecordObject) })));

  server.registerResource(
    "run",
    new ResourceTemplate("plumbum://runs/{id}", { list: undefined }),
    {
      title: "A run",
      description: "One run: its record, domains by severity and its top 20 domains.",
      mimeType: "application/json",
    },
    (uri: URL, { id }: Record<string, string | string[]>) =>
      jsonResource(uri, () => {
        const n = Number(id);
        if (!Number.isInteger(n) || n < 1) throw new Answer(`"${String(id).slice(0, 40)}" is not a run number`);
        const run = ws.run(n);
        const reader = ws.reader();
        const top = reader.findingsPage(run.id, { limit: 20, offset: 0 }).findings;
        return { run: runRecordObject(run), counts: reader.severityCounts(run.id), top: top.map(domainObject) };
      }),
  );

  server.registerResource(
    "domain",
    new ResourceTemplate("plumbum://domains/{domain}", {
      list: undefined,
      complete: { domain: (value: string) => domainNames(value) },
    }),
    {
      title: "A domain's explanation",
      description: "One domain of the latest complete run: the `plumbum explain --json` document.",
      mimeType: "application/json",
    },
    (uri: URL, { domain }: Record<string, string | string[]>) =>
      jsonResource(uri, () => {
        const run = ws.run();
        let name: string;
        try {
          name = decodeURIComponent(String(domain));
        } catch {
          throw new McpError(
            ErrorCode.InvalidParams,
            `${
              uri.href.slice(0, 300)
            } is no domain URI: percent escapes must be %HH of UTF-8 (encodeURIComponent of the name)`,
          );
        }
        return explainDocument(ws.reader(), run.id, ws.finding(run, name));
      }),
  );
}
