/**
 * `deno task bench:live`: live capture under load. The bench capture and
 * the unique-name tunnel capture (`deno task bench` builds both) are
 * replayed with tcpreplay into a veth between two network namespaces made
 * here, at rising rates; on the far end `tcpdump -w /dev/null` and then
 * `plumbum stream` (scoring and storing every transaction) capture the
 * same replay. For each: packets captured, dropped by the kernel, CPU
 * seconds and peak RSS (from /proc, polled). Nothing is asserted.
 *
 *   deno task bench:live [--rates 50000,100000,200000,400000] [--packets N] [--minutes M]
 *
 * `--minutes M` instead replays the bench capture at the first rate,
 * looping, for M minutes into one `plumbum stream`, and prints its RSS and
 * drops each minute. Needs root, iproute2, tcpreplay and tcpdump.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";

const { values: o } = parseArgs({
  args: Deno.args,
  options: {
    rates: { type: "string", default: "50000,100000,200000,400000" },
    packets: { type: "string", default: "1000000" },
    minutes: { type: "string" },
    out: { type: "string" },
  },
});
const here = fileURLToPath(new URL(".", import.meta.url));
const outDir = o.out ?? Deno.env.get("PLUMBUM_BENCH_OUT") ?? `${here}out`;
const cli = fileURLToPath(new URL("../cli.ts", import.meta.url));
const rates = o.rates!.split(",").map(Number);
const packets = Number(o.packets);
const captures = [`${outDir}/bench.pcap`, `${outDir}/tunnel.pcap`];
for (const c of captures) {
  try {
    Deno.statSync(c);
  } catch {
    console.error(`${c} is missing: deno task bench builds it`);
    Deno.exit(1);
  }
}
if (Deno.uid() !== 0) {
  console.error("bench:live needs root (network namespaces, capture)");
  Deno.exit(1);
}

const NS_A = "pbBenchA", NS_B = "pbBenchB", IF_A = "pbbencha", IF_B = "pbbenchb";

function sh(cmd: string, args: string[]): string {
  const r = new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).outputSync();
  if (!r.success) throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(r.stderr)}`);
  return new TextDecoder().decode(r.stdout);
}

function setUp(): void {
  tearDown();
  sh("ip", ["netns", "add", NS_A]);
  sh("ip", ["netns", "add", NS_B]);
  sh("ip", ["link", "add", IF_A, "netns", NS_A, "type", "veth", "peer", "name", IF_B, "netns", NS_B]);
  for (const [ns, dev] of [[NS_A, IF_A], [NS_B, IF_B]]) sh("ip", ["-n", ns, "link", "set", dev, "up"]);
}

function tearDown(): void {
  for (const ns of [NS_A, NS_B]) new Deno.Command("ip", { args: ["netns", "del", ns], stderr: "null" }).outputSync();
}

/** A process in namespace B whose memory and CPU are polled until it exits. */
class Watched {
  readonly child: Deno.ChildProcess;
  stderr = "";
  peakKb = 0;
  cpuSecs = 0;
  readonly done: Promise<unknown>;
  readonly #poll: number;

