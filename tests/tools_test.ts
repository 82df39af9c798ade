/** Tunnel tools named by their wire signature, in every output, and never on benign traffic. */
import assert from "node:assert/strict";
import { runCli } from "./helpers/cli.ts";
import { fromFileUrl } from "./helpers/paths.ts";
import { sharedDir } from "./helpers/shared.ts";
import { tx } from "./helpers/transaction.ts";
import { Analyzer } from "../src/analysis/analyze.ts";
import { presetModel } from "../src/analysis/model.ts";
import { prng } from "../src/eval/tune.ts";

const SAMPLE = fromFileUrl(new URL("../fixtures/sample.pcap", import.meta.url));
const PUBLIC = sharedDir("corpus/public");

Deno.test("tool: apply names iodine and dns2tcp in export, explain --json and explain text; benign domains get null", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const a = await runCli(["apply", "--dir", dir, SAMPLE]);
    assert.equal(a.code, 0, a.stderr);
    const e = await runCli(["export", "--dir", dir, "--format", "json", "-o", "-"]);
    assert.equal(e.code, 0, e.stderr);
    const domains: { domain: string; tool: { name: string; evidence: string } | null }[] = JSON.parse(e.stdout).domains;
    const tool = (d: string) => domains.find((x) => x.domain === d)!.tool;
    assert.equal(tool("vale-flow.test")?.name, "dns2tcp");
    assert.equal(tool("lime-hollow.test")?.name, "iodine");
    assert.match(tool("lime-hollow.test")!.evidence, /Base128/);
    for (const d of domains) assert.ok("tool" in d, d.domain);
    assert.ok(domains.filter((d) => d.tool === null).length >= domains.length - 2);
    const j = await runCli(["explain", "--dir", dir, "--json", "vale-flow.test"]);
    assert.equal(JSON.parse(j.stdout).tool.name, "dns2tcp");
    const t = await runCli(["explain", "--dir", dir, "vale-flow.test"]);
    assert.match(t.stdout, /tool +dns2tcp: .*=auth/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("tool: every public tool capture is named (dns2tcp, dnscat2, DNSExfiltrator, iodine, sods)", {
  ignore: PUBLIC === null,
}, async () => {
  const expect: Record<string, [string, string]> = {
    "dns2tcp.pcap": ["hsc.fr", "dns2tcp"],
    "dnscat2.pcap": ["biillpi.com", "dnscat2"],
    "dnsextrator.pcap": ["hsc.fr", "DNSExfiltrator"],
    "iodine.pcap": ["biillpi.com", "iodine"],
    "sods.pcap": ["hsc.fr", "sods/OzymanDNS"],
    "rita-json-dnscat2-mixed.dns.log": ["r-1x.com", "dnscat2"],
  };
  for (const [file, [domain, name]] of Object.entries(expect)) {
    const dir = await Deno.makeTempDir();
    try {
      const a = await runCli(["apply", "--dir", dir, `${PUBLIC}/${file}`]);
      assert.equal(a.code, 0, a.stderr);
      const j = await runCli(["explain", "--dir", dir, "--json", domain]);
      assert.equal(j.code, 0, j.stderr);
      assert.equal(JSON.parse(j.stdout).tool?.name, name, file);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }
});

/** Base32 (RFC 4648, lower case, no padding), as dnstt writes names. */
function base32(bytes: Uint8Array): string {
  const A = "abcdefghijklmnopqrstuvwxyz234567";
  let out = "", bits = 0, acc = 0;
  for (const b of bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += A[(acc >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return bits > 0 ? out + A[(acc << (5 - bits)) & 31] : out;
}

Deno.test("tool: dnstt is named by its session's client ID at the head of every base32 name; random base32 is not", () => {
  const rand = prng(7);
  const bytes = (n: number) => Uint8Array.from({ length: n }, () => Math.floor(rand() * 256));
  const labels = (s: string) => s.match(/.{1,63}/g)!.join(".");
  const session = (id: Uint8Array) => (k: number) =>
    tx({ query: `${labels(base32(Uint8Array.from([...id, ...bytes(40 + (k % 30))])))}.t.example.com`, ts: 1000 + k });
  const a = new Analyzer({ model: presetModel("tunnel") });
  const ask = session(bytes(8));
  for (let k = 0; k < 60; k++) a.add(ask(k));
  const f = a.findings()[0];
  assert.equal(f.tool?.name, "dnstt");
  assert.match(f.tool!.evidence, /^\d+ base32 names begin with one 8-byte client ID \("[a-z2-7]{12}…"\): dnstt's/);
  // Base32 names of the same length without a shared head (hash lookups, random labels) are no session.
  const b = new Analyzer({ model: presetModel("tunnel") });
  for (let k = 0; k < 60; k++) b.add(tx({ query: `${labels(base32(bytes(40)))}.hash.example.net`, ts: 1000 + k }));
  assert.notEqual(b.findings()[0].tool?.name, "dnstt");
});
