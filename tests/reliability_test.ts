/**
 * Nothing a user or an input does may destroy the workspace, exhaust memory
 * or hang: each case a hostile operator found, reproduced for real (a full
 * tmpfs, a second PID namespace, generated bombs, symlinks). Peak memory is
 * read from /proc while the child runs; nothing here times anything.
 */
import assert from "node:assert/strict";
import { runCli } from "./helpers/cli.ts";
import { fromFileUrl } from "./helpers/paths.ts";
import { bigCapture } from "./helpers/build.ts";
import { checkOutput, openOutput, OutputRefused } from "../src/workspace/output.ts";
import { checkPermissionTable } from "./helpers/permissions.ts";

const sample = fromFileUrl(new URL("../fixtures/sample.pcap", import.meta.url));
const cli = fromFileUrl(new URL("../cli.ts", import.meta.url));
const root = Deno.build.os === "linux" && Deno.uid() === 0;
const has = (cmd: string) =>
  new Deno.Command("sh", { args: ["-c", `command -v ${cmd}`], stdout: "null", stderr: "null" }).outputSync().success;

async function ws(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "plumbum-rel-" });
  const r = await runCli(["apply", sample, "--dir", `${dir}/.plumbum`]);
  assert.equal(r.code, 0, r.stderr);
  return dir;
}

/** Run `plumbum ARGS` and read its peak RSS (MB) from /proc while it runs. */
async function peak(
  args: string[],
  cwd?: string,
): Promise<{ code: number; stderr: string; stdout: string; mb: number }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", "--v8-flags=--max-semi-space-size=4,--heap-growing-percent=50", "-A", cli, ...args],
    stdout: "piped",
    stderr: "piped",
    cwd,
    env: { NO_COLOR: "1" },
  }).spawn();
  let kb = 0;
  const poll = setInterval(() => {
    try {
      const m = Deno.readTextFileSync(`/proc/${child.pid}/status`).match(/VmHWM:\s+(\d+)/);
      if (m) kb = Math.max(kb, Number(m[1]));
    } catch { /* gone */ }
  }, 20);
  const o = await child.output();
  clearInterval(poll);
  const dec = new TextDecoder();
  return { code: o.code, stdout: dec.decode(o.stdout), stderr: dec.decode(o.stderr), mb: kb / 1024 };
}

