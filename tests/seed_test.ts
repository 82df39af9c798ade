import assert from "node:assert/strict";
import { DomainAccumulator } from "../src/analysis/accumulator.ts";
import { Analyzer } from "../src/analysis/analyze.ts";
import { presetModel } from "../src/analysis/model.ts";
import { replaySeed, SEED_MAX_CHARS, seedWith } from "../src/analysis/seed.ts";
import { BoundedCounts } from "../src/analysis/sketch.ts";
import { SqliteSeedSpill } from "../src/store/seed_spill.ts";
import type { RData, Transaction } from "../src/ingest/types.ts";
import { tx } from "./helpers/transaction.ts";

/** One answer of every kind of RDATA, with bytes of every value in the names and strings. */
const EVERY_KIND: RData[] = [
  { kind: "address", address: "2001:db8::7" },
  { kind: "name", name: "Cdn.Example.NET" },
  { kind: "mx", preference: 10, name: "mx.example.net" },
  { kind: "txt", strings: ["v=spf1", "\u0000\u00ff\u0080 bytes", ""] },
  { kind: "srv", priority: 1, weight: 2, port: 5060, target: "sip.example.net" },
  {
    kind: "soa",
    mname: "ns.example.net",
    rname: "root.example.net",
    serial: 4_294_967_295,
    refresh: 1,
    retry: 2,
    expire: 3,
    minimum: 4,
  },
  { kind: "key", flags: 257, protocol: 3, algorithm: 8, keyLength: 70_000 },
  { kind: "raw", bytes: Uint8Array.from([0, 1, 254, 255]) },
  { kind: "text", text: "zeek text \u202e" },
  { kind: "malformed", reason: "rdata past the end" },
];

function everyKind(ts: number): Transaction {
  return tx({
    query: "Odd\u00e9Case.Sub.Example.COM.",
    queryKey: "odd\u00e9case.sub.example.com",
    ts,
    qtype: 255,
    rcode: 3,
    service: "mdns",
    client: "fe80::1%eth0",
    answers: EVERY_KIND.map((data, i) => ({ name: "", type: 16 + i, class: 1, ttl: 0, rdlength: 7 * i, data })),
  });
}

Deno.test("seed: a transaction's record gives back every field the accumulator reads, of every RDATA kind", () => {
  const sent = [
    everyKind(1_700_000_000.123456),
    tx({ query: "a.example.com", ts: 1_700_000_001, hasResponse: false, rcode: null }),
  ];
  const seed = seedWith(seedWith("", sent[0]), sent[1]);
  // One-byte characters throughout when the input's are: the seed costs a byte a character.
  assert.ok(!/[^\u0000-\u00ff]/.test(seed.replace("\u202e", "")));
  const back: Transaction[] = [];
  let copies = 0;
  replaySeed(seedWith(seed, null), { add: (t) => back.push(t), addUpstreamCopy: () => copies++ });
  assert.equal(copies, 1);
  assert.equal(back.length, 2);
  for (const [i, t] of back.entries()) {
    const s = sent[i];
    for (const k of ["ts", "client", "qtype", "service", "query", "queryKey", "hasResponse", "rcode"] as const) {
      assert.deepEqual(t[k], s[k], `${k} of record ${i}`);
    }
    assert.deepEqual(
      t.answers.map((a) => [a.type, a.rdlength, a.data]),
      s.answers.map((a) => [a.type, a.rdlength, a.data]),
    );
  }
});

/** Transactions of a few domains: some asked once, one past a seed's length (an accumulator of its own). */
function traffic(): Transaction[] {
  const out: Transaction[] = [];
  let ts = 1_700_000_000;
  for (let i = 0; i < 40; i++) {
    out.push(tx({ query: `n${i}.once${i % 7}.example`, ts: ts += 0.5, client: `10.0.0.${i}` }));
  }
  for (let i = 0; i < 400; i++) {
    out.push(tx({
      query: `${(i * 7919).toString(36)}x${i}.busy.example`,
      ts: ts += 0.25,
      answers: [{ name: "", type: 16, class: 1, ttl: 0, rdlength: 9, data: { kind: "txt", strings: [`ack${i}`] } }],
    }));
  }
  out.push(everyKind(ts += 1));
  return out;
}

Deno.test("seed: a domain kept as a seed scores exactly as one fed to an accumulator from the start", () => {
  const txs = traffic();
  const analyzer = new Analyzer({ model: presetModel("tunnel") });
  const byDomain = new Map<string, DomainAccumulator>();
  for (const t of txs) {
    const d = analyzer.add(t)!;
    let acc = byDomain.get(d);
    if (acc === undefined) byDomain.set(d, acc = new DomainAccumulator(d));
    acc.add(t);
  }
  const seen = analyzer.summaries();
  assert.equal(seen.length, byDomain.size);
  for (const s of seen) {
    const acc = byDomain.get(s.domain)!;
    const features = acc.features();
    assert.deepEqual(s.features, features, s.domain);
    assert.deepEqual(s.evidence, acc.evidence(features), s.domain);
  }
  // The busy domain outgrew its seed; the others did not.
  assert.ok(txs.filter((t) => t.queryKey.endsWith("busy.example")).length * 40 > SEED_MAX_CHARS);
});

