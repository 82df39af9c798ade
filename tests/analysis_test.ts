/**
 * The scoring model as DESIGN.md documents it, and the accumulator's
 * features on traffic built to have known properties.
 */
import assert from "node:assert/strict";
import { tx } from "./helpers/transaction.ts";
import { Analyzer } from "../src/analysis/analyze.ts";
import { DomainAccumulator, type DomainFeatures } from "../src/analysis/accumulator.ts";
import { parentDomain } from "../src/analysis/domain.ts";
import { getDomain } from "npm:tldts@7.6.0";
import {
  BASELINE_FEATURES,
  type CorpusRanges,
  FEATURES,
  type ModelConfig,
  normalize,
  presetModel,
  PRESETS,
  scoreDomain,
  severityOf,
} from "../src/analysis/model.ts";
import { CompressedSize, DistinctCounter, shannonEntropy } from "../src/analysis/sketch.ts";
import { headerInName } from "../src/analysis/file_header.ts";
import { deflateRawSync } from "node:zlib";
import { DeflatePool } from "../src/analysis/deflate_pool.ts";
import fc from "npm:fast-check@4.11.0";
import type { Transaction } from "../src/ingest/types.ts";

function txtAnswer(...strings: string[]): Transaction["answers"][number] {
  return { name: "", type: 16, class: 1, ttl: 0, rdlength: 0, data: { kind: "txt", strings } };
}

Deno.test("the documented presets, with their names and numbers", () => {
  assert.deepEqual(PRESETS.default, {
    entropy: 1.0,
    periodicity: 1.2,
    volume: 0.5,
    length: 0.8,
    client_rarity: 0.6,
    subdomain_diversity: 0.0,
  });
  assert.deepEqual(PRESETS.optimized, {
    entropy: 0.01,
    periodicity: 0.01,
    volume: 0.1174,
    length: 0.01,
    client_rarity: 2.1885,
    subdomain_diversity: 0.1692,
  });
  assert.deepEqual(PRESETS.regularized, {
    entropy: 0.15,
    periodicity: 0.10,
    volume: 0.25,
    length: 0.10,
    client_rarity: 1.80,
    subdomain_diversity: 0.30,
  });
  for (const p of ["default", "optimized", "regularized"]) {
    assert.deepEqual(Object.keys(PRESETS[p]), [...BASELINE_FEATURES]);
  }
});

Deno.test("documented example: norms (0,1,1,1,1,1) under regularized give 94.4 CRITICAL with shares 0/3.7/9.3/3.7/66.7/11.1 %", () => {
  // A single-domain corpus yields exactly those norms under baseline normalization.
  const a = new Analyzer({ model: presetModel("regularized"), c2Domains: ["evil.tk"] });
  for (let i = 0; i < 50; i++) {
    a.add(
      tx({
        query: `q${i}x${(i * 7919) % 1000}.evil.tk`,
        ts: 1000 + i * (i % 2 ? 0.5 : 3),
        answers: [txtAnswer("x".repeat(180))],
      }),
    );
  }
  const [f] = a.findings();
  assert.equal(f.domain, "evil.tk");
  assert.equal(f.is_c2, true);
  assert.deepEqual(f.components.map((c) => c.norm), [0, 1, 1, 1, 1, 1]);
  assert.equal(Math.round(f.score * 10) / 10, 94.4);
  assert.equal(f.severity, "CRITICAL");
  assert.deepEqual(f.components.map((c) => (100 * c.share).toFixed(1)), ["0.0", "3.7", "9.3", "3.7", "66.7", "11.1"]);
  assert.deepEqual(f.components.map((c) => c.weight), [0.15, 0.1, 0.25, 0.1, 1.8, 0.3]);
  // The shares add up to the score.
  assert.ok(Math.abs(f.components.reduce((s, c) => s + c.share, 0) * 100 - f.score) < 1e-9);
});

