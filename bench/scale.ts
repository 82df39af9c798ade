/**
 * Memory against the number of domains: captures of N registered domains
 * asked once each over a day (bench/domains.ts), through `apply` (every
 * transaction stored) and `stream --read` (60-s windows, a checkpoint at
 * each), with tshark's field extraction of the same file in the same run.
 *
 *   deno task bench:scale [N …]      (default: 200000 1000000)
 *
 * Prints a Markdown table: domains, capture size, seconds and peak RSS of
 * each, and the bytes of RSS per domain over the smallest run's.
 *
 * @module
 */
import { formatBytes } from "../src/present/progress.ts";
import { buildDomainsCapture } from "./domains.ts";
import { runJson, timeTshark } from "./reference.ts";

const V8 = "--v8-flags=--max-semi-space-size=4,--heap-growing-percent=50";
const sizes = Deno.args.length > 0 ? Deno.args.map(Number) : [200_000, 1_000_000];
if (sizes.some((n) => !(n >= 1))) {
  console.error("bench:scale: give numbers of domains, e.g. deno task bench:scale 200000 1000000");
  Deno.exit(1);
}
const dir = Deno.env.get("PLUMBUM_BENCH_DIR") ?? "/tmp/plumbum-bench";
Deno.mkdirSync(dir, { recursive: true });
const worker = new URL("./apply.ts", import.meta.url).pathname;

const rows = [
  "| domains | capture | apply s | apply peak RSS | stream --read s | stream peak RSS | tshark s | tshark peak RSS |",
  "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
];
for (const n of sizes) {
  const path = `${dir}/domains-${n}.pcap`;
  console.error(`building ${path} …`);
  buildDomainsCapture(path, n);
  const bytes = Deno.statSync(path).size;
  console.error(`apply of ${n} domains …`);
  const apply = await runJson(["run", "-A", V8, worker, path, `${dir}/ws-apply`]);
  console.error(`stream --read of ${n} domains …`);
  const stream = await runJson(["run", "-A", V8, worker, path, `${dir}/ws-stream`, "stream"]);
  const tshark = await timeTshark(path);
  const mb = (b: number) => b > 0 ? formatBytes(b) : "-";
  rows.push(
    `| ${n} | ${formatBytes(bytes)} | ${apply.secs.toFixed(1)} | ${mb(apply.peak_rss)} | ${stream.secs.toFixed(1)} | ${
      mb(stream.peak_rss)
    } | ${tshark?.secs.toFixed(1) ?? "-"} | ${mb(tshark?.peak_rss ?? 0)} |`,
  );
}
console.log(rows.join("\n"));