Deno.test("scored(only): the changed domains (and sibling candidates) score as a full scoring does", () => {
  const txs = traffic();
  const a = new Analyzer({ model: presetModel("tunnel") });
  a.trackChanges();
  for (const t of txs.slice(0, 200)) a.add(t);
  a.takeChanged();
  [...a.scored()];
  for (const t of txs.slice(200)) a.add(t);
  const changed = a.takeChanged();
  assert.ok(changed.has("busy.example") && !changed.has("once3.example"));
  const partial = new Map([...a.scored(undefined, changed)].map((f) => [f.domain, f]));
  const full = new Map(a.findings().map((f) => [f.domain, f]));
  for (const d of changed) assert.deepEqual(partial.get(d), full.get(d), d);
  assert.equal(a.takeChanged().size, 0);
});

Deno.test("bounded counts: numbers and other keys share one bound, whichever kind comes first", () => {
  const b = new BoundedCounts<number>(2);
  for (const k of [65399, 65400, 1, 1, 65399]) b.add(k);
  assert.equal(b.size, 2);
  assert.equal(b.other, 2);
  assert.deepEqual(b.top(5), [["65399", 2], ["65400", 1]]);
  const c = new BoundedCounts<number>(3);
  for (const k of [28, 1, 1, -1, 65399, 5]) c.add(k);
  assert.deepEqual(c.top(5), [["1", 2], ["-1", 1], ["28", 1]]);
  assert.equal(c.other, 2);
});

/** Many domains asked a few times, one busy domain among them all along, and one of every RDATA kind. */
function interleaved(): Transaction[] {
  const out: Transaction[] = [];
  let ts = 1_700_000_000;
  for (let i = 0; i < 600; i++) {
    out.push(tx({
      query: `${(i * 7919).toString(36)}x${i}.busy.example`,
      ts: ts += 0.25,
      answers: [{ name: "", type: 16, class: 1, ttl: 0, rdlength: 9, data: { kind: "txt", strings: [`ack${i}`] } }],
    }));
    // Each small domain is asked again a while later (after a spill), some often enough to outgrow a seed.
    if (i % 3 === 0) out.push(tx({ query: `n${i}.few${i % 90}.example`, ts: ts += 0.1, client: `10.0.0.${i % 250}` }));
    if (i === 300) out.push(everyKind(ts += 1));
  }
  out.push(everyKind(ts += 1));
  return out;
}

Deno.test("spill: seeds kept on disk give the same findings, counts and partial scorings as seeds in memory", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const spill = new SqliteSeedSpill(`${dir}/spill`);
    // The spill's file is gone from the folder as soon as it is open.
    assert.deepEqual([...Deno.readDirSync(dir)], []);
    const memory = new Analyzer({ model: presetModel("tunnel") });
    const spilled = new Analyzer({ model: presetModel("tunnel"), spill, spillAt: 7 });
    memory.trackChanges();
    spilled.trackChanges();
    const txs = interleaved();
    let puts = 0, takes = 0;
    const put = spill.put.bind(spill), take = spill.take.bind(spill);
    spill.put = (seeds) => (puts++, put(seeds));
    spill.take = (d) => {
      const s = take(d);
      if (s !== "") takes++;
      return s;
    };
    for (const [i, t] of txs.entries()) {
      assert.equal(spilled.add(t), memory.add(t));
      if (i === 500) {
        // A live run's window: the changed domains score the same, with their spilled seeds.
        const changed = memory.takeChanged();
        assert.deepEqual(spilled.takeChanged(), changed);
        const want = new Map([...memory.scored(undefined, changed)].map((f) => [f.domain, f]));
        const got = new Map([...spilled.scored(undefined, changed)].map((f) => [f.domain, f]));
        assert.deepEqual(got, want);
      }
    }
    assert.ok(puts > 10, `${puts} spills`);
    // Domains spilled and then grown into an accumulator took their seeds back (busy.example, the often asked).
    assert.ok(takes >= 2, `${takes} seeds taken back`);
    assert.equal(spilled.domainCount, memory.domainCount);
    assert.deepEqual(spilled.findings(), memory.findings());
    assert.deepEqual(spilled.findings(presetModel("regularized")), memory.findings(presetModel("regularized")));
    spill.close();
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("spill: a seed of any characters comes back exactly, joined in the order put", () => {
  const dir = Deno.makeTempDirSync();
  try {
    using spill = new SqliteSeedSpill(`${dir}/spill`);
    const wide = "\u0000\u00ff\u0100\ud800 lone surrogate \uffff";
    spill.put([["b.example", "one"], ["a.example", wide]]);
    spill.put([["a.example", "\u0080two"]]);
    assert.equal(spill.get("a.example"), wide + "\u0080two");
    assert.equal(spill.get("c.example"), "");
    assert.deepEqual([...spill.entries()], [["a.example", wide + "\u0080two"], ["b.example", "one"]]);
    assert.equal(spill.take("a.example"), wide + "\u0080two");
    assert.equal(spill.get("a.example"), "");
    assert.deepEqual([...spill.entries()], [["b.example", "one"]]);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
