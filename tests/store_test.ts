/**
 * The SQLite store, for real: WAL, versioned schema, and an `apply` killed
 * with SIGKILL mid-way that leaves the previous run served and the file sound.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { INDEXED_PER_DOMAIN, MIGRATIONS, READ_TRANSACTIONS, SCHEMA_VERSION } from "../src/store/schema.ts";
import { Store } from "../src/store/store.ts";
import { TransactionInserter } from "../src/store/inserter.ts";
import { newBatch } from "../src/store/batch.ts";
import type { Transaction } from "../src/ingest/types.ts";
import { runCli } from "./helpers/cli.ts";
import { bigCapture } from "./helpers/build.ts";
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
  s.completeRun(a, { sources: [], findings: [], transactions: 0, timings: { ingest_secs: 1.5 } });
  // The run's timings keep what the caller measured and add how long storing them took.
  const timings = s.run(a)!.timings!;
  assert.deepEqual(Object.keys(timings).sort(), ["ingest_secs", "store_secs"]);
  assert.equal(timings.ingest_secs, 1.5);
  assert.ok(timings.store_secs > 0 && timings.store_secs < 60, `store_secs ${timings.store_secs}`);
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

Deno.test("store: a version-1 file migrates forward with its transactions (domains become numbers)", () => {
  const dir = Deno.makeTempDirSync();
  const path = `${dir}/p.db`;
  const raw = new DatabaseSync(path);
  raw.exec(MIGRATIONS[0]);
  raw.exec("PRAGMA user_version = 1");
  raw.exec("INSERT INTO runs (status, started_at, config) VALUES ('complete', 'then', '{}')");
  const ins = raw.prepare(
    "INSERT INTO transactions (run_id, ts, client, server, query, qtype, rcode, answers, domain) VALUES (1, ?, ?, ?, ?, 16, ?, ?, ?)",
  );
  ins.run(2, "10.0.0.1", "10.0.0.53", "b.x.test", null, 0, "x.test");
  ins.run(1, "10.0.0.1", "10.0.0.53", "a.x.test", 0, 1, "x.test");
  ins.run(3, "10.0.0.2", "10.0.0.53", "c.y.test", 3, 0, "y.test");
  raw.close();
  const s = Store.open(path);
  assert.equal(s.schemaVersion(), SCHEMA_VERSION);
  assert.deepEqual(s.transactions(1, "x.test").map((t) => [t.ts, t.query, t.rcode, t.answers]), [
    [1, "a.x.test", 0, 1],
    [2, "b.x.test", null, 0],
  ]);
  assert.deepEqual(s.transactions(1, "y.test").map((t) => t.query), ["c.y.test"]);
  // Addresses come through the hosts table (version 4) unchanged.
  assert.deepEqual(s.transactions(1, "x.test").map((t) => [t.client, t.server]), [
    ["10.0.0.1", "10.0.0.53"],
    ["10.0.0.1", "10.0.0.53"],
  ]);
  assert.deepEqual(s.transactions(1, "y.test").map((t) => [t.client, t.server]), [["10.0.0.2", "10.0.0.53"]]);
  assert.deepEqual(s.transactions(1, "z.test"), []);
  // Past the indexed rows, the run's rows are scanned: same answer.
  assert.deepEqual(s.transactions(1, "x.test", INDEXED_PER_DOMAIN + 1).map((t) => t.query), ["a.x.test", "b.x.test"]);
  assert.equal(s.integrityCheck(), "ok");
  s.close();
  Deno.removeSync(dir, { recursive: true });
});

/**
 * A workspace database as a Plumbum of schema `version` (4 or later) left it, with hosts 1 (10.0.0.1) and
 * 2 (10.0.0.53) and domain 1 (x.test); `raw` is open on it.
 */
function olderFile(version: number): { dir: string; path: string; raw: DatabaseSync } {
  const dir = Deno.makeTempDirSync();
  const path = `${dir}/plumbum.db`;
  const raw = new DatabaseSync(path);
  for (const m of MIGRATIONS.slice(0, version)) raw.exec(m);
  raw.exec(`PRAGMA user_version = ${version}`);
  raw.exec("INSERT INTO hosts (id, address) VALUES (1, '10.0.0.1'), (2, '10.0.0.53')");
  raw.exec("INSERT INTO domains (id, name) VALUES (1, 'x.test')");
  return { dir, path, raw };
}

