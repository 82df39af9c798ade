/**
 * Bench worker: decode one file to transactions and print throughput and
 * peak RSS as JSON. Run by bench/bench.ts in its own process so the RSS is
 * Plumbum's alone.
 */
import { ingestFile } from "../src/ingest/source.ts";
import { peakRssBytes } from "./rss.ts";

const path = Deno.args[0];
let answers = 0;
const t0 = performance.now();
const stats = await ingestFile(path, {
  onTransaction(tx) {
    answers += tx.answers.length;
  },
});
const secs = (performance.now() - t0) / 1000;
console.log(
  JSON.stringify({
    secs,
    bytes: stats.bytes,
    transactions: stats.transactions,
    answers,
    malformed: stats.malformed,
    peak_rss: peakRssBytes(),
  }),
);
