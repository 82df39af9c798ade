import assert from "node:assert/strict";
import { runCli } from "./helpers/cli.ts";
import { fromFileUrl } from "./helpers/paths.ts";
import { exportRpz, zoneName } from "../src/present/siem.ts";
import { ResultsReader } from "../src/store/reader.ts";

const sample = fromFileUrl(new URL("../fixtures/sample.pcap", import.meta.url));
const ecs = JSON.parse(Deno.readTextFileSync(new URL("../fixtures/ecs_fields.json", import.meta.url))) as {
  fields: Record<string, { type: string; array?: true; allowed?: string[] }>;
};

/** Every leaf of `doc` as [dotted path, value] (arrays are leaves). */
function leaves(doc: Record<string, unknown>, prefix = ""): [string, unknown][] {
  return Object.entries(doc).flatMap(([k, v]) =>
    v !== null && typeof v === "object" && !Array.isArray(v)
      ? leaves(v as Record<string, unknown>, `${prefix}${k}.`)
      : [[`${prefix}${k}`, v] as [string, unknown]]
  );
}

/** Whether `v` fits an ECS field of `type`. */
function fits(type: string, v: unknown): boolean {
  switch (type) {
    case "keyword":
    case "constant_keyword":
    case "wildcard":
    case "match_only_text":
    case "text":
      return typeof v === "string";
    case "long":
    case "integer":
    case "short":
    case "byte":
      return Number.isInteger(v);
    case "float":
    case "scaled_float":
    case "double":
      return typeof v === "number";
    case "date":
      return typeof v === "string" && !Number.isNaN(Date.parse(v));
    case "ip":
      return typeof v === "string" && /^(\d{1,3}(\.\d{1,3}){3}|[0-9a-f:.]+)$/i.test(v);
    default:
      return false;
  }
}

/** ECS says nothing against `doc`: each field is ECS's (or Plumbum's own object, or a label), of its type. */
function checkEcs(doc: Record<string, unknown>): void {
  for (const [path, value] of leaves(doc)) {
    if (path.startsWith("plumbum.") || path.startsWith("labels.")) continue;
    const f = ecs.fields[path];
    assert.ok(f !== undefined, `${path} is not an ECS field`);
    const values = Array.isArray(value) ? value : [value];
    assert.ok(!Array.isArray(value) || f.array === true, `${path} is not an array field in ECS`);
    for (const v of values) {
      assert.ok(fits(f.type, v), `${path}: ${JSON.stringify(v)} is not an ECS ${f.type}`);
      if (f.allowed !== undefined) assert.ok(f.allowed.includes(v as string), `${path}: "${v}" is not allowed`);
    }
  }
  for (const v of Object.values(doc.labels as Record<string, unknown>)) assert.equal(typeof v, "string");
}

Deno.test("export --format ecs: one ECS alert a line, every field ECS's own with its type and allowed values", async () => {
  const dir = await Deno.makeTempDir();
  try {
    assert.equal((await runCli(["apply", "--dir", dir, sample])).code, 0);
    const r = await runCli(["export", "--format", "ecs", "--min-severity", "MEDIUM", "--dir", dir]);
    assert.equal(r.code, 0, r.stderr);
    const docs = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(docs.map((d) => d.dns.question.registered_domain).sort(), ["lime-hollow.test", "vale-flow.test"]);
    for (const d of docs) {
      checkEcs(d);
      assert.equal(d.event.kind, "alert");
      assert.equal(d.plumbum.severity, "CRITICAL");
      assert.match(
        d.message,
        /^DNS tunnelling suspected under (lime-hollow|vale-flow)\.test: CRITICAL \d+\.\d, (iodine|dns2tcp)/,
      );
      assert.match(d.source.ip, /^10\./);
      assert.ok(d.plumbum.components.length > 0);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("export --format rpz: each domain and the names under it, relative to the zone; hostile names cannot add a record", async () => {
  const dir = await Deno.makeTempDir();
  try {
    assert.equal((await runCli(["apply", "--dir", dir, sample])).code, 0);
    const r = await runCli(["export", "--format", "rpz", "--dir", dir]);
    assert.equal(r.code, 0, r.stderr);
    const records = r.stdout.split("\n").filter((l) => /CNAME/.test(l) && !l.startsWith(";"));
    assert.deepEqual(records, [
      "lime-hollow.test CNAME .",
      "*.lime-hollow.test CNAME .",
      "vale-flow.test CNAME .",
      "*.vale-flow.test CNAME .",
    ]);
    assert.match(r.stdout, /; lime-hollow\.test: CRITICAL \d+\.\d, iodine by its wire signature; /);
    // Nothing at CRITICAL and above but these two; nothing at all is a zone that blocks nothing, said.
    const none = await runCli(["export", "--format", "rpz", "--dir", dir, "--min-severity", "CRITICAL", "--run", "1"]);
    assert.equal(none.code, 0);
    assert.equal(zoneName("a b.\u00ff.\u00ff\u0100.test"), "a\\032b.\\255.\\195\\191\\196\\128.test");
    assert.equal(zoneName("x..test"), null);
    assert.equal(zoneName("x".repeat(64) + ".test"), null);
    // Names a capture may carry: a line break, $INCLUDE, a quote, bytes; each stays one name or is left out.
    const reader = ResultsReader.open(`${dir}/plumbum.db`);
    const f = reader.findings(1)[0];
    const run = reader.run(1)!;
    reader.close();
    const hostile = ["evil\n$INCLUDE /etc/passwd.test", 'q"u;o(t)e.test', "\u0000\u00ff.test", "a..b.test"];
    const zone = exportRpz(run, hostile.map((domain) => ({ ...f, domain })));
    assert.ok(!/^\$INCLUDE/m.test(zone), zone);
    const lines = zone.split("\n").filter((l) =>
      l !== "" && !l.startsWith(";") && !l.startsWith("$TTL") && !l.startsWith("@")
    );
    assert.equal(lines.length, 6, zone);
    for (const l of lines) assert.match(l, /^(\*\.)?[A-Za-z0-9_\-\\.]+ CNAME \.$/);
    const check = new Deno.Command("sh", { args: ["-c", "command -v named-checkzone"], stdout: "null" }).outputSync();
    if (check.success) {
      Deno.writeTextFileSync(`${dir}/hostile.rpz`, zone);
      const c = new Deno.Command("named-checkzone", { args: ["plumbum.rpz", `${dir}/hostile.rpz`], stdout: "piped" })
        .outputSync();
      assert.ok(c.success, new TextDecoder().decode(c.stdout));
    } else console.error("named-checkzone absent: the zone's syntax is checked by the BIND test (CI installs bind9)");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("stream --format ecs: each alert an ECS document naming its window and run", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const r = await runCli(["stream", "--read", sample, "--format", "ecs", "--quiet", "--dir", dir]);
    assert.equal(r.code, 0, r.stderr);
    const docs = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
    assert.ok(docs.length >= 2, r.stdout);
    for (const d of docs) {
      checkEcs(d);
      assert.match(d.event.dataset, /^plumbum\.(window|stream)$/);
      assert.equal(d.labels.plumbum_run, "1");
      assert.ok(Date.parse(d.event.end) > Date.parse(d.event.start));
    }
    assert.ok(docs.some((d) => d.dns.question.registered_domain === "lime-hollow.test"));
    const bad = await runCli(["stream", "--read", sample, "--format", "xml", "--dir", dir]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /--format must be plumbum or ecs, not "xml"/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
