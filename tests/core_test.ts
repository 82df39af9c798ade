/**
 * The core that live sources and concurrent readers rest on: a clock apart
 * from packets, decoders that own their tables, tumbling windows, and the
 * read-only results reader.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { presetModel } from "../src/analysis/model.ts";
import { Analyzer } from "../src/analysis/analyze.ts";
import { TumblingWindows, type WindowResult } from "../src/analysis/window.ts";
import { DnsDecoder } from "../src/ingest/dns/mod.ts";
import { emptyStats, frameOf } from "../src/ingest/frames.ts";
import type { Transaction } from "../src/ingest/types.ts";
import { Pipeline } from "../src/run/pipeline.ts";
import { SchemaTooNewError } from "../src/store/errors.ts";
import { ResultsReader } from "../src/store/reader.ts";
import { SCHEMA_VERSION } from "../src/store/schema.ts";
import { dnsMessage, ether, ipv4, tcp, txtRdata, udp, udpExchange } from "./helpers/build.ts";
import { runCli } from "./helpers/cli.ts";
import { tx } from "./helpers/transaction.ts";
import { fromFileUrl } from "./helpers/paths.ts";

const sample = fromFileUrl(new URL("../fixtures/sample.pcap", import.meta.url));
const cli = fromFileUrl(new URL("../cli.ts", import.meta.url));
const model = presetModel("tunnel");

Deno.test("clock: on a quiet link advance(now) lets an unanswered query go once its timeout has passed, not before", () => {
  const p = new Pipeline({ model });
  const frames = p.frames(emptyStats("live"));
  const [query] = udpExchange({ id: 7, name: "a.quiet.test" });
  frames.frame(frameOf(1, query, 1000));
  assert.equal(p.analyzer.transactions, 0, "the query waits for its answer");
  p.advance(1029);
  assert.equal(p.analyzer.transactions, 0, "29 s: still within the 30 s timeout");
  assert.equal(frames.held.queries, 1);
  p.advance(1031);
  assert.equal(p.analyzer.transactions, 1, "31 s: the query left, unanswered, with no packet after it");
  assert.equal(frames.held.queries, 0);
  assert.equal(frames.stats.transactions, 1);
});

Deno.test("clock: advance(now) drops idle TCP flows and stale fragments without a packet", () => {
  const p = new Pipeline({ model });
  const frames = p.frames(emptyStats("live"));
  // Half a DNS-over-TCP message (its length says more follows), and the first fragment of a UDP datagram.
  const msg = dnsMessage({ id: 1, questions: [{ name: "t.test", type: 1 }] });
  const half = Uint8Array.from([0, msg.length, ...msg.subarray(0, 5)]);
  const seg = ether(0x0800, ipv4("10.0.0.2", "10.0.0.1", 6, tcp(40000, 53, 1, 0x18, half)));
  frames.frame(frameOf(1, seg, 100));
  const body = udp(40001, 53, msg);
  const frag = ether(0x0800, ipv4("10.0.0.2", "10.0.0.1", 17, body.subarray(0, 16), { id: 9, offset: 0, more: true }));
  frames.frame(frameOf(1, frag, 100));
  assert.deepEqual({ tcp: frames.held.tcpFlows, frags: frames.held.fragments }, { tcp: 1, frags: 1 });
  p.advance(129);
  assert.deepEqual({ tcp: frames.held.tcpFlows, frags: frames.held.fragments }, { tcp: 1, frags: 1 });
  p.advance(131);
  assert.equal(frames.held.fragments, 0, "a fragment waits 30 s at most");
  p.advance(401);
  assert.equal(frames.held.tcpFlows, 0, "a flow idle for 300 s is forgotten");
});

Deno.test("decoders own their tables: one decoder's names are not evicted by another's", () => {
  const a = new DnsDecoder();
  const b = new DnsDecoder();
  const ask = (d: DnsDecoder, name: string) =>
    d.decode(dnsMessage({ id: 1, questions: [{ name, type: 1 }] }))!.questions[0];
  const first = ask(a, "kept.example.com");
  // Far more names than a table holds, through the other decoder.
  for (let i = 0; i < 70_000; i++) ask(b, `n${i}.flood.test`);
  const again = ask(a, "kept.example.com");
  assert.equal(again.ref, first.ref, "a's table still holds the name (a shared table would have numbered it anew)");
  assert.equal(again.name, "kept.example.com");
});

/** A pipeline that also records every transaction it is given, as text. */
function recording(): { pipeline: Pipeline; seen: string[]; feed: (frame: Uint8Array, ts: number) => void } {
  const pipeline = new Pipeline({ model });
  const seen: string[] = [];
  const add = pipeline.add.bind(pipeline);
  pipeline.add = (tx: Transaction) => {
    seen.push(
      `${tx.ts}|${tx.client}|${tx.query}|${tx.qtype}|${tx.rcode}|${tx.answers.map((r) => JSON.stringify(r.data))}`,
    );
    add(tx);
  };
  const frames = pipeline.frames(emptyStats("test"));
  return { pipeline, seen, feed: (frame, ts) => frames.frame(frameOf(1, frame, ts)) };
}