  constructor(cmd: string, args: string[]) {
    this.child = new Deno.Command("ip", {
      args: ["netns", "exec", NS_B, cmd, ...args],
      stdout: "null",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).spawn();
    const dec = new TextDecoder();
    const pump = (async () => {
      for await (const c of this.child.stderr) this.stderr += dec.decode(c, { stream: true });
    })();
    this.#poll = setInterval(() => this.#read(), 100);
    this.done = Promise.all([pump, this.child.status]).finally(() => clearInterval(this.#poll));
  }

  #read(): void {
    try {
      const status = Deno.readTextFileSync(`/proc/${this.child.pid}/status`);
      const hwm = Number(status.match(/VmHWM:\s+(\d+)/)?.[1] ?? 0);
      if (hwm > this.peakKb) this.peakKb = hwm;
      const stat = Deno.readTextFileSync(`/proc/${this.child.pid}/stat`);
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      this.cpuSecs = (Number(f[11]) + Number(f[12])) / 100;
    } catch { /* exited */ }
  }

  /** CPU seconds from now on (start-up left out). */
  mark(): void {
    this.#read();
    this.#cpuStart = this.cpuSecs;
  }

  get cpuSince(): number {
    return this.cpuSecs - this.#cpuStart;
  }

  #cpuStart = 0;

  async until(text: string | RegExp, ms: number): Promise<boolean> {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      if (typeof text === "string" ? this.stderr.includes(text) : text.test(this.stderr)) return true;
      await new Promise((r) => setTimeout(r, 50));
    }
    return false;
  }

  async stop(): Promise<void> {
    this.#read();
    try {
      this.child.kill("SIGINT");
    } catch { /* exited already */ }
    await this.done;
  }
}

/** Replay `file` from namespace A: the rate reached. */
function replay(file: string, pps: number, extra: string[]): { sent: number; pps: number; secs: number } {
  const text = sh("ip", ["netns", "exec", NS_A, "tcpreplay", "-K", "-i", IF_A, `--pps=${pps}`, ...extra, file]);
  const sent = Number(text.match(/Actual: (\d+) packets/)?.[1] ?? 0);
  const secs = Number(text.match(/sent in ([\d.]+) seconds/)?.[1] ?? 0);
  return { sent, pps: secs > 0 ? sent / secs : 0, secs };
}

interface Row {
  capture: string;
  target: number;
  actual: number;
  tool: string;
  captured: number;
  dropped: number;
  cpu: number;
  secs: number;
  rssMb: number;
}

async function tcpdumpRun(file: string, pps: number): Promise<Row> {
  const p = new Watched("tcpdump", ["-i", IF_B, "-n", "-B", String(32 << 10), "-w", "/dev/null", "port", "53"]);
  await p.until("listening on", 10_000);
  p.mark();
  const r = replay(file, pps, [`--limit=${packets}`]);
  await new Promise((res) => setTimeout(res, 1500));
  await p.stop();
  return {
    capture: file.split("/").pop()!,
    target: pps,
    actual: r.pps,
    tool: "tcpdump -w /dev/null",
    captured: Number(p.stderr.match(/(\d+) packets captured/)?.[1] ?? 0),
    dropped: Number(p.stderr.match(/(\d+) packets dropped by kernel/)?.[1] ?? 0),
    cpu: p.cpuSince,
    secs: r.secs,
    rssMb: p.peakKb / 1024,
  };
}

function plumbum(dir: string): Watched {
  return new Watched(Deno.execPath(), [
    "run",
    "--v8-flags=--max-semi-space-size=4,--heap-growing-percent=50",
    "--allow-read",
    "--allow-write",
    "--allow-env",
    "--allow-sys",
    "--allow-ffi",
    cli,
    "stream",
    "-i",
    IF_B,
    "--window",
    "60",
    "--dir",
    dir,
  ]);
}

async function plumbumRun(file: string, pps: number): Promise<Row> {
  const dir = Deno.makeTempDirSync({ prefix: "plumbum-live-bench-" });
  try {
    const p = plumbum(dir);
    await p.until("Ctrl-C stops", 20_000);
    p.mark();
    const r = replay(file, pps, [`--limit=${packets}`]);
    await new Promise((res) => setTimeout(res, 1500));
    await p.stop();
    const m = p.stderr.match(/Stored run #\d+: (\d+) packets.*dropped by the kernel (\d+)/);
    if (m === null) console.error(p.stderr);
    return {
      capture: file.split("/").pop()!,
      target: pps,
      actual: r.pps,
      tool: "plumbum stream (scoring, storing)",
      captured: Number(m?.[1] ?? 0),
      dropped: Number(m?.[2] ?? 0),
      cpu: p.cpuSince,
      secs: r.secs,
      rssMb: p.peakKb / 1024,
    };
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

async function long(minutes: number): Promise<void> {
  const dir = Deno.makeTempDirSync({ prefix: "plumbum-live-bench-" });
  try {
    const p = plumbum(dir);
    await p.until("Ctrl-C stops", 20_000);
    const pps = rates[0];
    const sender = new Deno.Command("ip", {
      args: [
        "netns",
        "exec",
        NS_A,
        "tcpreplay",
        "-K",
        "-i",
        IF_A,
        `--pps=${pps}`,
        "--loop=1000",
        `--duration=${minutes * 60}`,
        captures[0],
      ],
      stdout: "null",
      stderr: "null",
    }).spawn();
    console.log(`plumbum stream, ${minutes} minutes of the bench capture at ${pps} packets/s`);
    console.log("minute  peak RSS  CPU s   windows");
    for (let m = 1; m <= minutes; m++) {
      await new Promise((res) => setTimeout(res, 60_000));
      const windows = (p.stderr.match(/^window /gm) ?? []).length;
      console.log(
        `${String(m).padStart(6)}  ${(p.peakKb / 1024).toFixed(0).padStart(5)} MB  ${
          p.cpuSecs.toFixed(0).padStart(5)
        }  ${windows}`,
      );
    }
    await sender.status;
    await new Promise((res) => setTimeout(res, 1500));
    await p.stop();
    console.log(p.stderr.split("\n").filter((l) => l.startsWith("Stored")).join("\n"));
    console.log(`peak RSS ${(p.peakKb / 1024).toFixed(0)} MB`);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

setUp();
try {
  if (o.minutes !== undefined) await long(Number(o.minutes));
  else {
    console.log(
      `${packets} packets per replay into a veth (tcpreplay -K); ${Deno.build.target}, ${navigator.hardwareConcurrency} cores`,
    );
    console.log(
      "capture       target pps  actual pps  tool                              captured   dropped  CPU s  CPU %  peak RSS",
    );
    for (const file of captures) {
      for (const pps of rates) {
        for (const run of [tcpdumpRun, plumbumRun]) {
          const r = await run(file, pps);
          console.log(
            `${r.capture.padEnd(12)}  ${String(r.target).padStart(10)}  ${r.actual.toFixed(0).padStart(10)}  ${
              r.tool.padEnd(32)
            }  ${String(r.captured).padStart(8)}  ${String(r.dropped).padStart(8)}  ${r.cpu.toFixed(1).padStart(5)}  ${
              (100 * r.cpu / Math.max(r.secs, 0.001)).toFixed(0).padStart(5)
            }  ${r.rssMb.toFixed(0).padStart(5)} MB`,
          );
        }
      }
    }
  }
} finally {
  tearDown();
}