Deno.test("score = 100 · Σ w·norm / Σ w, clamped; severities at 80/60/40 (configurable)", () => {
  const model: ModelConfig = { ...presetModel("default"), normalization: "corpus" };
  const ranges: CorpusRanges = { min: {}, max: {} };
  for (const n of BASELINE_FEATURES) {
    ranges.min[n] = 0;
    ranges.max[n] = 10;
  }
  const f = {
    mean_entropy: 5,
    cv: 5,
    query_count: 10,
    mean_txt_length: 0,
    mean_answer_payload: 5,
    client_count: 10,
    subdomain_count: 10,
  } as unknown as DomainFeatures;
  const { score, components } = scoreDomain(f, model, ranges);
  const w = PRESETS.default;
  const expected = 100 *
    (w.entropy * 0.5 + w.periodicity * 0.5 + w.volume * 1 + w.length * 0.5 + w.client_rarity * 0 + 0) /
    Object.values(w).reduce((a, b) => a + b, 0);
  assert.ok(Math.abs(score - expected) < 1e-9, `${score} vs ${expected}`);
  assert.equal(components.length, 6);
  assert.equal(severityOf(80, { critical: 80, high: 60, medium: 40 }), "CRITICAL");
  assert.equal(severityOf(79.9, { critical: 80, high: 60, medium: 40 }), "HIGH");
  assert.equal(severityOf(40, { critical: 80, high: 60, medium: 40 }), "MEDIUM");
  assert.equal(severityOf(39.9, { critical: 80, high: 60, medium: 40 }), "LOW");
  assert.equal(severityOf(50, { critical: 90, high: 70, medium: 50 }), "MEDIUM");
});

Deno.test("baseline normalization: min–max, 0..max, client rarity inverted against 1..max", () => {
  const ranges: CorpusRanges = {
    min: { entropy: 2, periodicity: 0.5, volume: 1, client_rarity: 1 },
    max: { entropy: 4, periodicity: 2.5, volume: 100, client_rarity: 11 },
  };
  const f = {} as DomainFeatures;
  assert.equal(normalize(FEATURES.entropy, 3, f, "corpus", ranges), 0.5);
  assert.equal(normalize(FEATURES.periodicity, 0.5, f, "corpus", ranges), 1);
  assert.equal(normalize(FEATURES.periodicity, 2.5, f, "corpus", ranges), 0);
  assert.equal(normalize(FEATURES.periodicity, null, f, "corpus", ranges), 0, "no gaps: no evidence of periodicity");
  assert.equal(normalize(FEATURES.volume, 50, f, "corpus", ranges), 0.5);
  assert.equal(normalize(FEATURES.client_rarity, 1, f, "corpus", ranges), 1);
  assert.equal(normalize(FEATURES.client_rarity, 11, f, "corpus", ranges), 0);
  assert.equal(normalize(FEATURES.client_rarity, 6, f, "corpus", ranges), 0.5);
});

Deno.test("accumulator: periodicity, entropy, clients, sub-zones, payload and evidence", () => {
  const acc = new DomainAccumulator("example.com");
  for (let i = 0; i < 100; i++) {
    acc.add(tx({
      query: `${i.toString(36)}abc.t1.example.com`,
      ts: 1000 + i * 10,
      client: i % 4 === 0 ? "10.0.0.9" : "10.0.0.2",
      answers: [txtAnswer("hello", "world!")],
    }));
  }
  acc.add(tx({ query: "www.example.com", ts: 2000, hasResponse: false, rcode: null }));
  const f = acc.features();
  assert.equal(f.query_count, 101);
  assert.equal(f.client_count, 2);
  assert.equal(f.subdomain_count, 101);
  assert.ok(f.cv !== null && f.cv < 0.01, `clockwork gaps have CV ≈ 0, got ${f.cv}`);
  assert.equal(f.mean_txt_length, 11);
  const e = acc.evidence();
  assert.deepEqual(e.busiest_subzone, { subzone: "t1.example.com", queries: 100 });
  assert.equal(e.clients[0].client, "10.0.0.2");
  assert.equal(e.clients[0].queries, 76);
  assert.equal(e.first_seen, 1000);
  assert.equal(e.last_seen, 2000);
  assert.equal(e.gaps.count, 100);
  assert.equal(e.activity.counts.reduce((a, b) => a + b, 0), 101);
  assert.equal(e.sample_names.length, 5);
  assert.deepEqual(e.query_types, { TXT: 101 });
});

