#!/usr/bin/env -S deno run --v8-flags=--max-semi-space-size=4,--heap-growing-percent=50 --allow-read --allow-write --allow-env --allow-sys
/**
 * The `plumbum` command: find DNS tunnels in captures and Zeek logs.
 *
 * Run it with `--v8-flags=--max-semi-space-size=4,--heap-growing-percent=50`:
 * decoding allocates many short-lived objects, and a small young generation
 * keeps peak RSS near 120 MB instead of 200 MB, and is faster too; the old
 * generation, let grow by half its live size between full collections
 * instead of V8's several times, took the tunnel bench's `apply` from
 * 285-309 MB to 202-208 MB in the same time (measured by `deno task bench`).
 *
 * @module
 */
import { main } from "./src/cli/main.ts";
import { serveWorkerRole } from "./src/thread.ts";
import { WORKER_MODULES } from "./src/workers.ts";

// A single-file build is also its own worker threads (see spawnWorker): such a thread runs its module, not the CLI.
if (import.meta.main && !(await serveWorkerRole(WORKER_MODULES))) {
  Deno.exit(await main(Deno.args));
}