Deno.test("two decoders interleaved frame by frame give what each gives alone", async () => {
  // Two captures with names in common (where shared tables would matter) and answers of their own.
  const build = (tag: string) => {
    const out: { frame: Uint8Array; ts: number }[] = [];
    for (let i = 0; i < 3000; i++) {
      const name = `${(i * 7919 % 1000).toString(36)}.${i % 3 === 0 ? "shared" : tag}.test`;
      const [q, r] = udpExchange({
        id: i & 0xffff,
        name,
        type: 16,
        port: 1024 + (i % 5000),
        answer: [{ name, type: 16, rdata: txtRdata(`${tag}-${i % 50}`) }],
      });
      out.push({ frame: q, ts: 1000 + i * 0.01 }, { frame: r, ts: 1000.001 + i * 0.01 });
    }
    return out;
  };
  const caps = [build("alpha"), build("beta")];
  const together = caps.map(() => recording());
  for (let i = 0; i < caps[0].length; i++) {
    for (let k = 0; k < 2; k++) together[k].feed(caps[k][i].frame, caps[k][i].ts);
  }
  for (let k = 0; k < 2; k++) {
    const alone = recording();
    for (const { frame, ts } of caps[k]) alone.feed(frame, ts);
    await alone.pipeline.end();
    await together[k].pipeline.end();
    assert.equal(together[k].seen.length, 3000);
    assert.deepEqual(together[k].seen, alone.seen, `capture ${k}: the same transactions`);
    assert.deepEqual(together[k].pipeline.findings(), alone.pipeline.findings(), `capture ${k}: the same findings`);
  }
});

Deno.test("windows: tumbling on capture time, each scored alone, closed by the clock on a quiet link", () => {
  const closed: WindowResult[] = [];
  const w = new TumblingWindows({ secs: 60, model, onClose: (r) => closed.push(r) });
  const whole = new Analyzer({ model });
  const perWindow = [new Analyzer({ model }), new Analyzer({ model })];
  // Window [960, 1020) and [1020, 1080): a busy tunnel-like domain in the first, a quiet one in the second.
  const txs: Transaction[] = [];
  for (let i = 0; i < 300; i++) {
    txs.push(tx({ ts: 1000 + i * 0.05, query: `${(i * 104729).toString(36)}x${i}.busy.test` }));
  }
  for (let i = 0; i < 10; i++) txs.push(tx({ ts: 1030 + i * 3, query: "www.quiet.test" }));
  txs.sort((a, b) => a.ts - b.ts);
  for (const t of txs) {
    w.add(t);
    whole.add(t);
    perWindow[t.ts < 1020 ? 0 : 1].add(t);
  }
  assert.equal(closed.length, 1, "the first window closed when a transaction passed its end");
  assert.deepEqual({ start: closed[0].start, end: closed[0].end, index: closed[0].index }, {
    start: 960,
    end: 1020,
    index: 0,
  });
  w.advance(1079);
  assert.equal(closed.length, 1);
  w.advance(1080);
  assert.equal(closed.length, 2, "no traffic, yet the clock closed the second window");
  assert.equal(w.current, null);
  for (let k = 0; k < 2; k++) {
    assert.equal(closed[k].transactions, perWindow[k].transactions);
    // Under the tunnel model a window's scores are those of its own traffic alone.
    assert.deepEqual(closed[k].findings, perWindow[k].findings());
  }
  assert.equal(closed[0].transactions + closed[1].transactions, whole.transactions);
  assert.throws(() => new TumblingWindows({ secs: 0, model, onClose: () => {} }), RangeError);
});