Deno.test("entropy and distinct counting", () => {
  assert.equal(shannonEntropy("aaaa"), 0);
  assert.equal(shannonEntropy("abab"), 1);
  assert.ok(Math.abs(shannonEntropy("abcdefgh") - 3) < 1e-12);
  const d = new DistinctCounter(100);
  for (let i = 0; i < 20000; i++) d.add(`name-${i}`);
  assert.equal(d.exact, false);
  assert.ok(Math.abs(d.count - 20000) / 20000 < 0.05, `estimate ${d.count}`);
  // The estimates themselves are pinned: a change to the hashing changes them, and with them stored findings.
  assert.equal(d.count, 20204);
  const bytes = new DistinctCounter(10);
  for (let i = 0; i < 3000; i++) bytes.add(`\xff\u00e9${i}.x${"\u0001".repeat(i % 3)}`);
  assert.equal(bytes.count, 3067);
});

Deno.test("compressed size: the sum of each 64 KB block of the bytes added, deflated on its own", () => {
  fc.assert(
    fc.property(
      fc.array(fc.oneof(fc.string({ maxLength: 300 }), fc.string({ minLength: 20_000, maxLength: 70_000 })), {
        maxLength: 12,
      }),
      (parts) => {
        const c = new CompressedSize();
        for (const p of parts) c.add(p);
        // The reference: every char's low byte, cut into 64 KB blocks.
        const joined = parts.join("");
        const all = new Uint8Array(joined.length);
        for (let i = 0; i < joined.length; i++) all[i] = joined.charCodeAt(i) & 0xff;
        let want = 0;
        for (let i = 0; i < all.length; i += 65536) {
          want += deflateRawSync(all.subarray(i, Math.min(all.length, i + 65536)), { level: 6 }).length;
        }
        assert.equal(c.bytes, want);
      },
    ),
    // Shrinking strings this long takes minutes: report the first failure as found.
    { numRuns: 40, endOnFailure: true },
  );
});

Deno.test("parent domains: public suffixes, C2 suffixes win, reverse zones grouped", () => {
  assert.equal(parentDomain("a.b.example.co.uk"), "example.co.uk");
  assert.equal(parentDomain("x.t1.evil.tk", ["t1.evil.tk"]), "t1.evil.tk");
  assert.equal(parentDomain("x.y.evil.tk"), "evil.tk");
  assert.equal(parentDomain("4.3.2.1.in-addr.arpa"), "in-addr.arpa");
  assert.equal(parentDomain("b.a.9.8.ip6.arpa"), "ip6.arpa");
  assert.equal(parentDomain("localhost"), "localhost");
  assert.equal(parentDomain("\xbc\xdd.img.lime-hollow.test"), "lime-hollow.test");
});

Deno.test("parent domains: the same as tldts's full hostname parsing, for any name", () => {
  // The oracle: the plain-hostname check as a regular expression, and tldts
  // with its default input handling (URL parsing and all).
  const oracle = (name: string): string => {
    const n = name.endsWith(".") ? name.slice(0, -1) : name;
    if (n.endsWith(".in-addr.arpa") || n === "in-addr.arpa") return "in-addr.arpa";
    if (n.endsWith(".ip6.arpa") || n === "ip6.arpa") return "ip6.arpa";
    let cut = n.length;
    for (let i = 0; i < 5 && cut > 0; i++) cut = n.lastIndexOf(".", cut - 1);
    const tail = cut <= 0 ? n : n.slice(cut + 1);
    const last2 = tail.slice(tail.lastIndexOf(".", tail.lastIndexOf(".") - 1) + 1);
    const plain = /^[a-z0-9_-]+(\.[a-z0-9_-]+)*$/.test(tail);
    return (plain ? getDomain(tail, { allowPrivateDomains: false, validateHostname: false }) : null) ??
      (tail.includes(".") ? last2 : n);
  };
  const suffixes = ["com", "co.uk", "kobe.jp", "city.kobe.jp", "k12.ma.us", "blogspot.com", "test", "xn--p1ai", "1.2"];
  const label = fc.oneof(
    fc.stringMatching(/^[a-z0-9_-]{1,12}$/),
    fc.constantFrom("", "-", "_x", "1", "www", "\xff", "A", "a\\.b", "city", ":80", "a/b", "@"),
  );
  fc.assert(
    fc.property(
      fc.array(label, { maxLength: 7 }),
      fc.constantFrom(...suffixes, ""),
      fc.boolean(),
      (labels, suffix, dot) => {
        const name = [...labels, suffix].filter((x, i, all) => x !== "" || i < all.length - 1).join(".") +
          (dot ? "." : "");
        assert.equal(parentDomain(name), oracle(name), JSON.stringify(name));
      },
    ),
    { numRuns: 3000 },
  );
});

