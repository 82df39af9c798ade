/**
 * The bench tools run: `deno task bench` end to end on a small capture, and
 * the A/B tool, which exports a revision beside a copy of the working tree
 * and compares the two, in every mode, on the bundled sample.
 */
import assert from "node:assert/strict";
import { fromFileUrl } from "./helpers/paths.ts";
import { runCli } from "./helpers/cli.ts";

const root = fromFileUrl(new URL("../", import.meta.url));

function hasGit(): boolean {
  try {
    return new Deno.Command("git", { args: ["-C", root, "rev-parse", "HEAD"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

const git = hasGit();
if (!git) console.error("bench:ab test skipped: it needs git and a git checkout");

Deno.test({
  name: "bench:ab compares HEAD with the working tree in each mode and cleans up after itself",
  ignore: !git,
  fn: async () => {
    const before = [...Deno.readDirSync(Deno.env.get("TMPDIR") ?? "/tmp")].filter((e) =>
      e.name.startsWith("plumbum-ab-")
    )
      .length;
    for (const mode of ["decode", "analysis", "names"]) {
      const o = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          `${root}bench/ab.ts`,
          "--file",
          `${root}fixtures/sample.pcap`,
          "--reps",
          "2",
          "--mode",
          mode,
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const out = new TextDecoder().decode(o.stdout);
      assert.ok(o.success, new TextDecoder().decode(o.stderr));
      assert.match(out, new RegExp(`^${mode}: 2 pairs on `, "m"));
      assert.match(out, /^A \(HEAD\): median [\d.]+ ms, fastest [\d.]+ ms$/m);
      assert.match(out, /^B \(working tree\): median [\d.]+ ms, fastest [\d.]+ ms$/m);
      assert.match(out, /^B\/A per pair: median \d+\.\d{3} \(10th-90th percentile \d+\.\d{3}-\d+\.\d{3}\)$/m);
    }
    const bad = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", `${root}bench/ab.ts`, "--mode", "everything"],
      stdout: "null",
      stderr: "piped",
    }).output();
    assert.equal(bad.success, false);
    assert.match(new TextDecoder().decode(bad.stderr), /--mode must be decode, analysis or names/);
    const after =
      [...Deno.readDirSync(Deno.env.get("TMPDIR") ?? "/tmp")].filter((e) => e.name.startsWith("plumbum-ab-"))
        .length;
    assert.equal(after, before, "temporary exports are removed");
  },
});

function hasTshark(): boolean {
  try {
    return new Deno.Command("tshark", { args: ["--version"], stdout: "null", stderr: "null" }).outputSync().success;
  } catch {
    return false;
  }
}

Deno.test("deno task bench runs end to end on a small capture: every row, the machine probe, the targets", async () => {
  const { ingestFile } = await import("../src/ingest/source.ts");
  const out = Deno.makeTempDirSync({ prefix: "plumbum-bench-" });
  const tshark = hasTshark();
  if (!tshark) console.error("bench test: tshark missing, its row is left out (CI installs it)");
  try {
    const sample = `${root}fixtures/sample.pcap`;
    const o = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", `${root}bench/bench.ts`],
      env: {
        PLUMBUM_BENCH_MB: "2",
        PLUMBUM_BENCH_RUNS: "1",
        PLUMBUM_BENCH_OUT: out,
        PLUMBUM_BENCH_SOURCE: sample,
        PLUMBUM_BENCH_TUNNEL_MB: "0.25",
        PLUMBUM_BENCH_MCP_DOMAINS: "2000",
        PLUMBUM_BENCH_MCP_CALLS: "20",
        ...(tshark ? {} : { PLUMBUM_BENCH_SKIP_TSHARK: "1" }),
      },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(o.stdout);
    assert.ok(o.success, new TextDecoder().decode(o.stderr));
    // The MCP server's latency rows, for the bench capture's workspace and one of many domains.
    assert.match(text, /^bench capture's workspace .*: \d+ domains; startup \d+ ms; peak RSS \d+ MB$/m);
    assert.match(text, /^2000 domains: 2000 domains; startup \d+ ms; peak RSS \d+ MB$/m);
    assert.equal(text.match(/^ {2}plumbum_(query|explain) +p50 +\d+\.\d ms {2}p99 +\d+\.\d ms$/gm)?.length, 4);
    // The capture is whole copies of the sample, and decoding it finds every copy's transactions.
    const copies = Number(text.match(/\((\d+) copies\)/)![1]);
    const single = await ingestFile(sample);
    const one = single.transactions;
    assert.ok(copies >= 2);
    assert.match(text, new RegExp(`^transactions decoded: ${copies * one}, malformed: 0$`, "m"));
    // Each copy is a stretch of time of its own, after the one before.
    const whole = await ingestFile(`${out}/bench.pcap`);
    const span = single.last_ts! - single.first_ts!;
    assert.equal(whole.first_ts, single.first_ts);
    assert.ok(whole.last_ts! - whole.first_ts! > copies * span, `copies overlap: ${whole.first_ts}..${whole.last_ts}`);
    const number = String.raw`\d+\.\d\d`;
    assert.match(
      text,
      new RegExp(`^\\| plumbum decode → transactions \\(median of ${tshark ? 2 : 1}\\) \\| ${number} \\|`, "m"),
    );
    assert.match(text, /^\| plumbum apply \(ingest\+analysis\+SQLite; median of 1\) \| /m);
    assert.equal(/^\| tshark -T fields/m.test(text), tshark);
    // The unique-name tunnel capture: its rows, and every exchange in it a transaction with a name of its own.
    const exchanges = Number(text.match(/^Building the unique-name tunnel capture \((\d+) exchanges\)/m)![1]);
    assert.match(text, /^\| plumbum decode, unique-name tunnels, [\d.]+ [KM]B \(median of 1\) \| /m);
    assert.match(text, /^\| plumbum apply, unique-name tunnels, [\d.]+ [KM]B \(median of 1\) \| /m);
    const names = new Set<string>();
    const tunnels = await ingestFile(`${out}/tunnel.pcap`, { onTransaction: (tx) => void names.add(tx.queryKey) });
    assert.equal(tunnels.transactions, exchanges);
    assert.equal(tunnels.malformed, 0);
    assert.equal(names.size, exchanges);
    assert.equal(/^decode speed-up over tshark: [\d.]+× \(target ≥ 25×\)$/m.test(text), tshark);
    assert.match(
      text,
      new RegExp(
        `^machine probe \\(lower is faster\\): integer loop \\d+ ms \\(start\\), ${
          tshark ? String.raw`\d+ ms \(after tshark\), ` : ""
        }\\d+ ms \\(end\\); random reads \\d+ ms \\(start\\), `,
        "m",
      ),
    );
    assert.match(
      text,
      /^decode throughput: \d+ MB\/s \(target ≥ 300 MB\/s\), peak RSS [\d.]+ MB \(target < 200 MB\)$/m,
    );
    assert.match(
      text,
      new RegExp(
        String.raw`^apply throughput: \d+ MB/s \(target ≥ 150 MB/s\), peak RSS [\d.]+ MB \(target < 300 MB\), ` +
          String.raw`database [\d.]+ [KM]B \(${copies * one} transactions\)$`,
        "m",
      ),
    );
    assert.match(text, /^apply, unique-name tunnels: database [\d.]+ [KM]B$/m);
    assert.ok(Deno.statSync(`${out}/bench.pcap`).size >= 2 * 1024 * 1024);
  } finally {
    Deno.removeSync(out, { recursive: true });
  }
});

Deno.test("no import circle among Plumbum's modules (tools/cycles.ts, also in deno task check)", async () => {
  const o = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-read",
      "--allow-run",
      "--allow-env",
      new URL("../tools/cycles.ts", import.meta.url).pathname,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(o.code, 0, new TextDecoder().decode(o.stderr));
  assert.match(new TextDecoder().decode(o.stdout), /^no import circle among \d+ modules/);
});

Deno.test("deno task bench:dnstap: the same exchanges as a pcap and as dnstap decode to the same transactions", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const o = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", new URL("../bench/dnstap.ts", import.meta.url).pathname, "3000"],
      env: { PLUMBUM_BENCH_DIR: dir, NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const out = new TextDecoder().decode(o.stdout);
    assert.ok(o.success, new TextDecoder().decode(o.stderr));
    const rows = out.split("\n").filter((l) => l.startsWith("| plumbum"));
    assert.equal(rows.length, 2, out);
    // Every exchange once from either input (the resolver's own queries left out).
    for (const r of rows) assert.equal(r.split("|")[6].trim(), "3000", r);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deno task bench:scale: the capture and the Zeek log of the same domains, through apply and the live path", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const o = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", new URL("../bench/scale.ts", import.meta.url).pathname, "2000"],
      env: { PLUMBUM_BENCH_DIR: dir, PLUMBUM_BENCH_SKIP_TSHARK: "1", NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const out = new TextDecoder().decode(o.stdout);
    assert.ok(o.success, new TextDecoder().decode(o.stderr));
    const rows = out.split("\n").filter((l) => l.startsWith("| 2000 |"));
    assert.deepEqual(rows.map((r) => r.split("|")[2].trim()), ["capture", "Zeek dns.log"], out);
    for (const r of rows) {
      assert.match(r, /^\| 2000 \| [^|]+ \| [\d.]+ [KM]B \| [\d.]+ \| [\d.]+ MB \| [\d.]+ \| [\d.]+ MB \|/, r);
    }
    // The log was followed to its last line and stopped there, every domain's one query stored.
    const runs = JSON.parse((await runCli(["runs", "--json", "--dir", `${dir}/ws-stream`])).stdout).runs;
    assert.equal(runs[0].status, "complete");
    assert.equal(runs[0].transactions, 2000);
    assert.equal(runs[0].live.follow, `${dir}/domains-2000.log`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("tools/compile.ts: every worker of src/workers.ts goes into every plumbum executable, for every target", async () => {
  const { compileCommands, workerModules } = await import("../tools/compile.ts");
  const { WORKER_MODULES } = await import("../src/workers.ts");
  const workers = workerModules(Deno.readTextFileSync(new URL("../src/workers.ts", import.meta.url)));
  assert.equal(workers.length, Object.keys(WORKER_MODULES).length);
  for (const w of workers) Deno.statSync(new URL(`../${w}`, import.meta.url));
  const all = compileCommands(true, workers);
  assert.equal(all.length, 10);
  for (const args of all.filter((a) => a.at(-1) === "cli.ts")) {
    assert.deepEqual(args.filter((_, i) => args[i - 1] === "--include"), workers);
    assert.ok(args.includes("--allow-ffi") && args.includes("--allow-net"));
  }
  assert.deepEqual(compileCommands(false, workers).map((a) => a[a.indexOf("-o") + 1]), [
    "dist/plumbum",
    "dist/plumbum-mcp",
  ]);
});
