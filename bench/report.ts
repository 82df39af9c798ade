/**
 * The HTML report of a large run: N registered domains asked once each
 * (bench/domains.ts) applied, then `plumbum report --min-severity LOW`
 * (the top 100 domains written out in full, every domain in the table)
 * beside `plumbum export` of the same run as the reference; the page opened
 * in headless Chromium, timed to its load event (the table is drawn by
 * then), with its console errors and requests counted.
 *
 *   deno task bench:report [N]      (default 100000)
 *
 * @module
 */
import { buildDomainsCapture } from "./domains.ts";
import { Browser, chromiumPath } from "../tests/helpers/chromium.ts";

const n = Number(Deno.args[0] ?? 100_000);
if (!(n >= 1)) {
  console.error("bench:report: give a number of domains, e.g. deno task bench:report 100000");
  Deno.exit(1);
}
const dir = Deno.env.get("PLUMBUM_BENCH_DIR") ?? "/tmp/plumbum-bench";
Deno.mkdirSync(dir, { recursive: true });
const cli = new URL("../cli.ts", import.meta.url).pathname;
const V8 = "--v8-flags=--max-semi-space-size=4,--heap-growing-percent=50";

async function timed(args: string[]): Promise<number> {
  const t0 = performance.now();
  const o = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", V8, cli, ...args],
    stdout: "null",
    stderr: "piped",
  })
    .output();
  if (!o.success) throw new Error(`${args.join(" ")}: ${new TextDecoder().decode(o.stderr)}`);
  return (performance.now() - t0) / 1000;
}

const capture = `${dir}/domains-${n}.pcap`;
try {
  Deno.statSync(capture);
} catch {
  console.error(`building ${capture} …`);
  buildDomainsCapture(capture, n);
}
const ws = `${dir}/ws-report-${n}`;
try {
  Deno.removeSync(ws, { recursive: true });
} catch {
  // A first run.
}
console.error(`apply of ${n} domains …`);
await timed(["apply", capture, "--dir", ws]);
const page = `${dir}/report-${n}.html`;
console.error("report …");
const reportSecs = await timed(["report", "--min-severity", "LOW", "-o", page, "--dir", ws]);
const exportSecs = await timed(["export", "-o", `${dir}/export-${n}.json`, "--dir", ws]);
const mb = Deno.statSync(page).size / 1e6;
let load = "no chromium", errors = "-", requests = "-";
const chromium = chromiumPath();
if (chromium !== null) {
  const b = await Browser.start(chromium);
  try {
    const log = await b.open(`file://${page}`, { settleMs: 100 });
    const rows = await b.evaluate<number>(`document.querySelectorAll("#rows tbody tr").length`);
    load = `${(log.loadMs / 1000).toFixed(2)} s (${rows} rows drawn)`;
    errors = String(log.errors.length);
    requests = String(log.requests.length - 1);
  } finally {
    await b.close();
  }
}
console.log(
  [
    "| domains | report s | export s (reference) | page MB | Chromium load | console errors | requests beyond the page |",
    "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    `| ${n} | ${reportSecs.toFixed(1)} | ${exportSecs.toFixed(1)} | ${
      mb.toFixed(1)
    } | ${load} | ${errors} | ${requests} |`,
  ].join("\n"),
);
