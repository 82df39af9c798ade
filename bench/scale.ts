/**
 * Memory against the number of domains: N registered domains asked once
 * each over a day (bench/domains.ts), as a capture and as the Zeek dns.log
 * of the same exchanges, through `apply` (every transaction stored) and the
 * live path (60-s windows, a checkpoint at each): `stream --read` of the
 * capture, `stream --follow` of the log to its last line; tshark's field
 * extraction of the capture in the same run.
 *
 *   deno task bench:scale [--inputs capture,log] [N …]      (default: 200000 1000000)
 *
 * PLUMBUM_BENCH_DIR (default /tmp/plumbum-bench) holds the inputs and
 * workspaces; PLUMBUM_BENCH_SKIP_TSHARK (set) leaves tshark out.
 *
 * Prints a Markdown table: domains, input and its size, seconds and peak
 * RSS of each command.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { formatBytes } from "../src/present/progress.ts";
import { buildDomainsCapture, buildDomainsZeekLog } from "./domains.ts";
import { runJson, timeTshark } from "./reference.ts";

const V8 = "--v8-flags=--max-semi-space-size=4,--heap-growing-percent=50";
const { values: o, positionals } = parseArgs({
  args: Deno.args,
  options: { inputs: { type: "string", default: "capture,log" } },
  allowPositionals: true,
});
const sizes = positionals.length > 0 ? positionals.map(Number) : [200_000, 1_000_000];
const inputs = o.inputs!.split(",");
if (sizes.some((n) => !(n >= 1)) || inputs.some((k) => k !== "capture" && k !== "log")) {
  console.error(
    "bench:scale: give numbers of domains and --inputs capture,log, e.g. deno task bench:scale --inputs log 1000000",
  );
  Deno.exit(1);
}
const dir = Deno.env.get("PLUMBUM_BENCH_DIR") ?? "/tmp/plumbum-bench";
Deno.mkdirSync(dir, { recursive: true });
const worker = new URL("./apply.ts", import.meta.url).pathname;

const rows = [
  "| domains | input | size | apply s | apply peak RSS | stream s | stream peak RSS | tshark s | tshark peak RSS |",
  "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
];
for (const n of sizes) {
  for (const kind of inputs) {
    const log = kind === "log";
    const path = `${dir}/domains-${n}.${log ? "log" : "pcap"}`;
    console.error(`building ${path} …`);
    (log ? buildDomainsZeekLog : buildDomainsCapture)(path, n);
    const bytes = Deno.statSync(path).size;
    console.error(`apply of ${n} domains (${kind}) …`);
    const apply = await runJson(["run", "-A", V8, worker, path, `${dir}/ws-apply`]);
    // A capture is replayed (stream --read); a log is followed to its last line (stream --follow).
    console.error(`stream ${log ? "--follow" : "--read"} of ${n} domains …`);
    const stream = await runJson(
      ["run", "-A", V8, worker, path, `${dir}/ws-stream`, ...(log ? ["follow", String(n)] : ["stream"])],
    );
    const tshark = log || Deno.env.get("PLUMBUM_BENCH_SKIP_TSHARK") ? null : await timeTshark(path);
    const mb = (b: number) => b > 0 ? formatBytes(b) : "-";
    rows.push(
      `| ${n} | ${log ? "Zeek dns.log" : "capture"} | ${formatBytes(bytes)} | ${apply.secs.toFixed(1)} | ${
        mb(apply.peak_rss)
      } | ${stream.secs.toFixed(1)} | ${mb(stream.peak_rss)} | ${tshark?.secs.toFixed(1) ?? "-"} | ${
        mb(tshark?.peak_rss ?? 0)
      } |`,
    );
  }
}
console.log(rows.join("\n"));
