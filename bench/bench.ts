/**
 * `deno task bench`: builds a ≥ 500 MB capture by repeating the shared mixed
 * capture (timestamps shifted so every copy is a new stretch of time), then
 * times in the same run Plumbum's decode to transactions, a full `apply`
 * (when available), and tshark's field extraction of the same file.
 *
 * Figures are printed side by side; nothing here is asserted.
 *
 * Environment: PLUMBUM_BENCH_MB (capture size, default 512),
 * PLUMBUM_BENCH_SOURCE (the capture repeated: a little-endian microsecond
 * PCAP), PLUMBUM_BENCH_OUT (where the capture and workspace go, default
 * bench/out), PLUMBUM_BENCH_RUNS (runs per figure, default 3),
 * PLUMBUM_BENCH_SKIP_TSHARK (set: no tshark run), PLUMBUM_BENCH_TUNNEL_MB
 * (size of the second capture, default 160; 0: none), PLUMBUM_BENCH_SKIP_MCP
 * (set: no MCP server figures; else bench/mcp.ts runs last).
 *
 * The second capture (bench/tunnel.ts) is three tunnels whose every name
 * and answer is new: the repeated mixed capture asks the same names in
 * every copy, which real tunnels never do.
 */
import { fileURLToPath } from "node:url";
import { formatBytes } from "../src/present/progress.ts";
import { buildTunnelCapture } from "./tunnel.ts";
import { runJson, timeTshark } from "./reference.ts";

const here = fileURLToPath(new URL(".", import.meta.url));
const source = Deno.env.get("PLUMBUM_BENCH_SOURCE") ??
  fileURLToPath(new URL("../../shared/corpus/mixed-s101.pcap", import.meta.url));
const target = Number(Deno.env.get("PLUMBUM_BENCH_MB") ?? "512") * 1024 * 1024;
const outDir = Deno.env.get("PLUMBUM_BENCH_OUT") ?? `${here}out`;
Deno.mkdirSync(outDir, { recursive: true });
const big = `${outDir}/bench.pcap`;

function buildBigCapture(): number {
  const src = Deno.readFileSync(source);
  const dv = new DataView(src.buffer);
  if (dv.getUint32(0, true) !== 0xa1b2c3d4) throw new Error(`${source}: expected a little-endian microsecond PCAP`);
  // Index the records and the capture's time span.
  const recs: [number, number][] = [];
  let first = Infinity, last = -Infinity;
  for (let o = 24; o + 16 <= src.length;) {
    const incl = dv.getUint32(o + 8, true);
    const sec = dv.getUint32(o, true);
    first = Math.min(first, sec);
    last = Math.max(last, sec);
    recs.push([o, 16 + incl]);
    o += 16 + incl;
  }
  const span = last - first + 10;
  const body = src.length - 24;
  const copies = Math.ceil(target / body);
  // Copy c starts c spans after the first: reuse a capture on disk only when its size and its last copy's
  // first timestamp say it was built so (an older bench gave every copy after the first the same times).
  const lastCopyFirstSec = dv.getUint32(24, true) + (copies - 1) * span;
  try {
    if (Deno.statSync(big).size === 24 + copies * body) {
      using f = Deno.openSync(big, { read: true });
      const head = new Uint8Array(4);
      f.seekSync(24 + (copies - 1) * body, Deno.SeekMode.Start);
      if (f.readSync(head) === 4 && new DataView(head.buffer).getUint32(0, true) === lastCopyFirstSec) return copies;
    }
  } catch {
    // build it
  }
  const f = Deno.openSync(big, { write: true, create: true, truncate: true });
  f.writeSync(src.subarray(0, 24));
  const chunk = src.slice(24);
  const cdv = new DataView(chunk.buffer);
  for (let c = 0; c < copies; c++) {
    for (const [o] of recs) {
      const p = o - 24;
      cdv.setUint32(p, dv.getUint32(o, true) + c * span, true);
    }
    let off = 0;
    while (off < chunk.length) off += f.writeSync(chunk.subarray(off));
  }
  f.close();
  return copies;
}

const mbps = (bytes: number, secs: number) => bytes / 1e6 / secs;