Deno.test("store: a version-4 file keeps every query through version 5, each run's names once; the CLI says it upgrades", async () => {
  const { dir, path, raw } = olderFile(4);
  const ins = raw.prepare(
    `INSERT INTO transactions (id, run_id, ts, client_id, server_id, query, qtype, rcode, answers, domain_id, sampled)
     VALUES (?, ?, ?, 1, 2, ?, 16, 0, 1, 1, ?)`,
  );
  const n = 5000;
  const name = (run: number, k: number) => `${"a".repeat(200)}${(k * 7 + run) % 10}.x.test`;
  raw.exec("BEGIN");
  for (const run of [1, 2]) {
    raw.prepare("INSERT INTO runs (id, status, started_at, config) VALUES (?, 'complete', 'then', '{}')").run(run);
    for (let k = 0; k < n; k++) ins.run(run * 2 ** 32 + k, run, k, name(run, k), k < INDEXED_PER_DOMAIN ? 1 : 0);
  }
  raw.exec("COMMIT");
  raw.close();
  const before = usedBytes(path);
  // The first command says it upgrades the file (before the work), the next one has nothing to say.
  const first = await runCli(["runs", "--json", "--dir", dir]);
  assert.equal(first.code, 0, first.stderr);
  assert.equal(
    first.stderr,
    `Upgrading ${path} from schema 4 to ${SCHEMA_VERSION} (once; a large workspace takes a while) …\n`,
  );
  assert.deepEqual(JSON.parse(first.stdout).runs.map((r: { id: number }) => r.id), [2, 1]);
  const second = await runCli(["runs", "--json", "--dir", dir]);
  assert.equal(second.stderr, "");
  const s = Store.open(path);
  assert.equal(s.schemaVersion(), SCHEMA_VERSION);
  for (const run of [1, 2]) {
    const rows = s.transactions(run, "x.test", n);
    assert.equal(rows.length, n);
    rows.forEach((t, k) => assert.equal(t.query, name(run, k), `run ${run} row ${k}`));
    assert.deepEqual(
      s.transactions(run, "x.test").map((t) => t.query),
      rows.slice(0, INDEXED_PER_DOMAIN).map((t) => t.query),
    );
  }
  // Ten names a run, each stored once in the run's key range.
  const names = s.db.prepare("SELECT id, name FROM names ORDER BY id").all() as { id: number; name: string }[];
  assert.equal(names.length, 20);
  assert.ok(names.every((r) => r.id === (r.id >= 2 * 2 ** 32 ? 2 : 1) * 2 ** 32 + (r.id % 2 ** 32)));
  assert.equal(s.integrityCheck(), "ok");
  s.close();
  // The pages in use (the file keeps the pages the rewritten tables left free for later rows; Deno's
  // node:sqlite refuses VACUUM without --allow-all): the names are not copied once a row, so the data
  // shrinks (a copy a row would double it).
  const after = usedBytes(path);
  assert.ok(after < before, `${before} bytes in use before, ${after} after`);
  Deno.removeSync(dir, { recursive: true });
});

/** The bytes of a database file's pages in use (not on its free list). */
function usedBytes(path: string): number {
  const db = new DatabaseSync(path, { readOnly: true });
  const get = (pragma: string) => Object.values(db.prepare(`PRAGMA ${pragma}`).get()!)[0] as number;
  const used = (get("page_count") - get("freelist_count")) * get("page_size");
  db.close();
  return used;
}

function tx(i: number): Transaction {
  return {
    ts: 1000 + i,
    rtt: null,
    transport: "udp",
    service: "dns",
    client: `10.0.${i % 3}.1`,
    clientPort: 5000,
    server: "10.0.0.53",
    serverPort: 53,
    id: i & 0xffff,
    opcode: 0,
    query: `q${i}.d${i % 5}.test`,
    queryKey: `q${i}.d${i % 5}.test`,
    qtype: 16,
    qclass: 1,
    rcode: i % 2 === 0 ? 0 : null,
    aa: false,
    tc: false,
    rd: true,
    ra: false,
    z: 0,
    answers: [],
    hasQuery: true,
    hasResponse: i % 2 === 0,
    querySize: 40,
    responseSize: 0,
  };
}