Deno.test("findings are deterministic: the same input gives the same output", () => {
  const run = () => {
    const a = new Analyzer({ model: presetModel("regularized") });
    for (let i = 0; i < 300; i++) {
      a.add(
        tx({
          query: `n${(i * 31) % 97}.d${i % 7}.example${i % 5}.com`,
          ts: 1000 + i * 0.37,
          client: `10.0.0.${i % 9}`,
        }),
      );
    }
    return JSON.stringify(a.findings());
  };
  assert.equal(run(), run());
});

Deno.test("accumulator: answers the decoder shares (one frozen object per repeated answer) count as fresh copies of them do", () => {
  // Answers as the decoder gives them: repeated ones are one frozen object (payload pieces are
  // remembered by identity), or each a fresh object (Zeek rows, tests): the features must not differ.
  const kinds = (i: number): Transaction["answers"][number]["data"][] => [
    { kind: "txt", strings: [`v=${i % 7}`, "x"] },
    { kind: "raw", bytes: Uint8Array.of(i % 5, 1, 0xff) },
    { kind: "name", name: `cdn${i % 3}.example.net` },
    { kind: "txt", strings: [`\u0001${i % 2}`] },
  ];
  const shared = new Map<string, Transaction["answers"][number]["data"]>();
  const share = (d: Transaction["answers"][number]["data"]) => {
    const key = JSON.stringify(d, (_k, v) => v instanceof Uint8Array ? Array.from(v) : v);
    let s = shared.get(key);
    if (s === undefined) shared.set(key, s = Object.freeze(d));
    return s;
  };
  const run = (frozen: boolean) => {
    const acc = new DomainAccumulator("example.com");
    for (let i = 0; i < 3000; i++) {
      const data = kinds(i).slice(0, 1 + (i % 4)).map((d) => frozen ? share(d) : d);
      const types: Record<string, number> = { txt: 16, raw: 10, name: 5 };
      acc.add(tx({
        query: `q${i % 50}.example.com`,
        ts: 1000 + i,
        answers: data.map((d) => ({ name: "", type: types[d.kind], class: 1, ttl: 0, rdlength: 3, data: d })),
      }));
    }
    return { features: acc.features(), evidence: acc.evidence() };
  };
  const fresh = run(false);
  assert.ok(fresh.features.distinct_answers > 20, `distinct answers ${fresh.features.distinct_answers}`);
  assert.deepEqual(run(true), fresh);
});

Deno.test("analyzer: routing by the decoder's name numbers gives what routing by the names gives", async () => {
  const { ingestFile } = await import("../src/ingest/source.ts");
  const kept: Transaction[] = [];
  await ingestFile(new URL("../fixtures/sample.pcap", import.meta.url).pathname, {
    onTransaction: (t) => void kept.push({ ...t }),
  });
  assert.ok(kept.length > 1000 && kept.every((t) => t.queryKey === "" || (t.queryRef ?? 0) > 0));
  const model = presetModel("regularized");
  const by = (strip: boolean) => {
    const a = new Analyzer({ model });
    for (const t of kept) a.add(strip ? { ...t, queryRef: undefined } : t);
    return a.findings();
  };
  assert.deepEqual(by(false), by(true));
  // Numbers that share their low bits belong to different names: each still goes to its own domain.
  const a = new Analyzer({ model });
  for (let i = 0; i < 10; i++) {
    a.add(tx({ query: "x.one.com", ts: i, queryRef: 1 }));
    a.add(tx({ query: "y.two.com", ts: i, queryRef: 1 + 65536 }));
  }
  const counts = Object.fromEntries(a.findings().map((f) => [f.domain, f.features.query_count]));
  assert.deepEqual(counts, { "one.com": 10, "two.com": 10 });
});

