#!/usr/bin/env -S deno run --allow-read --allow-write --allow-env --allow-sys --allow-ffi
/**
 * The `plumbum` command: find DNS tunnels in captures and Zeek logs.
 *
 * @module
 */
import { main } from "./src/cli/main.ts";

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