Deno.test("store: a version-5 file's rows read the same after version 6 packs them; the writer's rows read back exactly", async () => {
  const { dir, path, raw } = olderFile(5);
  raw.exec("INSERT INTO runs (id, status, started_at, config) VALUES (1, 'complete', 'then', '{}')");
  const extremes = [0, 1, 16, 255, 4095, 65535];
  const rows: { ts: number; qtype: number; rcode: number | null; answers: number; sampled: number }[] = [];
  for (const qtype of extremes) {
    for (const rcode of [null, 0, 3, 15, 16, 4095]) {
      for (const answers of [0, 1, 4096, 65535, 1 << 20]) {
        rows.push({ ts: rows.length, qtype, rcode, answers, sampled: 1 });
      }
    }
  }
  rows.forEach((r, k) => r.sampled = k % 3 === 0 ? 0 : 1);
  const ins = raw.prepare(
    `INSERT INTO transactions (id, run_id, ts, client_id, server_id, query_id, qtype, rcode, answers, domain_id, sampled)
     VALUES (?, 1, ?, 1, 2, ?, ?, ?, ?, 1, ?)`,
  );
  raw.exec("BEGIN");
  rows.forEach((r, k) => {
    raw.prepare("INSERT INTO names (id, name) VALUES (?, ?)").run(2 ** 32 + k, `q${k}.x.test`);
    ins.run(2 ** 32 + k, r.ts, 2 ** 32 + k, r.qtype, r.rcode, r.answers, r.sampled);
  });
  raw.exec("COMMIT");
  raw.close();
  const s = Store.open(path);
  assert.equal(s.schemaVersion(), SCHEMA_VERSION);
  const read = (run: number) =>
    s.db.prepare("SELECT ts, qtype, rcode, answers, sampled FROM transactions_readable WHERE run_id = ? ORDER BY id")
      .all(run).map((r) => ({ ...r }));
  assert.deepEqual(read(1), rows);
  // The sampled rows are what the index serves.
  assert.deepEqual(s.transactions(1, "x.test").map((t) => t.ts), rows.filter((r) => r.sampled).map((r) => r.ts));
  // Rows the writer packs read back as they went in.
  const run = s.startRun({});
  const w = s.transactionWriter(run);
  const written: [number, number | null, number][] = [];
  for (const qtype of extremes) {
    for (const rcode of [null, 0, 15, 4095]) {
      for (const n of [0, 3, 4096]) {
        const t = tx(written.length);
        t.qtype = qtype;
        t.rcode = rcode;
        t.answers = Array.from(
          { length: n },
          () => ({ name: "x", type: 1, class: 1, ttl: 1, rdlength: 4, data: { kind: "address", address: "1.2.3.4" } }),
        );
        written.push([qtype, rcode, n]);
        w.add(t, "x.test");
      }
    }
  }
  assert.equal(await w.flush(), written.length);
  assert.deepEqual(read(run).map((r) => [r.qtype, r.rcode, r.answers]), written);
  assert.deepEqual(read(run).map((r) => r.sampled), written.map(() => 1));
  assert.equal(s.integrityCheck(), "ok");
  s.close();
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("store: the writer thread commits every row it is given, in batches, and reports its failures", async () => {
  const dir = Deno.makeTempDirSync();
  const s = Store.open(`${dir}/p.db`);
  const run = s.startRun({});
  const w = s.transactionWriter(run);
  const n = 20_000; // more than two batches, and a partial one
  for (let i = 0; i < n; i++) {
    w.add(tx(i), `d${i % 5}.test`);
    if (i % 4096 === 0) await w.ready();
  }
  assert.equal(await w.flush(), n);
  assert.equal(
    (s.db.prepare("SELECT count(*) AS c FROM transactions_readable WHERE run_id = ?").get(run) as { c: number }).c,
    n,
  );
  const d3 = s.transactions(run, "d3.test", n);
  assert.equal(d3.length, n / 5);
  assert.deepEqual({ ...d3[0] }, {
    ts: 1003,
    client: "10.0.0.1",
    server: "10.0.0.53",
    query: "q3.d3.test",
    qtype: 16,
    rcode: null,
    answers: 0,
  });
  // The first INDEXED_PER_DOMAIN rows of each domain are indexed; reading up to that many uses the index
  // and gives the same rows as the scan.
  const count = (sql: string, ...p: number[]) => (s.db.prepare(sql).get(...p) as { c: number }).c;
  assert.equal(
    count("SELECT count(*) AS c FROM transactions_readable WHERE run_id = ? AND sampled = 1", run),
    5 * INDEXED_PER_DOMAIN,
  );
  const first = s.transactions(run, "d3.test");
  assert.equal(first.length, INDEXED_PER_DOMAIN);
  assert.deepEqual(first.map((t) => t.query), d3.slice(0, INDEXED_PER_DOMAIN).map((t) => t.query));
  // The reader's own statements: the first rows through the partial index, the rest by the run's key range.
  const plan = (sql: string, ...p: (number | string)[]) =>
    (s.db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...p) as { detail: string }[]).map((r) => r.detail).join(" | ");
  assert.match(
    plan(READ_TRANSACTIONS.indexed, run * 2 ** 32, (run + 1) * 2 ** 32, "d3.test", 200, 0),
    /SEARCH transactions USING (COVERING )?INDEX transactions_sampled \(domain_id=\? AND id>\? AND id<\?\)/,
  );
  assert.match(
    plan(READ_TRANSACTIONS.scan, run * 2 ** 32, (run + 1) * 2 ** 32, "d3.test", 1000, 0),
    /SEARCH t USING INTEGER PRIMARY KEY \(rowid>\? AND rowid<\?\)/,
  );
  // A failed run's rows go, as one key range; another run's stay.
  const other = s.startRun({});
  const w3 = s.transactionWriter(other);
  w3.add(tx(7), "d2.test");
  assert.equal(await w3.flush(), 1);
  // Every name was new here: each is stored once, under the id of the row that asked it, in the run's range.
  assert.equal(
    count("SELECT count(*) AS c FROM names WHERE id >= ? AND id < ?", run * 2 ** 32, (run + 1) * 2 ** 32),
    n,
  );
  assert.equal(
    count(
      "SELECT count(*) AS c FROM transactions t JOIN names q ON q.id = t.query_id WHERE t.id >> 32 = ? AND t.id = q.id",
      run,
    ),
    n,
  );
  s.failRun(run, "test");
  assert.equal(count("SELECT count(*) AS c FROM transactions_readable WHERE run_id = ?", run), 0);
  assert.equal(
    count("SELECT count(*) AS c FROM names WHERE id >= ? AND id < ?", run * 2 ** 32, (run + 1) * 2 ** 32),
    0,
  );
  assert.deepEqual(s.transactions(other, "d2.test").map((t) => t.query), ["q7.d2.test"]);
  s.close();
  // A database without the table: the thread's error reaches flush().
  const bad = `${dir}/bad.db`;
  const made = new DatabaseSync(bad);
  made.exec("CREATE TABLE placeholder (x)");
  made.close();
  const s2 = Store.open(bad);
  s2.db.exec("DROP TABLE transactions");
  const w2 = s2.transactionWriter(1);
  w2.add(tx(1), "d1.test");
  await assert.rejects(w2.flush(), /storing transactions failed: .*no such table: transactions/);
  s2.close();
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("store: the writer holds ingest back by batches in flight and by the characters of their new texts", async () => {
  const dir = Deno.makeTempDirSync();
  const s = Store.open(`${dir}/p.db`);
  // Whether ready() has resolved before any reply of the writer thread could arrive (replies are messages:
  // they wait for the event loop, which nothing here yields to between the adds and the check).
  const readyNow = async (w: ReturnType<Store["transactionWriter"]>) => {
    let now = false;
    w.ready().then(() => now = true);
    // A few microtask turns: enough for a resolved promise's callbacks, never for a message.
    for (let i = 0; i < 5; i++) await null;
    return now;
  };
  const batch = 8192;
  const fill = (w: ReturnType<Store["transactionWriter"]>, batches: number, nameLength: number) => {
    for (let i = 0; i < batches * batch; i++) {
      const t = tx(i);
      t.query = t.queryKey = `${String(i).padStart(nameLength - 7, "a")}.x.test`;
      w.add(t, "x.test");
    }
  };
  // Two batches of short new names: far below both bounds.
  const short = s.transactionWriter(s.startRun({}));
  fill(short, 2, 20);
  assert.equal(await readyNow(short), true);
  assert.equal(await short.flush(), 2 * batch);
  // Three batches of 255-character new names (6.3 M characters, past 4 Mi): held back until the thread commits.
  const long = s.transactionWriter(s.startRun({}));
  fill(long, 3, 255);
  assert.equal(await readyNow(long), false);
  await long.ready();
  assert.equal(await long.flush(), 3 * batch);
  s.close();
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("store: a name asked again and again is stored once a run, and every row reads back its own", async () => {
  const dir = Deno.makeTempDirSync();
  const s = Store.open(`${dir}/p.db`);
  const count = (sql: string, ...p: number[]) => (s.db.prepare(sql).get(...p) as { c: number }).c;
  const name = (i: number) => `n${(i * 7) % 50}.d${i % 5}.test`;
  const runs: number[] = [];
  for (let r = 0; r < 2; r++) {
    const run = s.startRun({});
    runs.push(run);
    const w = s.transactionWriter(run);
    const n = 20_000; // three batches: names stored in one batch are referred to from the next
    for (let i = 0; i < n; i++) {
      w.add({ ...tx(i), query: name(i), queryKey: name(i) }, `d${i % 5}.test`);
      if (i % 4096 === 0) await w.ready();
    }
    assert.equal(await w.flush(), n);
    // 50 names, each stored once for this run, in its key range.
    assert.equal(
      count("SELECT count(*) AS c FROM names WHERE id >= ? AND id < ?", run * 2 ** 32, (run + 1) * 2 ** 32),
      50,
    );
    const d2 = s.transactions(run, "d2.test", n);
    assert.equal(d2.length, n / 5);
    d2.forEach((t, k) => assert.equal(t.query, name(5 * k + 2), `row ${k}`));
  }
  // Deleting the first run's rows takes its names only: the second still reads its own.
  s.failRun(runs[0], "test");
  assert.equal(count("SELECT count(*) AS c FROM names"), 50);
  assert.deepEqual(s.transactions(runs[1], "d1.test", 3).map((t) => t.query), [name(1), name(6), name(11)]);
  assert.equal(s.integrityCheck(), "ok");
  s.close();
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("store: texts travel to the writer thread once, and the shared table starting over keeps every row right", async () => {
  const dir = Deno.makeTempDirSync();
  const s = Store.open(`${dir}/p.db`);
  const run = s.startRun({});
  const w = s.transactionWriter(run);
  const n = 90_000; // more distinct names than the table holds (2^16): it starts over on the way
  // Clients and domains come in runs (as in captures) that span the start-over.
  const client = (i: number) => i % 7 === 0 ? `10.0.${i % 3}.1` : `10.1.${Math.floor(i / 1000) % 4}.1`;
  const domain = (i: number) => `d${Math.floor(i / 300) % 5}.test`;
  for (let i = 0; i < n; i++) {
    w.add({ ...tx(i), client: client(i) }, domain(i));
    if (i % 4096 === 0) await w.ready();
  }
  assert.equal(await w.flush(), n);
  const rows = s.db.prepare(
    "SELECT query, client, server, ts, domain FROM transactions_readable WHERE run_id = ? ORDER BY id",
  ).all(run) as { query: string; client: string; server: string; ts: number; domain: string }[];
  assert.equal(rows.length, n);
  for (let i = 0; i < n; i++) {
    const r = rows[i];
    if (
      r.query !== `q${i}.d${i % 5}.test` || r.client !== client(i) || r.server !== "10.0.0.53" || r.domain !== domain(i)
    ) {
      assert.fail(`row ${i}: ${JSON.stringify(r)}`);
    }
  }
  assert.equal(new Set(rows.map((r) => r.query)).size, n);
  s.close();
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("store: query names the decoder numbers (queryRef) are stored as themselves, across the table's start-over", async () => {
  const dir = Deno.makeTempDirSync();
  const s = Store.open(`${dir}/p.db`);
  const run = s.startRun({});
  const w = s.transactionWriter(run);
  // 70 000 names (past the 2^16 texts the shared table holds), asked twice over: the second time
  // after the table started over, so a number remembered from before must not be taken; numbers
  // 1 and 65 537 share their low 16 bits.
  const names = 70_000;
  const n = 2 * names;
  const query = (i: number) => `Q${i % names}.d${i % 5}.test`;
  for (let i = 0; i < n; i++) {
    w.add({ ...tx(i), query: query(i), queryKey: query(i).toLowerCase(), queryRef: (i % names) + 1 }, `d${i % 5}.test`);
    if (i % 4096 === 0) await w.ready();
  }
  assert.equal(await w.flush(), n);
  const rows = s.db.prepare("SELECT query FROM transactions_readable WHERE run_id = ? ORDER BY id").all(run) as {
    query: string;
  }[];
  assert.equal(rows.length, n);
  for (let i = 0; i < n; i++) if (rows[i].query !== query(i)) assert.fail(`row ${i}: ${rows[i].query}`);
  s.close();
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("apply killed with SIGKILL mid-way: integrity ok, the previous run is still served, the interrupted one shows as failed", async () => {
  const cwd = Deno.makeTempDirSync({ prefix: "plumbum-kill-" });
  const first = await runCli(["apply", sample], undefined, { cwd });
  assert.equal(first.code, 0, first.stderr);
  const before = (await runCli(["export", "--format", "json"], undefined, { cwd })).stdout;
  const big = `${cwd}/big.pcap`;
  bigCapture(big, 48);
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", "--v8-flags=--max-semi-space-size=4,--heap-growing-percent=50", "-A", cli, "apply", big],
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
      "SELECT r.status, (SELECT count(*) FROM transactions t WHERE t.id >> 32 = r.id) AS n FROM runs r WHERE r.id = 2",
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

Deno.test("apply failing mid-way (a second input that is no capture, after a large one): failed run, its rows gone, no lock left, next apply works", async () => {
  const cwd = Deno.makeTempDirSync({ prefix: "plumbum-fail-" });
  const big = `${cwd}/big.pcap`;
  bigCapture(big, 24);
  // Known only once it is read: its bytes are no capture format.
  Deno.writeTextFileSync(`${cwd}/bad.pcap.gz`, "these bytes are no capture at all\n".repeat(200));
  const bad = await runCli(["apply", big, "bad.pcap.gz"], undefined, { cwd });
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /bad\.pcap\.gz: not a PCAP, pcapng, dnstap or Zeek dns\.log file/);
  const runs = JSON.parse((await runCli(["runs", "--json"], undefined, { cwd })).stdout).runs as {
    status: string;
    error: string;
  }[];
  assert.equal(runs[0].status, "failed");
  assert.match(runs[0].error, /not a PCAP/);
  const db = new DatabaseSync(`${cwd}/.plumbum/plumbum.db`);
  assert.equal((db.prepare("SELECT count(*) AS c FROM transactions").get() as { c: number }).c, 0);
  assert.equal((db.prepare("PRAGMA integrity_check").get() as { integrity_check: string }).integrity_check, "ok");
  db.close();
  const next = await runCli(["apply", sample], undefined, { cwd });
  assert.equal(next.code, 0, next.stderr);
  assert.match(next.stdout, /run #2/);
  Deno.removeSync(cwd, { recursive: true });
});

Deno.test("writer thread: domains let go and met again keep their first INDEXED_PER_DOMAIN rows indexed, no more", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const path = `${dir}/plumbum.db`;
    const store = Store.open(path);
    const runId = store.startRun({});
    // Two domains kept: every batch starts over, and each domain is met again batch after batch.
    const inserter = new TransactionInserter(path, 2);
    const domains = ["a.test", "b.test", "c.test", "d.test"];
    const perBatch = [90, 1, 60, 0];
    let textBase = 0;
    for (let k = 0; k < 4; k++) {
      const b = newBatch(runId, k === 0, textBase);
      if (k === 0) b.texts.push("10.0.0.1", "10.0.0.53", ...domains, ...domains.map((d) => `q.${d}`));
      textBase += b.texts.length;
      domains.forEach((_, d) => {
        for (let i = 0; i < perBatch[d] + (k === 3 && d === 3 ? 5 : 0); i++) {
          const r = b.rows++;
          b.ts[r] = k * 1000 + r;
          b.qtype[r] = 1;
          b.client[r] = 0;
          b.server[r] = 1;
          b.domain[r] = 2 + d;
          b.query[r] = 6 + d;
        }
      });
      inserter.insert(b);
    }
    inserter.close();
    const db = new DatabaseSync(path);
    const rows = db.prepare(
      "SELECT d.name AS domain, count(*) AS n, sum(code & 1) AS indexed FROM transactions t JOIN domains d ON d.id = t.domain_id GROUP BY d.name ORDER BY d.name",
    ).all().map((r) => [r.domain, r.n, r.indexed]);
    db.close();
    store.close();
    assert.deepEqual(rows, [
      ["a.test", 360, INDEXED_PER_DOMAIN],
      ["b.test", 4, 4],
      ["c.test", 240, INDEXED_PER_DOMAIN],
      ["d.test", 5, 5],
    ]);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
