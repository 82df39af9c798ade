/**
 * The SQLite store, for real: WAL, versioned schema, and an `apply` killed
 * with SIGKILL mid-way that leaves the previous run served and the file sound.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { SCHEMA_VERSION, Store } from "../src/store/store.ts";
import { runCli } from "./helpers/cli.ts";
import { fromFileUrl } from "./helpers/paths.ts";

const root = fromFileUrl(new URL("../", import.meta.url));
const sample = `${root}fixtures/sample.pcap`;
const cli = `${root}cli.ts`;

Deno.test("store: WAL mode, schema version, a run's lifecycle, failed runs never become the latest", () => {
  const dir = Deno.makeTempDirSync();
  const s = Store.open(`${dir}/p.db`);
  assert.equal((s.db.prepare("PRAGMA journal_mode").get() as { journal_mode: string }).journal_mode, "wal");
  assert.equal(s.schemaVersion(), SCHEMA_VERSION);
  const a = s.startRun({ x: 1 });
  s.completeRun(a, { sources: [], findings: [], transactions: 0, timings: {} });
  const b = s.startRun({ x: 2 });
  assert.equal(s.run()!.id, a, "a running run is not the latest result");
  s.failRun(b, "boom");
  assert.equal(s.run()!.id, a);
  assert.equal(s.run(b)!.status, "failed");
  s.close();
  // Reopening migrates nothing and keeps the data.
  const again = Store.open(`${dir}/p.db`);
  assert.equal(again.runs().length, 2);
  assert.equal(again.integrityCheck(), "ok");
  again.close();
  // A file from a newer Plumbum is refused with a clear message.
  const raw = new DatabaseSync(`${dir}/p.db`);
  raw.exec(`PRAGMA user_version = ${SCHEMA_VERSION + 1}`);
  raw.close();
  assert.throws(() => Store.open(`${dir}/p.db`), /newer than this Plumbum/);
  Deno.removeSync(dir, { recursive: true });
});

/** Build a capture of about `mb` MB by repeating the sample with shifted times. */
function bigCapture(path: string, mb: number): void {
  const src = Deno.readFileSync(sample);
  const dv = new DataView(src.buffer);
  const body = src.subarray(24);
  const copies = Math.ceil((mb * 1024 * 1024) / body.length);
  const f = Deno.openSync(path, { write: true, create: true, truncate: true });
  f.writeSync(src.subarray(0, 24));
  const chunk = body.slice();
  const cdv = new DataView(chunk.buffer);
  for (let c = 0; c < copies; c++) {
    for (let o = 0; o + 16 <= chunk.length;) {
      cdv.setUint32(o, dv.getUint32(24 + o, true) + c * 60, true);
      o += 16 + cdv.getUint32(o + 8, true);
    }
    let off = 0;
    while (off < chunk.length) off += f.writeSync(chunk.subarray(off));
  }
  f.close();
}

Deno.test("apply killed with SIGKILL mid-way: integrity ok, the previous run is still served, the interrupted one shows as failed", async () => {
  const cwd = Deno.makeTempDirSync({ prefix: "plumbum-kill-" });
  const first = await runCli(["apply", sample], undefined, { cwd });
  assert.equal(first.code, 0, first.stderr);
  const before = (await runCli(["export", "--format", "json"], undefined, { cwd })).stdout;
  const big = `${cwd}/big.pcap`;
  bigCapture(big, 48);
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", "--v8-flags=--max-semi-space-size=4", "-A", cli, "apply", big],
    cwd,
    stdout: "null",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  // A reader watches while the writer works (WAL: neither blocks the other);
  // kill once the second run has committed some transactions.
  const reader = new DatabaseSync(`${cwd}/.plumbum/plumbum.db`, { readOnly: true });
  let killedMidway = false;
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const row = reader.prepare(
      "SELECT r.status, (SELECT count(*) FROM transactions t WHERE t.run_id = r.id) AS n FROM runs r WHERE r.id = 2",
    ).get() as { status: string; n: number } | undefined;
    if (row !== undefined && row.status === "running" && row.n > 0) {
      child.kill("SIGKILL");
      killedMidway = true;
      break;
    }
    if (row !== undefined && row.status !== "running") break;
    await new Promise((r) => setTimeout(r, 20));
  }
  reader.close();
  const status = await child.status;
  await child.stderr.cancel();
  assert.ok(killedMidway, "the apply was still running with committed batches when killed");
  assert.equal(status.signal, "SIGKILL");
  // The file is sound and the previous run is still what readers get.
  const db = new DatabaseSync(`${cwd}/.plumbum/plumbum.db`);
  assert.equal((db.prepare("PRAGMA integrity_check").get() as { integrity_check: string }).integrity_check, "ok");
  db.close();
  const after = (await runCli(["export", "--format", "json"], undefined, { cwd })).stdout;
  assert.equal(after, before);
  const show = await runCli(["show", "vale-flow.test", "--json"], undefined, { cwd });
  assert.equal(JSON.parse(show.stdout).run, 1);
  const runs = JSON.parse((await runCli(["runs", "--json"], undefined, { cwd })).stdout).runs as {
    id: number;
    status: string;
    error: string;
  }[];
  assert.equal(runs[0].id, 2);
  assert.equal(runs[0].status, "failed");
  assert.match(runs[0].error, /interrupted/);
  // And the next apply works and becomes the latest.
  const third = await runCli(["apply", sample], undefined, { cwd });
  assert.equal(third.code, 0, third.stderr);
  assert.match(third.stdout, /run #3/);
  Deno.removeSync(cwd, { recursive: true });
});
