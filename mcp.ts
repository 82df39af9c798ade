#!/usr/bin/env -S deno run --v8-flags=--max-semi-space-size=4,--heap-growing-percent=50 --allow-read --allow-env
/**
 * `plumbum-mcp`: Plumbum's findings, explanations and evidence for AI
 * assistants, over the Model Context Protocol on stdio.
 *
 *   deno run --allow-read --allow-env mcp.ts [--dir PATH]
 *   deno run --allow-read --allow-write --allow-env --allow-sys mcp.ts --allow-apply --root DIR [--dir PATH]
 *
 * Read-only by default: it opens the workspace's database read-only and
 * needs no write, run or FFI permission. `--allow-apply --root DIR` adds
 * the `plumbum_apply` tool, which analyzes captures found under DIR.
 *
 * @module
 */
import { parseArgs } from "node:util";
// @ts-types="npm:@modelcontextprotocol/sdk@1.32.2/dist/esm/server/stdio.d.ts"
import { LineTransport } from "./src/mcp/stdio.ts";
import { createServer } from "./src/mcp/server.ts";
import type { OpenedInput } from "./src/ingest/source.ts";
import { workspacePaths } from "./src/workspace/paths.ts";
import { VERSION } from "./src/version.ts";
import { serveWorkerRole } from "./src/thread.ts";
import { WORKER_MODULES } from "./src/workers.ts";

const HELP = `plumbum-mcp ${VERSION}: Plumbum's findings for AI assistants (Model Context Protocol over stdio)

Usage: plumbum-mcp [--dir PATH] [--allow-apply --root DIR]

  --dir PATH      the workspace (default .plumbum, or $PLUMBUM_DIR)
  --allow-apply   offer plumbum_apply, which analyzes captures into the workspace
  --root DIR      with --allow-apply: the folder whose files it may read
  -h, --help      this help
  -V, --version   the version

Tools: plumbum_query, plumbum_explain, plumbum_transactions, plumbum_runs,
plumbum_history, plumbum_sigma (and plumbum_apply with --allow-apply).
Resources: plumbum://status, plumbum://domains, plumbum://runs,
plumbum://runs/{id}, plumbum://domains/{domain}. Prompts: triage, explain_domain.

Client configuration (Claude Desktop and others):
  {"mcpServers": {"plumbum": {"command": "deno", "args": ["run", "--allow-read",
   "--allow-env", "/path/to/plumbum/mcp.ts", "--dir", "/path/to/.plumbum"]}}}`;

function fail(message: string): never {
  console.error(`plumbum-mcp: ${message}`);
  Deno.exit(1);
}

async function main(): Promise<void> {
  let o;
  try {
    o = parseArgs({
      args: Deno.args,
      options: {
        dir: { type: "string" },
        "allow-apply": { type: "boolean" },
        root: { type: "string" },
        help: { type: "boolean", short: "h" },
        version: { type: "boolean", short: "V" },
      },
    }).values;
  } catch (e) {
    fail(`${(e as Error).message} (plumbum-mcp --help)`);
  }
  if (o.help) {
    console.log(HELP);
    return;
  }
  if (o.version) {
    console.log(VERSION);
    return;
  }
  if (o.root !== undefined && !o["allow-apply"]) fail("--root goes with --allow-apply");
  if (o["allow-apply"] && o.root === undefined) {
    fail("--allow-apply needs --root DIR: the folder it may read captures from");
  }
  const { dir } = workspacePaths(o.dir);
  let apply;
  if (o["allow-apply"]) {
    const root = o.root!;
    if (Deno.permissions.querySync({ name: "write" }).state !== "granted") {
      fail(
        "--allow-apply writes the workspace: run it with Deno's --allow-write and --allow-sys too (deno run --allow-read --allow-write --allow-env --allow-sys mcp.ts …)",
      );
    }
    try {
      if (!Deno.statSync(root).isDirectory) fail(`--root: ${JSON.stringify(root)} is not a folder`);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) fail(`--root: ${JSON.stringify(root)} does not exist`);
      throw e;
    }
    // Loaded only when asked: the writer's side (config, store, pipeline) needs write permission.
    const { applyCapture } = await import("./src/mcp/apply.ts");
    apply = { root, run: (input: OpenedInput) => applyCapture(dir, input) };
  }
  const { server, close } = createServer({ dir, apply });
  const transport = new LineTransport();
  transport.onclose = () => close();
  await server.connect(transport);
  console.error(
    `plumbum-mcp ${VERSION}: serving ${dir} on stdio${apply ? ` (apply under ${apply.root})` : " (read-only)"}`,
  );
}

// A single-file build is also its own worker threads (see spawnWorker): such a thread runs its module.
if (import.meta.main && !(await serveWorkerRole(WORKER_MODULES))) await main();
