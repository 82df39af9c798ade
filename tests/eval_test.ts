/**
 * The evaluation harness and weight tuning, and the detection targets on
 * the labeled corpus: every tunnel ≥ HIGH alone and pooled, no benign domain
 * ≥ MEDIUM, ROC AUC 1.0.
 */
import assert from "node:assert/strict";
import { presetModel } from "../src/analysis/model.ts";
import { evaluate, loadLabeled, rocAuc } from "../src/eval/evaluate.ts";
import { labelFor, mergeLabels, parseLabels } from "../src/eval/labels.ts";
import { tune } from "../src/eval/tune.ts";
import { runCli } from "./helpers/cli.ts";
import { fromFileUrl } from "./helpers/paths.ts";
import { sharedDir } from "./helpers/shared.ts";

const root = fromFileUrl(new URL("../", import.meta.url));
const corpus = sharedDir("corpus");

Deno.test("labels: sub-zone tunnels mark their parent, the most specific benign label wins, * covers the rest", () => {
  const rows = parseLabels(
    "file\tsuffix\tlabel\nx.pcap\tt1.evil.test\ttunnel:dns2tcp\nx.pcap\tcorp.test\tbenign:corp\nx.pcap\t_tcp.corp.test\tbenign:dnssd\nx.pcap\t*\tbenign\n",
  ).get("x.pcap")!;
  assert.equal(labelFor(rows, "evil.test"), "tunnel:dns2tcp");
  assert.equal(labelFor(rows, "corp.test"), "benign:corp");
  assert.equal(labelFor(rows, "other.test"), "benign");
  assert.equal(labelFor([], "anything.test"), "benign", "unnamed domains of a capture are benign");
  assert.throws(() => parseLabels("x.pcap\tevil.test\tmalicious\n"), /tunnel" or "benign/);
});

Deno.test("ROC AUC: ranks, ties count one half", () => {
  assert.equal(rocAuc([3, 4], [1, 2]), 1);
  assert.equal(rocAuc([1], [2]), 0);
  assert.equal(rocAuc([2], [2]), 0.5);
  assert.equal(rocAuc([3, 1], [2]), 0.5);
});

Deno.test("eval on the bundled sample: the JSON document and the table", async () => {
  const r = await runCli(["eval", "--json", "--labels", `${root}fixtures/sample.labels.tsv`]);
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout);
  assert.equal(doc.alone.tunnels, 2);
  assert.equal(doc.alone.tunnel_recall_high, 1);
  assert.equal(doc.alone.benign_at_medium, 0);
  assert.equal(doc.pooled.auc, 1);
  const t = await runCli(["eval", "--labels", `${root}fixtures/sample.labels.tsv`]);
  assert.match(t.stdout, /\| tunnels ≥ HIGH +\| 2\/2 \(100\.0%\) \| 2\/2 \(100\.0%\) \|/);
  assert.match(t.stdout, /Wrong: none/);
  // The baseline is measurably worse on the same data, and eval says why.
  const b = await runCli(["eval", "--weights", "regularized", "--labels", `${root}fixtures/sample.labels.tsv`]);
  assert.match(
    b.stdout,
    /Wrong:\n {2}\[alone\] sample\.pcap \S+ is benign but scored \d+\.\d (HIGH|MEDIUM|CRITICAL): client_rarity/,
  );
  const missing = await runCli([
    "eval",
    "--labels",
    `${root}fixtures/sample.labels.tsv`,
    `${root}fixtures/hostile-names.pcap`,
  ]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /no labels for hostile-names\.pcap/);
});