Deno.test("evidence: the longest name is the first of that length, as it was asked (case kept)", () => {
  const names = ["a.x.example.com", "BbBb.x.example.com", "cccc.x.example.com", "dd.x.example.com"];
  const acc = new DomainAccumulator("example.com");
  const an = new Analyzer({ model: presetModel("regularized") });
  for (const [i, q] of names.entries()) {
    acc.add(tx({ query: q, ts: i }));
    an.add(tx({ query: q, ts: i, queryRef: i + 1 }));
  }
  assert.equal(acc.evidence().longest_name, "BbBb.x.example.com");
  assert.equal(an.findings()[0].evidence.longest_name, "BbBb.x.example.com");
});

Deno.test("the information bound is the same deflated on the pool's thread, with no slot free, or after the thread stopped", () => {
  // Names that compress some (a tunnel's base32 over a small alphabet): 300 KB, five full blocks and a part.
  let seed = 7;
  const next = () => (seed = Math.imul(seed, 1103515245) + 12345 | 0);
  const names = Array.from(
    { length: 6000 },
    () => Array.from({ length: 50 }, () => "abcdefghij234567"[(next() >>> 16) % 16]).join(""),
  );
  const measure = (m: CompressedSize) => {
    for (const n of names) m.add(n);
    return m.bytes;
  };
  const here = measure(new CompressedSize());
  assert.ok(here > 100_000 && here < 300_000);
  const pool = new DeflatePool();
  try {
    assert.equal(measure(new CompressedSize(pool)), here);
    assert.ok(pool.counts.thread >= 4, `${JSON.stringify(pool.counts)}`);
    // More full blocks waiting at once than the pool has slots (64): the rest are deflated where they are, to the
    // same sizes.
    const first = names.slice(0, 1400);
    const one = new CompressedSize();
    for (const n of first) one.add(n);
    const many = Array.from({ length: 80 }, () => new CompressedSize(pool));
    for (const m of many) for (const n of first) m.add(n);
    for (const m of many) assert.equal(m.bytes, one.bytes);
    assert.ok(pool.counts.here >= 16, `${JSON.stringify(pool.counts)}`);
    // A block sent before the thread stopped, and blocks after.
    const cut = new CompressedSize(pool);
    for (const n of names.slice(0, 2000)) cut.add(n);
    pool.close();
    for (const n of names.slice(2000)) cut.add(n);
    assert.equal(cut.bytes, here);
  } finally {
    pool.close();
  }
});

Deno.test("a file's header at the start of a name: hex and base32 on the grouped name, base64 on the name as sent", () => {
  const gzipB64 = "H4sIABEi"; // 1F 8B 08 00 11 22 in base64
  const zipB32 = "kbfqgbau"; // 50 4B 03 04 14 in base32
  assert.equal(headerInName("1f8b0808e1a4b7650003706173.x", "1F8B0808E1A4B7650003706173.x.leak.test"), "gzip");
  assert.equal(headerInName(zipB32 + "aaaaaaaa", zipB32.toUpperCase() + "AAAAAAAA.leak.test"), "zip");
  // base64 keeps its case: only the name as sent shows it, and only within the data's length.
  assert.equal(headerInName(gzipB64.toLowerCase() + "aa", gzipB64 + "aa.leak.test"), "gzip");
  assert.equal(headerInName("h4s", "H4s" + gzipB64.slice(3) + ".leak.test"), null);
  assert.equal(headerInName("h4si", "H4si"), null);
  // Ordinary names, short ones and names that are not ASCII have none.
  for (const [l, o] of [["www", "www"], ["mail.example", "Mail.Example"], ["\u00e9t\u00e9abcd", "\u00c9T\u00c9ABCD"]]) {
    assert.equal(headerInName(l, o), null);
  }
});
