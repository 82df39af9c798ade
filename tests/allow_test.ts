import assert from "node:assert/strict";
import { runCli } from "./helpers/cli.ts";
import { fromFileUrl } from "./helpers/paths.ts";
import { parseConfig } from "../src/config/config.ts";

const sample = fromFileUrl(new URL("../fixtures/sample.pcap", import.meta.url));

/** A workspace whose config.hcl ends with `allow`. */
async function workspace(allow: string): Promise<string> {
  const dir = await Deno.makeTempDir();
  assert.equal((await runCli(["init", "--dir", dir])).code, 0);
  await Deno.writeTextFile(`${dir}/config.hcl`, (await Deno.readTextFile(`${dir}/config.hcl`)) + allow);
  return dir;
}

Deno.test("allow: an entry needs a name, a reason, addresses and a day; one sentence says what is wrong", async () => {
  const bad: [string, RegExp][] = [
    [`allow {\n domain = "x.test"\n}\n`, /allow \{ domain = "x\.test" \} needs a reason \(reason = "…"\)/],
    [`allow {\n domain = "x.test"\n reason = " "\n}\n`, /needs a reason/],
    [`allow {\n reason = "r"\n}\n`, /an allow block needs the domain it allows/],
    [
      `allow {\n domain = "x.test"\n reason = "r"\n clients = ["10.0.0.300"]\n}\n`,
      /clients must be a list of IPv4 or IPv6 .*"10\.0\.0\.300" is not one/,
    ],
    [`allow {\n domain = "x.test"\n reason = "r"\n expires = "2027-02-30"\n}\n`, /expires must be a day, "YYYY-MM-DD"/],
    [`allow {\n domain = "x.test"\n reason = "r"\n reasn = "r"\n}\n`, /unknown key "reasn"; did you mean "reason"/],
    [`allow {\n domain = "a..test"\n reason = "r"\n}\n`, /name a domain/],
    [
      `allow {\n domain = "x.test"\n reason = "r"\n}\nallow {\n domain = "X.test."\n reason = "s"\n}\n`,
      /appears more than once/,
    ],
    [`allow "x.test" {\n reason = "r"\n}\n`, /an allow block is one entry: allow \{ domain = /],
  ];
  for (const [text, message] of bad) {
    await assert.rejects(() => parseConfig(text, "config.hcl"), (e: Error) => {
      assert.match(e.message, message, text);
      assert.doesNotMatch(e.message, /\n/);
      return true;
    });
  }
  const cfg = await parseConfig(
    `allow {\n domain = "CDN.Example.COM."\n reason = " signed URLs "\n clients = ["10.0.0.5", "2001:DB8::5"]\n expires = "2027-06-01"\n}\n`,
    "config.hcl",
  );
  assert.deepEqual(cfg.allow, [{
    name: "cdn.example.com",
    reason: "signed URLs",
    clients: ["10.0.0.5", "2001:db8::5"],
    expires: "2027-06-01",
  }]);
});

Deno.test("allow: an allowed domain is scored, stored and marked; listings leave it out and say so; --include-suppressed brings it back", async () => {
  const dir = await workspace(`
allow {
  domain = "lime-hollow.test"
  reason = "our own iodine test server"
}
allow {
  domain  = "flow.test"
  reason  = "a suffix, but only for a client that never asked"
  clients = ["192.0.2.99"]
}
allow {
  domain  = "old.test"
  reason  = "expired"
  expires = "2020-01-01"
}
`);
  try {
    const applied = await runCli(["apply", "--dir", dir, sample]);
    assert.equal(applied.code, 0, applied.stderr);
    assert.match(applied.stderr, /allow "old\.test" expired on 2020-01-01: it no longer applies/);
    assert.match(applied.stderr, /1 domain allowed by config\.hcl left out \(--include-suppressed lists them\)/);
    assert.doesNotMatch(applied.stdout, /lime-hollow/);
    // vale-flow.test's client is not the entry's: a new client is news, never suppressed.
    assert.match(applied.stdout, /CRITICAL +\d+\.\d +vale-flow\.test/);
    assert.match(applied.stdout, /1 allowed by config\.hcl \(not listed\)/);
    const exported = await runCli(["export", "--dir", dir]);
    const domains = JSON.parse(exported.stdout).domains.map((d: { domain: string }) => d.domain);
    assert.ok(!domains.includes("lime-hollow.test") && domains.includes("vale-flow.test"));
    assert.match(exported.stderr, /1 domain allowed/);
    const all = JSON.parse((await runCli(["export", "--dir", dir, "--include-suppressed"])).stdout).domains;
    const lime = all.find((d: { domain: string }) => d.domain === "lime-hollow.test");
    assert.deepEqual(lime.suppressed, {
      entry: "lime-hollow.test",
      reason: "our own iodine test server",
      expires: null,
    });
    assert.equal(lime.severity, "CRITICAL");
    // An RPZ never blocks what the site allowed.
    const rpz = (await runCli(["export", "--format", "rpz", "--dir", dir])).stdout;
    assert.ok(!rpz.includes("lime-hollow") && rpz.includes("vale-flow.test CNAME ."));
    // The finding itself says why it is quiet.
    const show = await runCli(["show", "lime-hollow.test", "--dir", dir]);
    assert.match(show.stdout, /Allowed: +suppressed by allow "lime-hollow\.test": our own iodine test server/);
    // The page handed on says it too.
    const report = await runCli(["report", "-o", `${dir}/../allow-report-${Deno.pid}.html`, "--dir", dir]);
    assert.equal(report.code, 0, report.stderr);
    const html = await Deno.readTextFile(`${dir}/../allow-report-${Deno.pid}.html`);
    await Deno.remove(`${dir}/../allow-report-${Deno.pid}.html`);
    assert.match(html, /Allowed by config\.hcl \(<code>lime-hollow\.test<\/code>\): our own iodine test server/);
    // The run keeps the list it ran with.
    const runs = JSON.parse((await runCli(["runs", "--json", "--dir", dir])).stdout).runs;
    assert.equal(runs[0].config.allow.length, 3);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("allow: stream holds back an allowed domain's alerts and counts them; the others alert", async () => {
  const dir = await workspace(`allow {\n  domain = "lime-hollow.test"\n  reason = "lab"\n}\n`);
  try {
    const r = await runCli(["stream", "--read", sample, "--dir", dir]);
    assert.equal(r.code, 0, r.stderr);
    const alerts = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
    assert.ok(alerts.length > 0 && alerts.every((a) => a.domain !== "lime-hollow.test"), r.stdout);
    assert.match(r.stderr, /alerts \((\d+) held back by the allow-list\)/);
    const runs = JSON.parse((await runCli(["runs", "--json", "--dir", dir])).stdout).runs;
    assert.ok(runs[0].live.suppressed_alerts > 0, JSON.stringify(runs[0].live));
    // --include-suppressed: its alerts too, marked.
    const all = await runCli(["stream", "--read", sample, "--include-suppressed", "--dir", dir]);
    const marked = all.stdout.trim().split("\n").map((l) => JSON.parse(l)).filter((a) =>
      a.domain === "lime-hollow.test"
    );
    assert.ok(marked.length > 0 && marked.every((a) => a.suppressed?.reason === "lab"), all.stdout);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