/**
 * The machine's own speed at this moment: milliseconds for a fixed integer
 * loop (2e8 multiply-xor steps) and for 2e7 random reads of a 64 MB table.
 * Shared machines wander (this one's loop has taken 288-443 ms): printed
 * beside the figures, the probe tells a slow stretch from a slow change.
 */
function probe(): { loop: number; reads: number } {
  let t = performance.now();
  let h = 1;
  for (let i = 0; i < 2e8; i++) h = Math.imul(h ^ i, 0x01000193);
  const loop = performance.now() - t;
  const table = new Int32Array(1 << 24);
  t = performance.now();
  let sum = h & 1;
  for (let i = 0; i < 2e7; i++) {
    h = Math.imul(h ^ i, 0x01000193);
    sum += table[h >>> 8];
  }
  const reads = performance.now() - t;
  // Use the results, so the loops cannot be left out.
  if (sum === 0x7fffffff) console.log(sum);
  return { loop, reads };
}
const probes: [string, { loop: number; reads: number }][] = [["start", probe()]];

console.log(`Building the bench capture from ${source} …`);
const copies = buildBigCapture();
const size = Deno.statSync(big).size;
console.log(`${big}: ${formatBytes(size)} (${copies} copies)\n`);

const V8 = "--v8-flags=--max-semi-space-size=4,--heap-growing-percent=50";
// Timings on a shared machine wander (and V8's compiled code differs from
// one process to the next): each Plumbum figure is the median of several
// runs (the slower middle one when their number is even), with the largest
// peak RSS. Decode runs both before and after tshark's long run, so the
// ratio compares the two under the same stretch of machine time.
const runs = Math.max(1, Number(Deno.env.get("PLUMBUM_BENCH_RUNS") ?? "3"));

async function sample(args: string[]): Promise<Record<string, number>[]> {
  const all: Record<string, number>[] = [];
  for (let i = 0; i < runs; i++) all.push(await runJson(args));
  return all;
}

function median(all: Record<string, number>[]): Record<string, number> {
  const sorted = [...all].sort((a, b) => a.secs - b.secs);
  return { ...sorted[Math.floor(sorted.length / 2)], peak_rss: Math.max(...all.map((d) => d.peak_rss)) };
}

const decodeArgs = ["run", "-A", V8, `${here}decode.ts`, big];
const decodes = await sample(decodeArgs);

const applyWorker = `${here}apply.ts`;
let apply: Record<string, number> | null = null;
let applies: Record<string, number>[] = [];
try {
  Deno.statSync(applyWorker);
  // Each run starts from an empty workspace (apply.ts removes it first).
  applies = await sample(["run", "-A", V8, applyWorker, big, `${outDir}/apply-dir`]);
  apply = median(applies);
} catch (e) {
  if (!(e instanceof Deno.errors.NotFound)) throw e;
}

const tshark = Deno.env.get("PLUMBUM_BENCH_SKIP_TSHARK") ? null : await timeTshark(big);
if (tshark !== null) {
  probes.push(["after tshark", probe()]);
  decodes.push(...await sample(decodeArgs));
}
const tunnelMb = Number(Deno.env.get("PLUMBUM_BENCH_TUNNEL_MB") ?? "160");
const tunnel = tunnelMb > 0 ? `${outDir}/tunnel.pcap` : null;
let tunnelDecodes: Record<string, number>[] = [];
let tunnelApplies: Record<string, number>[] = [];
if (tunnel !== null) {
  console.log(
    `Building the unique-name tunnel capture (${buildTunnelCapture(tunnel, tunnelMb * 1024 * 1024)} exchanges) …`,
  );
  tunnelDecodes = await sample(["run", "-A", V8, `${here}decode.ts`, tunnel]);
  tunnelApplies = await sample(["run", "-A", V8, applyWorker, tunnel, `${outDir}/apply-dir`]);
}
probes.push(["end", probe()]);
const decode = median(decodes);

/** The fastest run's seconds. */
const best = (all: Record<string, number>[]) => Math.min(...all.map((d) => d.secs));

