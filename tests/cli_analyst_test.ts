/**
 * The analyst's commands run as a user runs them, against a real SQLite
 * file in a temporary workspace: init, apply, show, explain, export, runs.
 */
import assert from "node:assert/strict";
import Ajv from "npm:ajv@8.20.0";
import Ajv2020 from "npm:ajv@8.20.0/dist/2020.js";
import addFormats from "npm:ajv-formats@3.0.1";
import { parse as parseCsv } from "npm:csv-parse@7.0.3/sync";
import { parse as parseYaml } from "npm:yaml@2.9.1";
import { PRESETS } from "../src/analysis/model.ts";
import { runCli } from "./helpers/cli.ts";
import { fromFileUrl } from "./helpers/paths.ts";
import { sharedDir } from "./helpers/shared.ts";
import { HOSTILE_PCAP } from "./helpers/make_hostile_fixture.ts";

const root = fromFileUrl(new URL("../", import.meta.url));
const sample = `${root}fixtures/sample.pcap`;
const hostile = `${root}fixtures/hostile-names.pcap`;

function tempWorkspace(): string {
  return Deno.makeTempDirSync({ prefix: "plumbum-test-" });
}

Deno.test("the hostile fixture on disk is what the generator builds", () => {
  assert.deepEqual(Deno.readFileSync(hostile), HOSTILE_PCAP);
});

