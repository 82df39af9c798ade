/**
 * Bench worker: a full `plumbum apply` (ingest, analysis, SQLite) of one
 * file into a fresh workspace — or, with a third argument `stream`, the
 * live path over it (`stream --read`, windows and checkpoints), or with
 * `follow LINES`, a Zeek log followed (`stream --follow`) to its LINES-th
 * line; prints throughput figures as JSON last.
 */
import { main } from "../src/cli/main.ts";
import { peakRssBytes } from "./rss.ts";

const [path, dir, mode = "apply", lines = "0"] = Deno.args;
try {
  Deno.removeSync(dir, { recursive: true });
} catch {
  // fresh
}
const t0 = performance.now();
// A log is followed (stream --follow) until its last line: --count stops the run there.
const live = mode === "stream" ? ["--read", path] : mode === "follow" ? ["--follow", path, "--count", lines] : null;
const code = live !== null
  ? (await main(["init", "--dir", dir]), await main(["stream", ...live, "--dir", dir, "--quiet"]))
  : await main(["apply", path, "--dir", dir]);
const secs = (performance.now() - t0) / 1000;
if (code !== 0) Deno.exit(code);
// What the run left on disk: the database and its write-ahead log (not yet checkpointed into it).
let dbBytes = 0;
for (const e of Deno.readDirSync(dir)) {
  if (e.name.startsWith("plumbum.db")) dbBytes += Deno.statSync(`${dir}/${e.name}`).size;
}
console.log(JSON.stringify({ secs, bytes: Deno.statSync(path).size, peak_rss: peakRssBytes(), db_bytes: dbBytes }));
