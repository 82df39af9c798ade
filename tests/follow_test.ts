import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import { cliArgs, runCli } from "./helpers/cli.ts";
import { Proc } from "./helpers/netns.ts";

const HEADER =
  "#separator \\x09\n#path\tdns\n#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\ttrans_id\tquery\tqtype\trcode\n#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tcount\tstring\tcount\tcount\n";

let serial = 0;
/** `n` dns.log lines, each a new name under follow.test, one second apart. */
function lines(n: number): string {
  let out = "";
  for (let i = 0; i < n; i++) {
    const k = serial++;
    out += `${1_790_000_000 + k}\tC${k}\t10.9.0.1\t${20000 + k}\t10.9.0.53\t53\tudp\t${k}\tn${k}.follow.test\t1\t0\n`;
  }
  return out;
}

Deno.test("stream --follow: a growing dns.log through rename, gzip of the old file and copy-truncate, each line once", async () => {
  const dir = await Deno.makeTempDir();
  const log = `${dir}/dns.log`;
  await Deno.writeTextFile(log, HEADER + lines(10));
  const stream = new Proc(
    Deno.execPath(),
    cliArgs(["stream", "--follow", log, "--window", "60", "--dir", `${dir}/ws`]),
    {
      NO_COLOR: "1",
    },
  );
  const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
  try {
    assert.ok(await stream.until(() => stream.stderr.includes("Ctrl-C stops"), 20_000), stream.stderr);
    assert.match(stream.stderr, /following .*dns\.log: run #1/);
    // Lines written as the log grows, some in pieces.
    await Deno.writeTextFile(log, lines(5), { append: true });
    const partial = lines(1);
    await Deno.writeTextFile(log, partial.slice(0, 20), { append: true });
    await pause(400);
    await Deno.writeTextFile(log, partial.slice(20) + lines(4), { append: true });
    await pause(400);
    // Rotation by rename: the writer finishes the old file, a new one takes the path, the old one is compressed.
    await Deno.rename(log, `${dir}/dns.1.log`);
    await Deno.writeTextFile(`${dir}/dns.1.log`, lines(5), { append: true });
    await Deno.writeTextFile(log, HEADER + lines(10));
    await pause(1500);
    await Deno.writeFile(`${dir}/dns.1.log.gz`, gzipSync(await Deno.readFile(`${dir}/dns.1.log`)));
    await Deno.remove(`${dir}/dns.1.log`);
    await Deno.writeTextFile(log, lines(5), { append: true });
    await pause(800);
    // Copy-truncate: the path's file copied, then emptied, then written from its start.
    await Deno.copyFile(log, `${dir}/dns.2.log`);
    await Deno.truncate(log, 0);
    await pause(800);
    await Deno.writeTextFile(log, HEADER + lines(10));
    await pause(1000);
    stream.signal("SIGINT");
    assert.equal((await stream.done).code, 0, stream.stderr);
    // 10 + 5 + 5 + 5 + 10 + 5 + 10 lines, each once.
    assert.match(stream.stderr, /Stored run #1: \d+ lines, 50 DNS transactions, 0 malformed/);
    const runs = JSON.parse((await runCli(["runs", "--json", "--dir", `${dir}/ws`])).stdout).runs;
    assert.equal(runs[0].status, "complete");
    assert.equal(runs[0].transactions, 50);
    assert.equal(runs[0].live.follow, log);
    assert.equal(runs[0].live.files, 2);
    assert.equal(runs[0].live.truncations, 1);
    const show = JSON.parse((await runCli(["show", "follow.test", "--json", "--dir", `${dir}/ws`])).stdout);
    assert.equal(show.features.query_count, 50);
  } finally {
    stream.signal("SIGKILL");
    await stream.done;
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("stream --follow: a file that is no log, or is missing, is one sentence, exit 1", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeFile(`${dir}/x.pcap`, new Uint8Array(4096).fill(7));
    const bad = await runCli(["stream", "--follow", `${dir}/x.pcap`, "--dir", `${dir}/ws`]);
    assert.equal(bad.code, 1, bad.stderr);
    assert.match(bad.stderr, /is not a Zeek dns\.log nor a BIND or Unbound query log: --follow reads growing logs/);
    const missing = await runCli(["stream", "--follow", `${dir}/none.log`, "--dir", `${dir}/ws`]);
    assert.equal(missing.code, 1, missing.stderr);
    assert.match(missing.stderr, /none\.log does not exist/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("stream --follow --count N: stops by itself after the log's N-th DNS line, the lines after it not read", async () => {
  const dir = await Deno.makeTempDir();
  const log = `${dir}/dns.log`;
  try {
    await Deno.writeTextFile(log, HEADER + lines(50));
    const r = await runCli(["stream", "--follow", log, "--count", "20", "--dir", `${dir}/ws`]);
    assert.equal(r.code, 0, r.stderr);
    // The header's four lines are read and not counted: 24 lines, 20 of them DNS.
    assert.match(r.stderr, /Stored run #1: 24 lines, 20 DNS transactions, 0 malformed/);
    const runs = JSON.parse((await runCli(["runs", "--json", "--dir", `${dir}/ws`])).stdout).runs;
    assert.equal(runs[0].status, "complete");
    assert.equal(runs[0].transactions, 20);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