Deno.test("export -o never writes onto the workspace's own files (by path, ../, symlink); bad targets are sentences", async () => {
  const dir = await ws();
  const w = `${dir}/.plumbum`;
  try {
    const before = await Deno.readFile(`${w}/plumbum.db`);
    await Deno.symlink(`${w}/plumbum.db`, `${dir}/link.json`);
    for (const target of [`${w}/plumbum.db`, `${w}/../.plumbum//plumbum.db`, `${w}/config.hcl`, `${dir}/link.json`]) {
      const r = await runCli(["export", "-o", target, "--dir", w]);
      assert.equal(r.code, 1, target);
      assert.match(
        r.stderr,
        /is the workspace's own (plumbum\.db|config\.hcl); writing the export there would destroy it/,
      );
    }
    assert.deepEqual(await Deno.readFile(`${w}/plumbum.db`), before);
    assert.equal((await runCli(["runs", "--dir", w])).code, 0);
    const missing = await runCli(["export", "-o", "/nonexistent/dir/x.json", "--dir", w]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /-o: \/nonexistent\/dir\/x.json is in a folder that does not exist; make it first/);
    const folder = await runCli(["export", "-o", dir, "--dir", w]);
    assert.equal(folder.code, 1);
    assert.match(folder.stderr, /is a folder; give a file name in it/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("user and environment errors are sentences, exit 1: --dir a file, a corrupt or emptied database, stdout full", async () => {
  const dir = await Deno.makeTempDir({ prefix: "plumbum-rel-" });
  try {
    const file = `${dir}/plain.txt`;
    await Deno.writeTextFile(file, "x");
    const d = await runCli(["runs", "--dir", file]);
    assert.equal(d.code, 1);
    assert.match(d.stderr, /--dir: .* is a file, not a workspace folder/);
    await Deno.mkdir(`${dir}/corrupt`);
    await Deno.writeTextFile(`${dir}/corrupt/plumbum.db`, "not sqlite at all, just words\n".repeat(100));
    for (const args of [["apply", sample], ["runs"]]) {
      const r = await runCli([...args, "--dir", `${dir}/corrupt`]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /is not a Plumbum database/);
    }
    await Deno.mkdir(`${dir}/emptied`);
    await Deno.writeFile(`${dir}/emptied/plumbum.db`, new Uint8Array());
    for (const args of [["apply", sample], ["runs"]]) {
      const r = await runCli([...args, "--dir", `${dir}/emptied`]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /is empty \(0 bytes\): it holds no results; move it away/);
    }
    assert.equal((await Deno.stat(`${dir}/emptied/plumbum.db`)).size, 0, "the emptied file stays as it was");
    const w = `${dir}/ok`;
    assert.equal((await runCli(["apply", sample, "--dir", w])).code, 0);
    const full = await new Deno.Command("sh", {
      args: ["-c", `'${Deno.execPath()}' run --quiet -A '${cli}' export --dir '${w}' > /dev/full`],
      stderr: "piped",
    }).output();
    assert.equal(full.code, 1);
    assert.match(new TextDecoder().decode(full.stderr), /cannot write to standard output: No space left on device/);
    const run = await runCli(["show", "x.test", "--run", "9007199254740993", "--dir", w]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /--run: "9007199254740993" is not a run number/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: `decompression bombs stay in bounded memory: gzip of 1 GB of zeros, a gzip Zeek log of one 600 MB line${
    has("gzip") ? "" : " (skipped: needs gzip)"
  }`,
  ignore: !has("gzip"),
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "plumbum-bomb-" });
    try {
      const sh = (script: string) => new Deno.Command("sh", { args: ["-c", script], cwd: dir }).outputSync();
      sh("head -c 1G /dev/zero | gzip -1 > zeros.gz");
      sh(
        `(printf '#separator \\\\x09\\n#fields\\tts\\tuid\\tid.orig_h\\tid.orig_p\\tid.resp_h\\tid.resp_p\\tproto\\ttrans_id\\tquery\\n'; head -c 600M /dev/zero | tr '\\0' a) | gzip -1 > line.log.gz`,
      );
      const zeros = await peak(["validate", `${dir}/zeros.gz`]);
      assert.equal(zeros.code, 1);
      assert.match(zeros.stderr, /not a PCAP, pcapng, dnstap or Zeek dns\.log file/);
      assert.ok(zeros.mb < 300, `zeros: ${zeros.mb.toFixed(0)} MB`);
      const line = await peak(["validate", `${dir}/line.log.gz`]);
      assert.equal(line.code, 0, line.stderr);
      assert.match(line.stdout, /line longer than 1 MiB/);
      assert.ok(line.mb < 300, `long line: ${line.mb.toFixed(0)} MB`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("a damaged gzip decodes what precedes the damage and counts the rest, located", async () => {
  const dir = await Deno.makeTempDir({ prefix: "plumbum-gz-" });
  try {
    const gz = new Uint8Array(
      await new Response(new Blob([await Deno.readFile(sample)]).stream().pipeThrough(new CompressionStream("gzip")))
        .arrayBuffer(),
    );
    await Deno.writeFile(`${dir}/cut.pcap.gz`, gz.subarray(0, gz.length >> 1));
    const cut = JSON.parse((await runCli(["validate", "--json", `${dir}/cut.pcap.gz`])).stdout).files[0];
    assert.ok(cut.packets > 500, `${cut.packets} packets`);
    assert.ok(cut.malformed >= 1);
    assert.ok(
      Object.keys(cut.malformed_reasons ?? {}).some((r) =>
        /gzip data is damaged or cut short near compressed byte/.test(r)
      ),
      JSON.stringify(cut),
    );
    await Deno.writeFile(`${dir}/tail.pcap.gz`, new Uint8Array([...gz, ...new TextEncoder().encode("trailing junk")]));
    const tail = JSON.parse((await runCli(["validate", "--json", `${dir}/tail.pcap.gz`])).stdout).files[0];
    assert.ok(tail.packets >= 3000, `${tail.packets} packets`);
    const applied = await runCli(["apply", `${dir}/cut.pcap.gz`, "--dir", `${dir}/w`]);
    assert.equal(applied.code, 0, applied.stderr);
    assert.match(applied.stderr, /malformed packets or lines skipped/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a pcap record header that lies is skipped: the reader finds the next valid record and says how much it skipped", async () => {
  const dir = await Deno.makeTempDir({ prefix: "plumbum-resync-" });
  try {
    const b = await Deno.readFile(sample);
    const dv = new DataView(b.buffer);
    let p = 24;
    for (let i = 0; i < 100; i++) p += 16 + dv.getUint32(p + 8, true);
    dv.setUint32(p + 8, 0xfffffff0, true);
    await Deno.writeFile(`${dir}/bad.pcap`, b);
    const v = JSON.parse((await runCli(["validate", "--json", `${dir}/bad.pcap`])).stdout).files[0];
    assert.equal(v.packets, 3082, "every packet but the one whose header lies");
    assert.equal(v.malformed, 1);
    assert.match(
      Object.keys(v.malformed_reasons)[0],
      /claims 4294967280 captured bytes .*; \d+ bytes skipped to the next valid record/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("config.hcl: endless or huge files are refused; weights that make no score are refused with the key and the fix", async () => {
  const dir = await ws();
  const w = `${dir}/.plumbum`;
  try {
    const original = await Deno.readTextFile(`${w}/config.hcl`);
    await Deno.remove(`${w}/config.hcl`);
    await Deno.symlink("/dev/zero", `${w}/config.hcl`);
    const zero = await peak(["apply", sample, "--dir", w]);
    assert.equal(zero.code, 1);
    assert.match(zero.stderr, /config\.hcl is not a regular file/);
    assert.ok(zero.mb < 300, `${zero.mb} MB`);
    await Deno.remove(`${w}/config.hcl`);
    await Deno.writeTextFile(`${w}/config.hcl`, original + `\n# ${"x".repeat(300 << 10)}\n`);
    const huge = await runCli(["apply", sample, "--dir", w]);
    assert.equal(huge.code, 1);
    assert.match(huge.stderr, /config\.hcl is over 256 KB: a config is a few kilobytes/);
    const weights = (body: string) => `analysis {\n  weight_preset = "tunnel"\n${body}\n}\n`;
    const cases: [string, RegExp][] = [
      [
        weights(
          "  name_information_weight = 0\n  payload_types_weight = 0\n  answer_variety_weight = 0\n  name_uniqueness_weight = 0\n  client_concentration_weight = 0\n  persistence_weight = 0",
        ),
        /every weight of the analysis block is 0, so every domain would score 0; give at least one feature a weight above 0/,
      ],
      [
        weights("  name_information_weight = 1e308\n  payload_types_weight = 1e308"),
        /the weights add up past what a number can hold/,
      ],
      [
        weights("  capacity_weight = 1e400"),
        /analysis\.capacity_weight must be a finite number, not Infinity \(too large\)/,
      ],
    ];
    for (const [text, re] of cases) {
      await Deno.writeTextFile(`${w}/config.hcl`, text);
      const r = await runCli(["apply", sample, "--dir", w]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, re);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: `a full disk: one sentence saying so, exit 1, the previous run still served${
    root ? "" : " (skipped: needs root for a tmpfs)"
  }`,
  ignore: !root,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "plumbum-full-" });
    const mount = (...a: string[]) => new Deno.Command(a[0], { args: a.slice(1) }).outputSync();
    assert.ok(mount("mount", "-t", "tmpfs", "-o", "size=700k", "tmpfs", dir).success);
    try {
      const small = `${dir}/tiny.pcap`;
      // A first run that fits, then one that cannot.
      const b = await Deno.readFile(sample);
      const dv = new DataView(b.buffer);
      let p = 24;
      for (let i = 0; i < 200; i++) p += 16 + dv.getUint32(p + 8, true);
      await Deno.writeFile(small, b.subarray(0, p));
      const first = await runCli(["apply", small, "--dir", `${dir}/w`]);
      assert.equal(first.code, 0, first.stderr);
      const full = await runCli(["apply", sample, "--dir", `${dir}/w`]);
      assert.equal(full.code, 1, full.stderr);
      assert.match(
        full.stderr,
        /^plumbum: the disk holding .*\/w\/ is full \(.*\): free some space there and run it again/m,
      );
      assert.doesNotMatch(full.stderr, /bug in Plumbum/);
      const runs = JSON.parse((await runCli(["runs", "--json", "--dir", `${dir}/w`])).stdout);
      assert.equal(runs.latest ?? runs.runs.find((r: { status: string }) => r.status === "complete").id, 1);
      assert.equal((await runCli(["export", "--format", "csv", "--dir", `${dir}/w`])).code, 0);
    } finally {
      mount("umount", dir);
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: `a writer in another PID namespace never takes a live run for dead${
    root && has("unshare") ? "" : " (skipped: needs root and unshare)"
  }`,
  ignore: !(root && has("unshare")),
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "plumbum-pidns-" });
    try {
      const big = `${dir}/big.pcap`;
      bigCapture(big, 120);
      const w = `${dir}/w`;
      assert.equal((await runCli(["init", "--dir", w])).code, 0);
      const apply = new Deno.Command(Deno.execPath(), {
        args: ["run", "--quiet", "-A", cli, "apply", big, "--dir", w, "--json"],
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      // Wait until the run is recorded, then write from a PID namespace of its own, where the PID means nothing.
      for (let i = 0; i < 200; i++) {
        const r = await runCli(["runs", "--json", "--dir", w]);
        if (r.code === 0 && JSON.parse(r.stdout).runs.length > 0) break;
        await new Promise((res) => setTimeout(res, 50));
      }
      const other = await new Deno.Command("unshare", {
        args: [
          "--pid",
          "--fork",
          "--mount-proc",
          Deno.execPath(),
          "run",
          "--quiet",
          "-A",
          cli,
          "apply",
          sample,
          "--dir",
          w,
        ],
        stdout: "null",
        stderr: "piped",
      }).output();
      assert.equal(other.code, 0, new TextDecoder().decode(other.stderr));
      const o = await apply.output();
      assert.equal(o.code, 0, new TextDecoder().decode(o.stderr));
      const runs = JSON.parse((await runCli(["runs", "--json", "--dir", w])).stdout).runs as {
        id: number;
        status: string;
        transactions: number;
      }[];
      const first = runs.find((r) => r.id === 1)!;
      assert.equal(first.status, "complete");
      const whole = JSON.parse((await runCli(["validate", "--json", big])).stdout).files[0].transactions;
      assert.equal(first.transactions, whole, "every transaction of the live run stayed");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

const corpus = fromFileUrl(new URL("../../shared/corpus/", import.meta.url));
const hasCorpus = (() => {
  try {
    return Deno.statSync(corpus).isDirectory;
  } catch {
    return false;
  }
})();
Deno.test({
  name: `fuzz pass: every corpus capture corrupted (editcap -E 0.01) and cut, 5 seeds, never a crash${
    has("editcap") && hasCorpus ? "" : " (skipped: needs editcap and ../shared/corpus)"
  }`,
  ignore: !(has("editcap") && hasCorpus),
  fn: async () => {
    const o = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", fromFileUrl(new URL("../bench/fuzz.ts", import.meta.url)), "--seeds", "5"],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(o.stdout);
    assert.equal(o.code, 0, new TextDecoder().decode(o.stderr) + text);
    const m = text.match(/^fuzz: (\d+) decoded, (\d+) refused as input errors, 0 failures; peak RSS (\d+) MB$/m);
    assert.ok(m !== null, text);
    assert.ok(Number(m[1]) + Number(m[2]) >= 100, text);
  },
});

Deno.test("openOutput: a protected file is refused by the inode it is (symlink, hard link) and left whole; others are emptied", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const db = `${dir}/plumbum.db`;
    Deno.writeTextFileSync(db, "precious");
    Deno.symlinkSync(db, `${dir}/sym.csv`);
    Deno.linkSync(db, `${dir}/hard.csv`);
    const o = { option: "-o", what: "the export", shown: "X" };
    for (const p of [db, `${dir}/sym.csv`, `${dir}/hard.csv`, `${dir}/../${dir.split("/").pop()}/plumbum.db`]) {
      assert.throws(() => openOutput(p, [db], o), (e: Error) => {
        assert.ok(e instanceof OutputRefused);
        assert.equal(
          e.message,
          "-o: X is the workspace's own plumbum.db; writing the export there would destroy it: pick another file",
        );
        return true;
      });
    }
    assert.equal(Deno.readTextFileSync(db), "precious");
    Deno.writeTextFileSync(`${dir}/old.csv`, "a longer old content");
    const f = openOutput(`${dir}/old.csv`, [db], o);
    f.writeSync(new TextEncoder().encode("new"));
    f.close();
    assert.equal(Deno.readTextFileSync(`${dir}/old.csv`), "new");
    assert.throws(() => openOutput(dir, [db], o), /-o: X is a folder; give a file name in it/);
    assert.throws(() => openOutput(`${dir}/no/such.csv`, [db], o), /-o: X is in a folder that does not exist/);
    assert.throws(() => checkOutput(`${dir}/hard.csv`, [db], o), OutputRefused);
    assert.throws(() => checkOutput(dir, [db], o), /is a folder/);
    checkOutput(`${dir}/new.csv`, [db], o);
    openOutput("/dev/null", [db], o).close();
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test({
  name: `stream on a full disk (a 600 KB tmpfs): one sentence, exit 1, the run marked failed${
    root ? "" : " (skipped: needs root on Linux to mount a small tmpfs)"
  }`,
  ignore: !root,
  fn: async () => {
    const mnt = await Deno.makeTempDir({ prefix: "plumbum-full-" });
    const mount = new Deno.Command("mount", { args: ["-t", "tmpfs", "-o", "size=600k", "tmpfs", mnt], stderr: "piped" })
      .outputSync();
    assert.ok(mount.success, new TextDecoder().decode(mount.stderr));
    try {
      const lab = fromFileUrl(new URL("../fixtures/lab/lab-resolver.pcap", import.meta.url));
      const r = await runCli(["stream", "--read", lab, "--window", "5", "-q", "--dir", `${mnt}/w`]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(
        r.stderr,
        /plumbum: the disk holding .*\/w\/ is full \(.*\): free some space there and run it again/,
      );
      assert.doesNotMatch(r.stderr, /bug|\.ts:\d+/);
      const runs = await runCli(["runs", "--json", "--dir", `${mnt}/w`]);
      assert.equal(JSON.parse(runs.stdout).runs[0].status, "failed");
    } finally {
      new Deno.Command("umount", { args: [mnt] }).outputSync();
      await Deno.remove(mnt, { recursive: true });
    }
  },
});

Deno.test("permissions: each command runs with the README's flags, and one flag less is one sentence naming it, exit 1", async () => {
  const dir = await ws();
  try {
    await checkPermissionTable(cli, `${dir}/.plumbum`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the package is publishable: MIT license in LICENSE and deno.json, no slow types (deno publish --dry-run)", async () => {
  const root = fromFileUrl(new URL("../", import.meta.url));
  assert.match(Deno.readTextFileSync(`${root}LICENSE`), /^MIT License/);
  assert.equal(JSON.parse(Deno.readTextFileSync(`${root}deno.json`)).license, "MIT");
  const o = await new Deno.Command(Deno.execPath(), {
    args: ["publish", "--dry-run", "--allow-dirty"],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(o.code, 0, new TextDecoder().decode(o.stderr).slice(-2000));
});

Deno.test("deno task eval without ../shared evaluates the lab's recordings and says what it skipped", async () => {
  const root = fromFileUrl(new URL("../", import.meta.url));
  const o = await new Deno.Command(Deno.execPath(), {
    args: ["task", "--quiet", "eval", "--json"],
    cwd: root,
    env: { PLUMBUM_SHARED: "/nonexistent/shared", NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(o.stderr);
  assert.equal(o.code, 0, stderr);
  assert.match(stderr, /eval: the shared corpus \(\/nonexistent\/shared\/corpus\/labels\.tsv\) is not here: skipped/);
  assert.match(stderr, /eval: the public tool captures .* is not here: skipped/);
  const report = JSON.parse(new TextDecoder().decode(o.stdout));
  assert.ok(report.captures.every((c: { file: string }) => c.file.startsWith("lab-")), JSON.stringify(report.captures));
  assert.ok(report.alone.tunnels >= 20, `${report.alone.tunnels} lab tunnels`);
  assert.equal(report.alone.benign_at_medium, 0);
});