Deno.test("init writes a commented config with the tunnel-model defaults, is idempotent, keeps edits without --force", async () => {
  const cwd = tempWorkspace();
  const r = await runCli(["init"], undefined, { cwd });
  assert.equal(r.code, 0, r.stderr);
  const cfg = Deno.readTextFileSync(`${cwd}/.plumbum/config.hcl`);
  for (
    const line of [
      'weight_preset = "tunnel"',
      'normalization = "absolute"',
      "critical = 80",
      "high     = 60",
      "medium   = 40",
    ]
  ) assert.ok(cfg.includes(line), line);
  for (const [k, w] of Object.entries(PRESETS.tunnel)) {
    assert.match(cfg, new RegExp(`${k}_weight\\s+= ${w.toFixed(2)}`));
  }
  assert.match(cfg, /# Weight preset: default, optimized, regularized, tunnel/);
  assert.ok(Deno.statSync(`${cwd}/.plumbum/plumbum.db`).isFile);
  Deno.writeTextFileSync(`${cwd}/.plumbum/config.hcl`, cfg.replace("critical = 80", "critical = 85"));
  const again = await runCli(["init"], undefined, { cwd });
  assert.equal(again.code, 0);
  assert.match(again.stdout, /kept/);
  assert.match(Deno.readTextFileSync(`${cwd}/.plumbum/config.hcl`), /critical = 85/);
  await runCli(["init", "--force"], undefined, { cwd });
  assert.match(Deno.readTextFileSync(`${cwd}/.plumbum/config.hcl`), /critical = 80/);
  Deno.removeSync(cwd, { recursive: true });
});

Deno.test("config errors name the file, the key and the fix (exit 1)", async () => {
  const cwd = tempWorkspace();
  await runCli(["init"], undefined, { cwd });
  const path = `${cwd}/.plumbum/config.hcl`;
  const cases: [string, RegExp][] = [
    [
      "analysis {\n  entropy_weigth = 0.1\n}\n",
      /unknown key "analysis\.entropy_weigth"; did you mean "entropy_weight"\?/,
    ],
    ['analysis {\n  volume_weight = "high"\n}\n', /analysis\.volume_weight must be a finite number/],
    ["analysis {\n  length_weight = -1\n}\n", /analysis\.length_weight is negative/],
    [
      "thresholds {\n  critical = 50\n  high = 60\n  medium = 40\n}\n",
      /thresholds are out of order.*critical > high > medium/,
    ],
    ['analysis {\n  weight_preset = "best"\n}\n', /weight_preset must be one of "default", "optimized", "regularized"/],
    ["analysis {\n", /not valid HCL/],
  ];
  for (const [text, re] of cases) {
    Deno.writeTextFileSync(path, text);
    const r = await runCli(["apply", sample], undefined, { cwd });
    assert.equal(r.code, 1, text);
    assert.match(r.stderr, re);
    assert.ok(r.stderr.includes(path) || r.stderr.includes(".plumbum/config.hcl"), "names the file");
  }
  Deno.removeSync(cwd, { recursive: true });
});

Deno.test("apply prints the findings table and summary; --json prints the export document; runs and --run read older runs", async () => {
  const cwd = tempWorkspace();
  const r = await runCli(["apply", sample, "--c2-domains", "vale-flow.test"], undefined, { cwd });
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.split("\n");
  assert.equal(lines[0], "Plumbum Findings:");
  assert.match(r.stdout, /^(CRITICAL|HIGH|MEDIUM) +\d+\.\d {2}vale-flow\.test {2}\(c2\)$/m);
  assert.match(r.stdout, /Artifacts written to \.plumbum\/plumbum\.db \(run #1\)/);
  assert.match(r.stdout, /^Summary: \d+ domains scored, \d+ CRITICAL, \d+ HIGH, \d+ MEDIUM$/m);
  const j = await runCli(["apply", "--json", "--weights", "optimized", sample], undefined, { cwd });
  assert.equal(j.code, 0, j.stderr);
  const doc = JSON.parse(j.stdout);
  assert.equal(doc.run.id, 2);
  assert.equal(doc.run.config.model.preset, "optimized");
  const runs = JSON.parse((await runCli(["runs", "--json"], undefined, { cwd })).stdout).runs;
  assert.deepEqual(runs.map((x: { id: number; status: string }) => [x.id, x.status]), [[2, "complete"], [
    1,
    "complete",
  ]]);
  const old = JSON.parse((await runCli(["export", "--run", "1"], undefined, { cwd })).stdout);
  assert.equal(old.run.id, 1);
  assert.equal(old.run.config.model.preset, "tunnel");
  assert.ok(old.domains.find((d: { domain: string; is_c2: boolean }) => d.domain === "vale-flow.test").is_c2);
  const none = await runCli(["export", "--run", "9"], undefined, { cwd });
  assert.equal(none.code, 1);
  assert.match(none.stderr, /no run #9/);
  Deno.removeSync(cwd, { recursive: true });
});

Deno.test("explain shows the decomposition in the documented format; --feature drills in; unknown domains get suggestions", async () => {
  const cwd = tempWorkspace();
  await runCli(["apply", sample], undefined, { cwd });
  const e = await runCli(["explain", "vale-flow.test"], undefined, { cwd });
  assert.equal(e.code, 0, e.stderr);
  assert.match(e.stdout, /^Domain: vale-flow\.test$/m);
  assert.match(e.stdout, /^Score: {2}\d+\.\d \((CRITICAL|HIGH|MEDIUM|LOW)\)$/m);
  for (const f of Object.keys(PRESETS.tunnel)) {
    assert.match(
      e.stdout,
      new RegExp(`^  ${f} +norm=\\d\\.\\d{3}  w=\\d\\.\\d{4}  contrib=\\d\\.\\d{3}  \\( ?\\d+\\.\\d%\\)`, "m"),
      f,
    );
  }
  assert.match(e.stdout, /busiest sub-zone t1\.vale-flow\.test/);
  assert.match(e.stdout, /clients +10\.53\.0\.22/);
  const p = await runCli(["explain", "vale-flow.test", "--feature", "name_information"], undefined, { cwd });
  assert.match(p.stdout, /bits per distinct name/);
  const bad = await runCli(["explain", "vale-flow.test", "--feature", "periodicty"], undefined, { cwd });
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /did you mean "periodicity"\? It is scored only under another weight preset/);
  // A baseline feature asked of a run scored with the tunnel model: say where it lives, suggest nothing.
  const other = await runCli(["explain", "vale-flow.test", "--feature", "periodicity"], undefined, { cwd });
  assert.equal(other.code, 1);
  assert.match(other.stderr, /"periodicity" is not a feature of this run \(scored only under another weight preset/);
  assert.doesNotMatch(other.stderr, /did you mean/);
  const typo = await runCli(["explain", "vale-flow.test", "--feature", "name_uniquenes"], undefined, { cwd });
  assert.match(typo.stderr, /did you mean "name_uniqueness"\?\)/);
  const j = JSON.parse((await runCli(["explain", "vale-flow.test", "--json"], undefined, { cwd })).stdout);
  assert.equal(j.domain, "vale-flow.test");
  assert.ok(Array.isArray(j.evidence.sample_names) && j.evidence.sample_names.length > 0);
  assert.equal(j.components.length, 6);
  assert.match(e.stdout, /capacity +≈ \d+(\.\d)? KB could have moved through this domain in/);
  // The baseline stays selectable, with its six features.
  await runCli(["apply", "--weights", "regularized", sample], undefined, { cwd });
  const b = await runCli(["explain", "vale-flow.test"], undefined, { cwd });
  for (const f of ["entropy", "periodicity", "volume", "length", "client_rarity", "subdomain_diversity"]) {
    assert.match(
      b.stdout,
      new RegExp(`^  ${f} +norm=\\d\\.\\d{3}  w=\\d\\.\\d{4}  contrib=\\d\\.\\d{3}  \\( ?\\d+\\.\\d%\\)`, "m"),
      f,
    );
  }
  const per = await runCli(["explain", "vale-flow.test", "--feature", "periodicity"], undefined, { cwd });
  assert.match(per.stdout, /Inter-query gaps \(\d+\): mean/);
  const u = await runCli(["explain", "vale-flow.tst"], undefined, { cwd });
  assert.equal(u.code, 1);
  assert.match(u.stderr, /closest scored: vale-flow\.test/);
  const sub = await runCli(["explain", "t1.vale-flow.test"], undefined, { cwd });
  assert.match(sub.stderr, /it is under vale-flow\.test/);
  const show = await runCli(["show", "vale-flow.test"], undefined, { cwd });
  assert.match(show.stdout, /query_count +\d+/);
  assert.match(show.stdout, /Evidence:/);
  Deno.removeSync(cwd, { recursive: true });
});

Deno.test("export: JSON matches the contract's schema; CSV parses; Sigma passes the official Sigma schema", async () => {
  const cwd = tempWorkspace();
  await runCli(["apply", sample], undefined, { cwd });
  const json = JSON.parse((await runCli(["export", "--format", "json", "-o", "-"], undefined, { cwd })).stdout) as {
    run: { sources: { sha256: string }[] };
    domains: { domain: string; score: number }[];
  };
  const ajv = new Ajv.default({ allErrors: true });
  const validate = ajv.compile(JSON.parse(Deno.readTextFileSync(`${root}schemas/export.schema.json`)));
  assert.ok(validate(structuredClone(json)), JSON.stringify(validate.errors));
  const scores = json.domains.map((d: { score: number }) => d.score);
  assert.deepEqual(scores, [...scores].sort((a: number, b: number) => b - a), "sorted by score, highest first");
  assert.match(json.run.sources[0].sha256, /^[0-9a-f]{64}$/);
  const expectedSha = Array.from(
    new Uint8Array(await crypto.subtle.digest("SHA-256", Deno.readFileSync(sample))),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
  assert.equal(json.run.sources[0].sha256, expectedSha);
  const csv = parseCsv((await runCli(["export", "--format", "csv"], undefined, { cwd })).stdout, {
    columns: true,
  }) as Record<string, string>[];
  assert.equal(csv.length, json.domains.length);
  assert.equal(csv[0].domain, json.domains[0].domain);
  const out = `${cwd}/rule.yml`;
  const s = await runCli(["export", "--format", "sigma", "-o", out, "--min-severity", "LOW"], undefined, { cwd });
  assert.equal(s.code, 0, s.stderr);
  assert.ok(await sigmaValid(Deno.readTextFileSync(out)));
  Deno.removeSync(cwd, { recursive: true });
});

const sigmaDir = sharedDir("conformance/sigma");

async function sigmaValid(yamlText: string): Promise<boolean> {
  const rule = parseYaml(yamlText);
  assert.deepEqual(rule.logsource, { category: "dns" });
  assert.deepEqual(rule.tags, [
    "attack.command-and-control",
    "attack.t1071.004",
    "attack.exfiltration",
    "attack.t1048.003",
  ]);
  assert.ok(Array.isArray(rule.detection.selection_subdomain["query|endswith"]));
  if (sigmaDir === null) return true;
  const ajv = new Ajv2020.default({ allErrors: true, strict: false });
  addFormats.default(ajv);
  const validate = ajv.compile(JSON.parse(await Deno.readTextFile(`${sigmaDir}/sigma-detection-rule-schema.json`)));
  if (!validate(rule)) throw new Error(JSON.stringify(validate.errors));
  return true;
}

Deno.test("the official Sigma schema accepts SigmaHQ's own DNS rules (the validator itself works)", async (t) => {
  if (sigmaDir === null) {
    await t.step({ name: "needs ../shared/conformance/sigma", ignore: true, fn() {} });
    return;
  }
  const ajv = new Ajv2020.default({ allErrors: true, strict: false });
  addFormats.default(ajv);
  const validate = ajv.compile(JSON.parse(await Deno.readTextFile(`${sigmaDir}/sigma-detection-rule-schema.json`)));
  for (const e of Deno.readDirSync(`${sigmaDir}/rules`)) {
    assert.ok(validate(parseYaml(Deno.readTextFileSync(`${sigmaDir}/rules/${e.name}`))), e.name);
  }
  assert.equal(
    validate({ title: "x", logsource: {}, detection: { condition: "a" }, date: "2026/01/01" }),
    false,
    "rejects a bad date",
  );
});

Deno.test("hostile names stay inert in terminal, JSON, CSV and Sigma output", async () => {
  const cwd = tempWorkspace();
  const a = await runCli(["apply", "--all", hostile], undefined, { cwd });
  assert.equal(a.code, 0, a.stderr);
  const terminalOutputs = [a.stdout, a.stderr];
  const json = await runCli(["export", "--format", "json"], undefined, { cwd });
  const doc = JSON.parse(json.stdout);
  assert.ok(doc.domains.length >= 3);
  for (const d of doc.domains) {
    const e = await runCli(["explain", d.domain], undefined, { cwd });
    assert.equal(e.code, 0, `${d.domain}: ${e.stderr}`);
    terminalOutputs.push(e.stdout, (await runCli(["show", d.domain], undefined, { cwd })).stdout);
    const ej = JSON.parse((await runCli(["explain", d.domain, "--json"], undefined, { cwd })).stdout);
    for (const n of ej.evidence.sample_names) {
      assert.ok(!/[\x00-\x1f\x7f\u202e]/.test(n), `JSON name is escaped: ${JSON.stringify(n)}`);
    }
  }
  for (const t of terminalOutputs) {
    assert.ok(
      !/[\x00-\x08\x0b-\x1f\x7f]/.test(t),
      `no control characters reach the terminal: ${JSON.stringify(t.slice(0, 200))}`,
    );
    assert.ok(!t.includes("\u202e"));
  }
  // Terminal escapes are visible as text.
  assert.ok(terminalOutputs.some((t) => t.includes("\\x1b]0;pwn\\x07.test")));
  // CSV: well-formed, and no cell starts a formula.
  const csvText = (await runCli(["export", "--format", "csv"], undefined, { cwd })).stdout;
  const rows = parseCsv(csvText, { columns: true }) as Record<string, string>[];
  assert.equal(rows.length, doc.domains.length);
  for (const r of rows) assert.ok(!/^[=+\-@\t\r]/.test(r.domain), `formula neutralized: ${r.domain}`);
  assert.ok(rows.some((r) => r.domain === "'=1+1.test"));
  // Sigma: valid YAML and schema, and the hostile names survive as data.
  const sigma = await runCli(["export", "--format", "sigma", "--min-severity", "LOW"], undefined, { cwd });
  assert.equal(sigma.code, 0, sigma.stderr);
  assert.ok(await sigmaValid(sigma.stdout));
  const rule = parseYaml(sigma.stdout);
  assert.ok(rule.detection.selection_domain.query.includes("=1+1.test"));
  assert.ok(rule.detection.selection_domain.query.includes("\\x1b]0;pwn\\x07.test"));
  Deno.removeSync(cwd, { recursive: true });
});

Deno.test("apply: a missing input is refused before any run is recorded; reading without results says what to do", async () => {
  const cwd = tempWorkspace();
  const none = await runCli(["show", "x.test"], undefined, { cwd });
  assert.equal(none.code, 1);
  assert.match(none.stderr, /no results in \.plumbum\/ yet: run `plumbum apply CAPTURE` first/);
  const r = await runCli(["apply", sample, `${cwd}/missing.pcap`], undefined, { cwd });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /missing\.pcap: no such file/);
  const runs = await runCli(["runs", "--json"], undefined, { cwd });
  assert.deepEqual(JSON.parse(runs.stdout).runs, []);
  Deno.removeSync(cwd, { recursive: true });
});
