/**
 * Detection round two: quiet channels (persistence), address-record
 * channels, sibling zones, short bursts, on traffic built to have known
 * properties; then the lab's captures (fixtures/lab, recorded by
 * lab/record.ts with real iodine, dns2tcp and bind9) evaluated whole, in
 * windows, and replayed through `stream`.
 */
import assert from "node:assert/strict";
import { tx } from "./helpers/transaction.ts";
import { Analyzer, type DomainFinding } from "../src/analysis/analyze.ts";
import { FEATURES, normalize, presetModel } from "../src/analysis/model.ts";
import type { Transaction } from "../src/ingest/types.ts";
import { runCli } from "./helpers/cli.ts";
import { fromFileUrl } from "./helpers/paths.ts";
import { prng } from "../src/eval/tune.ts";
import { loadLabeled } from "../src/eval/evaluate.ts";
import { parseLabels } from "../src/eval/labels.ts";
import { Pipeline } from "../src/run/pipeline.ts";

const LAB = fromFileUrl(new URL("../fixtures/lab/", import.meta.url));
const BASE32 = "abcdefghijklmnopqrstuvwxyz234567";

function label(r: () => number, n: number): string {
  let s = "";
  for (let i = 0; i < n; i++) s += BASE32[Math.floor(r() * 32)];
  return s;
}

function address(a: string): Transaction["answers"][number] {
  return {
    name: "",
    type: a.includes(":") ? 28 : 1,
    class: 1,
    ttl: 60,
    rdlength: 4,
    data: { kind: "address", address: a },
  };
}

function findingOf(txs: Transaction[], domain: string): DomainFinding {
  const an = new Analyzer({ model: presetModel("tunnel") });
  for (const t of txs) an.add(t);
  const f = an.findings().find((x) => x.domain === domain);
  assert.ok(f !== undefined, `${domain} not found`);
  return f;
}

const norm = (f: DomainFinding, feature: string) => f.components.find((c) => c.feature === feature)!.norm;

Deno.test("persistence: a steady new name every 5 s for 20 minutes is a channel; the same names at random times are not", () => {
  const r = prng(1);
  const steady: Transaction[] = [], random: Transaction[] = [];
  let t = 1_000_000, u = 1_000_000;
  for (let i = 0; i < 240; i++) {
    steady.push(tx({ query: `${label(r, 10)}.beacon.example`, ts: t, qtype: 1, answers: [address("192.0.2.1")] }));
    random.push(tx({ query: `${label(r, 10)}.beacon.example`, ts: u, qtype: 1, answers: [address("192.0.2.1")] }));
    t += 5 * (0.8 + 0.4 * r());
    u += -Math.log(1 - r()) * 5;
  }
  const s = findingOf(steady, "beacon.example");
  assert.equal(s.features.top_client_names, 240);
  assert.ok(s.features.cv! < 0.2, `cv ${s.features.cv}`);
  assert.ok(norm(s, "persistence") > 0.9, `persistence ${norm(s, "persistence")}`);
  assert.ok(s.score >= 60, `steady beacon ${s.score}`);
  const q = findingOf(random, "beacon.example");
  assert.equal(norm(q, "persistence"), 0);
  assert.ok(q.score < 40, `random-timed lookups ${q.score}`);
});

Deno.test("persistence does not count volume: hundreds of new names a minute at random earn nothing (busy hosts do that)", () => {
  const r = prng(2);
  const txs: Transaction[] = [];
  let t = 2_000_000;
  for (let i = 0; i < 900; i++) {
    txs.push(tx({ query: `${label(r, 30)}.bulk.example`, ts: t, answers: [] }));
    t += i % 50 === 0 ? 3 : 0.01 * r();
  }
  const f = findingOf(txs, "bulk.example");
  assert.ok(f.features.cv! > 1, `bursty: cv ${f.features.cv}`);
  assert.equal(norm(f, "persistence"), 0);
});