Deno.test("tune: deterministic for a seed, cross-validated, prints an HCL block", async () => {
  const labels = parseLabels(Deno.readTextFileSync(`${root}fixtures/sample.labels.tsv`));
  const caps = await loadLabeled([`${root}fixtures/sample.pcap`], labels, presetModel("tunnel"));
  const a = tune(caps, presetModel("regularized"), { seed: 3, folds: 2, iterations: 60 });
  const b = tune(caps, presetModel("regularized"), { seed: 3, folds: 2, iterations: 60 });
  assert.deepEqual(a, b);
  assert.equal(a.folds.length, 2);
  assert.equal(a.folds.reduce((n, f) => n + f.heldOut.tunnels, 0), 2, "each tunnel is held out once");
  const r = await runCli([
    "tune",
    "--labels",
    `${root}fixtures/sample.labels.tsv`,
    "--seed",
    "3",
    "--folds",
    "2",
    "--iterations",
    "40",
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /\| all held-out \|/);
  assert.match(
    r.stdout,
    /analysis \{\n {2}weight_preset = "tunnel"\n {2}normalization = "absolute"\n( {2}\w+_weight += {1,2}[\d.e-]+\n)+\}/,
  );
});

Deno.test({
  name: "targets on the labeled corpus: every tunnel ≥ HIGH alone and pooled, no benign ≥ MEDIUM, ROC AUC 1.0",
  ignore: corpus === null,
  async fn() {
    const sets = [
      parseLabels(Deno.readTextFileSync(`${corpus}/labels.tsv`)),
      parseLabels(Deno.readTextFileSync(`${corpus}/public/labels.tsv`)),
    ];
    const labels = mergeLabels(sets);
    const paths = [...sets[0].keys()].map((f) => `${corpus}/${f}`).concat(
      [...sets[1].keys()].map((f) => `${corpus}/public/${f}`),
    );
    const model = presetModel("tunnel");
    const report = evaluate(await loadLabeled(paths, labels, model), model);
    for (const mode of ["alone", "pooled"] as const) {
      const f = report[mode];
      const why = f.wrong.map((d) => `${d.file} ${d.domain} ${d.label} ${d.score.toFixed(1)}`).join("; ");
      assert.equal(f.tunnels, 13);
      assert.equal(f.tunnel_recall_high, 1, `${mode}: ${why}`);
      assert.equal(f.benign_at_medium, 0, `${mode}: ${why}`);
      assert.equal(f.auc, 1, mode);
    }
  },
});

Deno.test({
  name: "look-alikes in the corpus are recognized and explained, not dropped",
  ignore: corpus === null,
  async fn() {
    const labels = parseLabels(Deno.readTextFileSync(`${corpus}/labels.tsv`));
    const [cap] = await loadLabeled([`${corpus}/mixed-s101.pcap`], labels, presetModel("tunnel"));
    const classes = (d: string) => cap.summaries.find((s) => s.domain === d)!.evidence.lookalikes.map((l) => l.class);
    assert.ok(classes("wisply.test").includes("dnsbl"));
    assert.ok(classes("lark-kart.test").includes("dnsbl"));
    assert.ok(classes("jet-cyan.test").includes("av-hash"));
    assert.ok(classes("in-addr.arpa").includes("reverse"));
    assert.ok(classes("corp8-lark.test").includes("dns-sd"));
    assert.ok(classes("larklab.test").includes("poller"));
    assert.ok(classes("jolt27.example").includes("mail-auth"));
    assert.deepEqual(classes("vale-flow.test"), []);
    assert.deepEqual(classes("lime-hollow.test"), []);
    // Every scored domain is still there: nothing was dropped.
    assert.equal(cap.summaries.length, 200);
  },
});

Deno.test("eval --jobs: the lab's captures read a thread each give the same document; an unreadable one is said the same", async () => {
  const labels = `${root}fixtures/lab/labels.tsv`;
  const one = await runCli(["eval", "--labels", labels, "--json", "--jobs", "1"]);
  const two = await runCli(["eval", "--labels", labels, "--json", "--jobs", "2"]);
  assert.equal(one.code, 0, one.stderr);
  assert.equal(two.code, 0, two.stderr);
  assert.ok(JSON.parse(one.stdout).captures.length >= 4);
  assert.equal(two.stdout, one.stdout);
  // A capture the labels name that is not a capture: the same sentence, exit 1, either way.
  const dir = Deno.makeTempDirSync({ prefix: "plumbum-evaljobs-" });
  try {
    Deno.copyFileSync(`${root}fixtures/lab/lab-idle.pcap`, `${dir}/a.pcap`);
    Deno.writeTextFileSync(`${dir}/b.pcap`, "not a capture\n");
    Deno.writeTextFileSync(`${dir}/labels.tsv`, "a.pcap\t*\tbenign:lab\nb.pcap\t*\tbenign:lab\n");
    const said = await Promise.all(
      ["1", "2"].map((j) => runCli(["eval", "--labels", `${dir}/labels.tsv`, "--jobs", j])),
    );
    for (const r of said) {
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /b\.pcap: not a PCAP/);
    }
    assert.equal(said[1].stderr, said[0].stderr);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