Deno.test("results reader: read-only, schema checked, notices a writer's new run, never blocks it", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "plumbum-reader-" });
  const first = await runCli(["apply", "--dir", dir, sample]);
  assert.equal(first.code, 0, first.stderr);
  const reader = ResultsReader.open(`${dir}/plumbum.db`);
  assert.equal(reader.changed(), true, "the first call says true");
  assert.equal(reader.changed(), false);
  assert.equal(reader.latestRunId(), 1);
  // The reader stays open while a writer completes another run.
  const second = await runCli(["apply", "--dir", dir, sample]);
  assert.equal(second.code, 0, second.stderr);
  assert.equal(reader.changed(), true);
  assert.equal(reader.latestRunId(), 2);
  assert.equal(reader.findings(2)[0].domain, reader.findings(1)[0].domain);
  assert.throws(() => reader.db.exec("DELETE FROM runs"), /readonly/);
  reader.close();
  // A file from a newer Plumbum: a typed error for the library, exit 1 and one sentence for the CLI.
  const newer = Deno.makeTempDirSync({ prefix: "plumbum-newer-" });
  Deno.copyFileSync(`${dir}/plumbum.db`, `${newer}/plumbum.db`);
  const db = new DatabaseSync(`${newer}/plumbum.db`);
  db.exec(`PRAGMA user_version = ${SCHEMA_VERSION + 1}`);
  db.close();
  assert.throws(() => ResultsReader.open(`${newer}/plumbum.db`), SchemaTooNewError);
  for (const args of [["show", "vale-flow.test"], ["runs"], ["export"]]) {
    const r = await runCli([...args, "--dir", newer]);
    assert.equal(r.code, 1, `${args[0]}: ${r.stderr}`);
    assert.match(r.stderr, /newer than this Plumbum/);
  }
  // Not a database at all, and an emptied one: exit 1, not a new empty workspace.
  Deno.writeTextFileSync(
    `${newer}/plumbum.db`,
    "this is not SQLite, just text that is long enough to be read".repeat(20),
  );
  const bad = await runCli(["show", "x.test", "--dir", newer]);
  assert.equal(bad.code, 1, bad.stderr);
  assert.match(bad.stderr, /not a Plumbum database/);
  Deno.writeFileSync(`${newer}/plumbum.db`, new Uint8Array(0));
  const empty = await runCli(["runs", "--dir", newer]);
  assert.equal(empty.code, 1, empty.stderr);
  assert.equal(Deno.statSync(`${newer}/plumbum.db`).size, 0, "the reader wrote nothing");
});

Deno.test("readers need no write permission: show, explain, export and runs under --allow-read alone", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "plumbum-ro-" });
  const r = await runCli(["apply", "--dir", dir, sample]);
  assert.equal(r.code, 0, r.stderr);
  for (
    const args of [["show", "vale-flow.test"], ["explain", "vale-flow.test", "--json"], ["export", "--format", "csv"], [
      "runs",
    ]]
  ) {
    const o = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--quiet", "--allow-read", cli, ...args, "--dir", dir],
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).output();
    assert.equal(o.code, 0, `${args[0]}: ${new TextDecoder().decode(o.stderr)}`);
    assert.ok(o.stdout.length > 0);
  }
});