Deno.test("address answers count as data when they spread over many networks for names never repeated; a CDN's do not", () => {
  const r = prng(3);
  const stager: Transaction[] = [], cdn: Transaction[] = [];
  for (let i = 0; i < 48; i++) {
    const octets = () => Array.from({ length: 4 }, () => Math.floor(r() * 256)).join(".");
    stager.push(
      tx({
        query: `${label(r, 16)}.stage.example`,
        ts: 3_000_000 + i,
        qtype: 1,
        answers: [0, 1, 2, 3].map(() => address(octets())),
      }),
    );
    cdn.push(
      tx({
        query: `img${i}.cdn.example`,
        ts: 3_000_000 + i,
        qtype: 1,
        client: `10.0.0.${i % 7}`,
        answers: [address(`198.51.100.${i % 9}`), address("198.51.100.200")],
      }),
    );
  }
  const s = findingOf(stager, "stage.example");
  assert.ok(s.features.address_networks >= 150, `networks ${s.features.address_networks}`);
  assert.equal(s.features.address_channel, 1);
  assert.equal(s.features.payload_type_ratio, 0);
  assert.equal(norm(s, "payload_types"), 1);
  assert.ok(s.features.address_sets === 48 && norm(s, "answer_variety") === 1);
  assert.ok(s.score >= 60, `stager ${s.score}`);
  const c = findingOf(cdn, "cdn.example");
  assert.equal(c.features.address_networks, 1);
  assert.equal(c.features.address_channel, 0);
  assert.equal(norm(c, "payload_types"), 0);
  assert.ok(c.score < 40, `cdn ${c.score}`);
});

Deno.test("sibling zones: one client's encoded names under three zones, interleaved, are linked, scored together and named", () => {
  const r = prng(4);
  const txs: Transaction[] = [];
  const zones = ["north-edge.example", "south-assets.example", "west-img.example"];
  let t = 4_000_000;
  for (let i = 0; i < 27; i++) {
    for (const z of zones) {
      const octets = () => Array.from({ length: 4 }, () => Math.floor(r() * 256)).join(".");
      txs.push(
        tx({ query: `${label(r, 24)}.${z}`, ts: t, qtype: 1, client: "10.9.9.9", answers: [address(octets())] }),
      );
      t += 60 + 120 * r();
    }
  }
  // The same client's ordinary lookups: not encoded, not linked.
  for (let i = 0; i < 30; i++) {
    txs.push(tx({ query: `www.news${i % 3}.example`, ts: 4_000_000 + 100 * i, client: "10.9.9.9", qtype: 1 }));
  }
  const an = new Analyzer({ model: presetModel("tunnel") });
  for (const x of txs) an.add(x);
  const findings = an.findings();
  for (const z of zones) {
    const f = findings.find((x) => x.domain === z)!;
    assert.deepEqual(f.evidence.siblings?.domains.sort(), zones.filter((y) => y !== z).sort());
    assert.ok(f.evidence.siblings!.scored_together, `${z} scored alone ${f.evidence.siblings!.score_alone}`);
    assert.ok(f.score > f.evidence.siblings!.score_alone);
    // The components are the group's: 81 names.
    assert.equal(f.components.find((c) => c.feature === "persistence")!.raw, 81);
    assert.equal(f.features.subdomain_count, 27, "the domain's own features stay its own");
  }
  for (const other of ["news0.example", "news1.example"]) {
    assert.equal(findings.find((x) => x.domain === other)!.evidence.siblings, undefined);
  }
});

Deno.test("a short burst of long, dense names is MEDIUM at least: eight names are plainly a message", () => {
  const r = prng(5);
  const txs: Transaction[] = [];
  for (let i = 0; i < 8; i++) {
    txs.push(
      tx({
        query: `${label(r, 60)}.${label(r, 60)}.${label(r, 60)}.${i}.drop.example`,
        ts: 5_000_000 + i / 2,
        qtype: 1,
      }),
    );
  }
  const f = findingOf(txs, "drop.example");
  assert.ok(f.score >= 40, `burst ${f.score}`);
  // Three short names stay unjudged.
  const few = findingOf(
    txs.slice(0, 3).map((x) => ({ ...x, query: x.query.slice(122), queryKey: x.queryKey.slice(122) })),
    "drop.example",
  );
  assert.ok(few.score < 40, `three names ${few.score}`);
});