// The median is the figure judged against the targets; the fastest run is
// shown beside it because the machine's own speed wanders (a noisy neighbour
// slows every run of a stretch, Plumbum's and tshark's alike).
type Row = [string, number, number, number | null, number];
/** The row of a figure sampled over several runs: its median run, and the fastest beside it. */
const sampledRow = (
  what: string,
  detail: string,
  med: Record<string, number>,
  all: Record<string, number>[],
  bytes = size,
): Row => [
  `${what} (${detail}median of ${all.length})`,
  med.secs,
  mbps(bytes, med.secs),
  mbps(bytes, best(all)),
  med.peak_rss,
];
const rows: Row[] = [sampledRow("plumbum decode → transactions", "", decode, decodes)];
if (apply !== null) rows.push(sampledRow("plumbum apply", "ingest+analysis+SQLite; ", apply, applies));
if (tshark !== null) {
  rows.push([
    "tshark -T fields (qry.name, qry.type, txt)",
    tshark.secs,
    mbps(size, tshark.secs),
    null,
    tshark.peak_rss,
  ]);
}
if (tunnel !== null) {
  const bytes = Deno.statSync(tunnel).size;
  const what = `unique-name tunnels, ${formatBytes(bytes)}`;
  rows.push(sampledRow(`plumbum decode, ${what}`, "", median(tunnelDecodes), tunnelDecodes, bytes));
  rows.push(sampledRow(`plumbum apply, ${what}`, "", median(tunnelApplies), tunnelApplies, bytes));
}

console.log("| what | seconds | MB/s | fastest run, MB/s | peak RSS |");
console.log("| --- | ---: | ---: | ---: | ---: |");
for (const [what, secs, rate, fastest, rss] of rows) {
  console.log(
    `| ${what} | ${secs.toFixed(2)} | ${rate.toFixed(1)} | ${fastest === null ? "-" : fastest.toFixed(1)} | ${
      rss ? formatBytes(rss) : "-"
    } |`,
  );
}
console.log("");
console.log(`transactions decoded: ${decode.transactions}, malformed: ${decode.malformed}`);
for (const [what, all] of [["decode", decodes], ["apply", applies]] as const) {
  if (all.length === 0) continue;
  console.log(
    `${what} runs, in order: ${all.map((d) => d.secs.toFixed(2)).join(", ")} s (${
      all.map((d) => mbps(size, d.secs).toFixed(0)).join(", ")
    } MB/s)${
      what === "decode" && all.length > runs ? `; the last ${runs} after tshark` : ""
    }; peak RSS shown is the largest`,
  );
}
console.log(
  `machine probe (lower is faster): integer loop ${
    probes.map(([at, p]) => `${p.loop.toFixed(0)} ms (${at})`).join(", ")
  }; random reads ${probes.map(([at, p]) => `${p.reads.toFixed(0)} ms (${at})`).join(", ")}`,
);
if (tshark !== null) {
  console.log(`decode speed-up over tshark: ${(tshark.secs / decode.secs).toFixed(1)}× (target ≥ 25×)`);
}
console.log(
  `decode throughput: ${mbps(size, decode.secs).toFixed(0)} MB/s (target ≥ 300 MB/s), peak RSS ${
    formatBytes(decode.peak_rss)
  } (target < 200 MB)`,
);
if (apply !== null) {
  console.log(
    `apply throughput: ${mbps(size, apply.secs).toFixed(0)} MB/s (target ≥ 150 MB/s), peak RSS ${
      formatBytes(apply.peak_rss)
    } (target < 300 MB), database ${formatBytes(apply.db_bytes)} (${decode.transactions} transactions)`,
  );
}
if (tunnelApplies.length > 0) {
  console.log(`apply, unique-name tunnels: database ${formatBytes(median(tunnelApplies).db_bytes)}`);
}

// The MCP server over the bench capture's workspace and one of 100 000 domains (bench/mcp.ts).
if (Deno.env.get("PLUMBUM_BENCH_SKIP_MCP") === undefined) {
  console.log("\nMCP server (bench/mcp.ts; PLUMBUM_BENCH_SKIP_MCP=1 leaves it out):");
  new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", fileURLToPath(new URL("./mcp.ts", import.meta.url))],
    env: { PLUMBUM_BENCH_OUT: outDir },
    stdout: "inherit",
    stderr: "inherit",
  }).outputSync();
}
