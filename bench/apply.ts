/**
 * Bench worker: a full `plumbum apply` (ingest, analysis, SQLite) of one
 * file into a fresh workspace — or, with a third argument `stream`, the
 * live path over it (`stream --read`, windows and checkpoints); prints
 * throughput figures as JSON last.
 */
import { main } from "../src/cli/main.ts";
import { peakRssBytes } from "./rss.ts";

const [path, dir, mode = "apply"] = Deno.args;
try {
  Deno.removeSync(dir, { recursive: true });
} catch {
  // fresh
}
const t0 = performance.now();
const code = mode === "stream"
  ? (await main(["init", "--dir", dir]), await main(["stream", "--read", path, "--dir", dir, "--quiet"]))
  : await main(["apply", path, "--dir", dir]);
const secs = (performance.now() - t0) / 1000;
if (code !== 0) Deno.exit(code);
// What the run left on disk: the database and its write-ahead log (not yet checkpointed into it).
let dbBytes = 0;
for (const e of Deno.readDirSync(dir)) {
  if (e.name.startsWith("plumbum.db")) dbBytes += Deno.statSync(`${dir}/${e.name}`).size;
}
console.log(JSON.stringify({ secs, bytes: Deno.statSync(path).size, peak_rss: peakRssBytes(), db_bytes: dbBytes }));