Deno.test("persistence's normalization: 10 names are nothing, 300 steady ones over 10 minutes are everything", () => {
  const def = FEATURES.persistence;
  const at = (o: Record<string, number>) => {
    const f = { top_client_names: 300, cv: 0.1, query_count: 300, duration_secs: 600, ...o } as never;
    return normalize(def, FEATURES.persistence.raw(f), f, "absolute", null);
  };
  assert.equal(at({}), 1);
  assert.equal(at({ top_client_names: 10 }), 0);
  // Random timing: nothing, whatever the volume.
  assert.equal(at({ cv: 1.2 }), 0);
  assert.equal(at({ cv: 1.2, top_client_names: 30000, query_count: 30000 }), 0);
  // One minute is too short to be steady for; five minutes is half way.
  assert.equal(at({ duration_secs: 60 }), 0);
  assert.ok(Math.abs(at({ duration_secs: 330 }) - 0.5) < 1e-9);
});

Deno.test("lab captures (real iodine, dns2tcp, bind9): every channel HIGH (the burst MEDIUM), no look-alike MEDIUM", async () => {
  const r = await runCli(["eval", "--labels", `${LAB}labels.tsv`, "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  for (const mode of ["alone", "pooled"]) {
    for (const d of report[mode].domains) {
      const line = `${mode} ${d.file} ${d.domain} ${d.label} ${d.score.toFixed(1)}`;
      if (d.label === "tunnel:burst") assert.ok(d.score >= 40, line);
      else if (d.label.startsWith("tunnel")) assert.ok(d.score >= 60, line);
      else assert.ok(d.score < 40, line);
    }
  }
  const labels = new Set(report.alone.domains.map((d: { label: string }) => d.label));
  for (
    const l of [
      "tunnel:iodine-null",
      "tunnel:iodine-a",
      "tunnel:dns2tcp-key-idle",
      "tunnel:beacon",
      "tunnel:siblings",
      "tunnel:aaaa-stager",
      "benign:dnsbl",
      "benign:av-hash",
      "benign:telemetry",
    ]
  ) {
    assert.ok(labels.has(l), `no ${l} in the lab captures`);
  }
});

Deno.test("the lab's look-alikes are recognized and named, its channels are not", async () => {
  const labels = parseLabels(await Deno.readTextFile(`${LAB}labels.tsv`));
  const caps = await loadLabeled([`${LAB}lab-idle.pcap`, `${LAB}lab-slow.pcap`], labels, presetModel("tunnel"));
  for (const c of caps) {
    const classes = (d: string) => c.summaries.find((s) => s.domain === d)!.evidence.lookalikes.map((l) => l.class);
    assert.ok(classes("spamlist-lab.lab").includes("dnsbl"), c.file);
    assert.ok(classes("avcloud-lab.lab").includes("av-hash"), c.file);
    assert.ok(classes("telemetry-lab.lab").includes("telemetry"), c.file);
    assert.ok(classes("in-addr.arpa").includes("reverse"), c.file);
    assert.ok(classes("office-lab.lab").includes("dns-sd"), c.file);
    assert.deepEqual(classes("sender1-lab.lab"), ["mail-auth"], "DKIM and DMARC names are not service discovery");
    assert.ok(classes("ntp-lab.lab").includes("poller"), c.file);
    c.summaries.forEach((s, i) => {
      if (c.labels[i].startsWith("tunnel")) assert.deepEqual(classes(s.domain), [], `${c.file} ${s.domain}`);
    });
  }
});

Deno.test("eval --window 60 on the lab captures: fast channels in their first window, slow ones in the stream view, no false alarm", async () => {
  const r = await runCli(["eval", "--window", "60", "--labels", `${LAB}labels.tsv`, "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const w = JSON.parse(r.stdout);
  assert.equal(w.window_secs, 60);
  assert.equal(w.benign_windows_medium, 0, JSON.stringify(w.false_alarms));
  assert.equal(w.stream_false_alarms.length, 0, JSON.stringify(w.stream_false_alarms));
  const by = (label: string) => w.domains.filter((d: { label: string }) => d.label === label);
  for (const d of by("tunnel:iodine-null").concat(by("tunnel:dns2tcp-txt"), by("tunnel:a-stager"))) {
    assert.ok(d.windows_to_detect !== null && d.windows_to_detect <= 2, `${d.domain}: ${d.windows_to_detect}`);
  }
  for (const d of by("tunnel:beacon").concat(by("tunnel:polling-shell"))) {
    assert.equal(d.detected_window, null, `${d.domain} is too slow for one window`);
    assert.ok(d.stream_time_to_detect !== null, `${d.domain}: never in the stream view`);
  }
  const text = await runCli(["eval", "--window", "60", "--labels", `${LAB}labels.tsv`]);
  assert.match(text.stdout, /\| tunnels ≥ HIGH in their first two windows +\| \d+\/\d+ \|/);
  assert.match(text.stdout, /time to detect either way, median \/ slowest/);
  const bad = await runCli(["eval", "--window", "0", "--labels", `${LAB}labels.tsv`]);
  assert.equal(bad.code, 1);
  const empty = await Deno.makeTempFile({ suffix: ".tsv" });
  try {
    for (const args of [["eval"], ["eval", "--window", "60"], ["tune"]]) {
      const none = await runCli([...args, "--labels", empty]);
      assert.equal(none.code, 1, `${args.join(" ")}: ${none.stdout}`);
      assert.match(none.stderr, /no captures to evaluate: .* names none; add rows/);
    }
  } finally {
    await Deno.remove(empty);
  }
});

Deno.test("stream --read: a beacon too slow for any window alerts once from the stream view", async () => {
  const dir = await Deno.makeTempDir({ prefix: "plumbum-horizon-" });
  try {
    const r = await runCli([
      "stream",
      "--read",
      `${LAB}lab-slow.pcap`,
      "--window",
      "60",
      "--threshold",
      "60",
      "--dir",
      dir,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const alerts = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
    const beacon = alerts.filter((a) => a.domain === "tallow-sync.lab");
    assert.equal(beacon.length, 1, JSON.stringify(beacon));
    assert.equal(beacon[0].horizon, "stream");
    assert.ok(beacon[0].score >= 60);
    assert.ok(beacon[0].window_secs > 600, `stream view span ${beacon[0].window_secs}`);
    for (const a of alerts) assert.ok(a.horizon === "window" || a.horizon === "stream");
    // Nothing benign alerted.
    const labelled = (await Deno.readTextFile(`${LAB}labels.tsv`)).split("\n").filter((l) =>
      l.startsWith("lab-slow.pcap\t")
    );
    const tunnels = labelled.filter((l) => l.split("\t")[2].startsWith("tunnel")).map((l) => l.split("\t")[1]);
    for (const a of alerts) {
      assert.ok(tunnels.some((z) => z === a.domain || z.endsWith("." + a.domain)), `benign alert ${a.domain}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("real tools recorded on their resolver (both legs) and in short sessions are HIGH, each asked by its one client", async () => {
  const labels = parseLabels(await Deno.readTextFile(`${LAB}labels.tsv`));
  for (const file of ["lab-resolver.pcap", "lab-short.pcap"]) {
    const pipeline = new Pipeline({ model: presetModel("tunnel") });
    await pipeline.ingest([`${LAB}${file}`]);
    await pipeline.end();
    const findings = pipeline.analyzer.findings();
    const tunnels = [...labels.get(file)!].filter((r) => r.label.startsWith("tunnel:"));
    let seen = 0;
    for (const { suffix } of tunnels) {
      const f = findings.find((x) => suffix === x.domain || suffix.endsWith(`.${x.domain}`));
      if (f === undefined) continue;
      seen++;
      assert.ok(f.score >= 60, `${file} ${f.domain} ${f.score}`);
      assert.equal(f.features.client_count, 1, `${file} ${f.domain}: the resolver is no client`);
      if (file === "lab-resolver.pcap") assert.ok((f.evidence.upstream_copies ?? 0) >= f.features.query_count * 0.9);
    }
    assert.equal(seen, file === "lab-resolver.pcap" ? 6 : 4, file);
  }
});
