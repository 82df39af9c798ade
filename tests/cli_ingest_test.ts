/**
 * The `validate` and `plan` commands as a user runs them: real processes,
 * real files, exit codes, JSON contracts, and a run straight from a URL.
 */
import assert from "node:assert/strict";
import { checkPermissionTable } from "./helpers/permissions.ts";
// @ts-types="npm:@modelcontextprotocol/sdk@1.32.2/dist/esm/client/index.d.ts"
import { Client } from "npm:@modelcontextprotocol/sdk@1.32.2/client/index.js";
// @ts-types="npm:@modelcontextprotocol/sdk@1.32.2/dist/esm/client/stdio.d.ts"
import { StdioClientTransport } from "npm:@modelcontextprotocol/sdk@1.32.2/client/stdio.js";
import { DatabaseSync } from "node:sqlite";
import { fromFileUrl } from "./helpers/paths.ts";
import { runCli } from "./helpers/cli.ts";
import { ingestFile } from "../src/ingest/source.ts";
import { APPLY_OVER_PLAN } from "../src/run/plan.ts";
import { parentDomain } from "../src/analysis/domain.ts";
import { pcapFile, tempFile, udpExchange } from "./helpers/build.ts";

const root = fromFileUrl(new URL("../", import.meta.url));
const sample = `${root}fixtures/sample.pcap`;

Deno.test("validate --json follows the documented contract", async () => {
  const r = await runCli(["validate", "--json", sample]);
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout);
  assert.equal(doc.files.length, 1);
  const f = doc.files[0];
  for (
    const k of [
      "path",
      "format",
      "link_types",
      "packets",
      "dns_messages",
      "transactions",
      "queries",
      "responses",
      "txt",
      "malformed",
      "first_ts",
      "last_ts",
    ]
  ) {
    assert.ok(k in f, `missing ${k}`);
  }
  assert.equal(f.format, "pcap");
  assert.deepEqual(f.link_types, [1]);
  assert.equal(f.malformed, 0);
  assert.equal(f.queries + f.responses, f.dns_messages);
  assert.ok(f.transactions >= f.queries);
  assert.ok(f.first_ts < f.last_ts);
});

Deno.test("validate: unreadable and unknown inputs exit 1 naming the file; usage errors exit 1", async () => {
  const missing = await runCli(["validate", "/nonexistent/capture.pcap"]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /\/nonexistent\/capture\.pcap: no such file/);
  const junk = tempFile(new TextEncoder().encode("GIF89a not a capture"));
  const unknown = await runCli(["validate", junk]);
  assert.equal(unknown.code, 1);
  assert.ok(unknown.stderr.includes(junk));
  Deno.removeSync(junk);
  // One unreadable file does not hide the report on the others.
  const mixed = await runCli(["validate", "--json", "/nonexistent/capture.pcap", sample]);
  assert.equal(mixed.code, 1);
  const doc = JSON.parse(mixed.stdout);
  assert.equal(doc.files.length, 2);
  assert.equal(doc.files[0].format, "pcap");
  assert.match(doc.files[1].error, /no such file/);
  const usage = await runCli(["validate"]);
  assert.equal(usage.code, 1);
  assert.match(usage.stderr, /missing required argument/);
  const badPort = await runCli(["validate", "--dns-ports", "99999", sample]);
  assert.equal(badPort.code, 1);
  assert.match(badPort.stderr, /--dns-ports/);
});

Deno.test("validate reads standard input with -", async () => {
  const [q, r] = udpExchange({ id: 1, name: "stdin.example.com" });
  const r2 = await runCli(["validate", "--json", "-"], pcapFile([{ ts: 1, data: q }, { ts: 2, data: r }]));
  assert.equal(r2.code, 0, r2.stderr);
  assert.equal(JSON.parse(r2.stdout).files[0].transactions, 1);
});

Deno.test("validate: terminal output escapes hostile names in the malformed report and paths", async () => {
  const [q] = udpExchange({ id: 1, name: "ok.example.com" });
  const dir = Deno.makeTempDirSync();
  const path = `${dir}/evil\x1b[31m.pcap`;
  Deno.writeFileSync(path, pcapFile([{ ts: 1, data: q.subarray(0, 50) }]));
  const r = await runCli(["validate", path]);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(!r.stdout.includes("\x1b"), "no raw escape reaches the terminal");
  assert.match(r.stdout, /\\x1b\[31m/);
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("plan --json: domains, clients, record types and expected time", async () => {
  const r = await runCli(["plan", "--json", sample]);
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout);
  assert.ok(doc.parent_domains > 10);
  assert.ok(doc.clients > 5);
  assert.ok(doc.record_types.TXT > 0);
  assert.ok(doc.busiest_domains.some((d: { domain: string }) => d.domain === "vale-flow.test"));
  // Distinct names (exact below 2048), and the expected time scaled by the share of transactions with a new one.
  const keys = new Set<string>();
  const perDomain = new Map<string, number>();
  const stats = await ingestFile(sample, {
    onTransaction(tx) {
      if (tx.queryKey === "") return;
      keys.add(tx.queryKey);
      const p = parentDomain(tx.queryKey, []);
      perDomain.set(p, (perDomain.get(p) ?? 0) + 1);
    },
  });
  assert.equal(doc.distinct_names, keys.size);
  // Each domain's transactions, counted by name through plan's cache of parents, as counted one by one.
  for (const d of doc.busiest_domains) assert.equal(d.transactions, perDomain.get(d.domain), d.domain);
  assert.equal(doc.parent_domains, perDomain.size);
  assert.equal(doc.new_name_share, keys.size / stats.transactions);
  const { repeatedNames, newNames } = APPLY_OVER_PLAN;
  const factor = repeatedNames + (newNames - repeatedNames) * doc.new_name_share;
  assert.ok(Math.abs(doc.expected_apply_secs - doc.decode_secs * factor) < 1e-9, JSON.stringify(doc));
  const text = await runCli(["plan", sample]);
  assert.match(text.stdout, /apply would analyze \d+ domains/);
  assert.match(text.stdout, new RegExp(`distinct names  ${keys.size} \\(\\d+\\.\\d% of transactions ask a new one\\)`));
});

Deno.test("--help teaches; version prints Deno and SQLite versions", async () => {
  const h = await runCli(["--help"]);
  assert.equal(h.code, 0);
  assert.match(h.stdout, /Examples:/);
  const v = await runCli(["version", "--json"]);
  const doc = JSON.parse(v.stdout);
  assert.equal(doc.deno, Deno.version.deno);
  assert.match(doc.sqlite, /^3\.\d+/);
});

Deno.test("cli.ts and mcp.ts run straight from a URL with an empty DENO_DIR (no import map)", async () => {
  const ac = new AbortController();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, signal: ac.signal, onListen() {} }, async (req) => {
    const rel = decodeURIComponent(new URL(req.url).pathname).replace(/^\/+/, "");
    if (rel.includes("..")) return new Response("no", { status: 403 });
    try {
      const body = await Deno.readFile(root + rel);
      const type = rel.endsWith(".ts") ? "application/typescript" : "application/octet-stream";
      return new Response(body, { headers: { "content-type": type } });
    } catch {
      return new Response("not found", { status: 404 });
    }
  });
  const base = `http://127.0.0.1:${server.addr.port}`;
  const denoDir = Deno.makeTempDirSync();
  try {
    // The whole environment (proxies, CA bundles for the npm registry) but a fresh DENO_DIR.
    const env = { ...Deno.env.toObject(), DENO_DIR: denoDir, NO_COLOR: "1" };
    const flags = [
      "run",
      "--quiet",
      `--allow-import=127.0.0.1:${server.addr.port}`,
      "--allow-read",
      "--allow-env",
      "--allow-sys",
      "--no-lock",
    ];
    /** Run cli.ts from the URL; `write` lets it write (apply). */
    const fromUrl = async (args: string[], write = false) => {
      const o = await new Deno.Command(Deno.execPath(), {
        args: [...flags, ...(write ? ["--allow-write"] : []), `${base}/cli.ts`, ...args],
        env,
        clearEnv: true,
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stderr = new TextDecoder().decode(o.stderr);
      assert.equal(o.code, 0, `${args.join(" ")}: ${stderr}`);
      return new TextDecoder().decode(o.stdout);
    };
    assert.match(await fromUrl(["--help"]), /Usage: plumbum/);
    assert.equal(JSON.parse(await fromUrl(["validate", "--json", sample])).files[0].malformed, 0);
    // apply, whose writer thread is loaded from the same URL, stores every transaction.
    const ws = `${denoDir}/ws`;
    const applied = JSON.parse(await fromUrl(["apply", "--json", "--dir", ws, sample], true));
    const db = new DatabaseSync(`${ws}/plumbum.db`, { readOnly: true });
    const stored = (db.prepare("SELECT count(*) AS c FROM transactions").get() as { c: number }).c;
    db.close();
    assert.equal(stored, applied.run.transactions);
    assert.ok(stored > 0);
    // An edited config is parsed by the HCL thread, also loaded from the URL (with its npm parser).
    const cfgPath = `${ws}/config.hcl`;
    Deno.writeTextFileSync(cfgPath, Deno.readTextFileSync(cfgPath).replace(/critical = \d+/, "critical = 97"));
    await fromUrl(["apply", "--json", "--dir", ws, sample], true);
    const rdb = new DatabaseSync(`${ws}/plumbum.db`, { readOnly: true });
    const config = (rdb.prepare("SELECT config FROM runs ORDER BY id DESC LIMIT 1").get() as { config: string }).config;
    rdb.close();
    assert.equal(JSON.parse(config).model.thresholds.critical, 97);
    // The MCP server from the same URL, read-only, answering the real SDK client.
    const client = new Client({ name: "url-test", version: "1" });
    await client.connect(
      new StdioClientTransport({
        command: Deno.execPath(),
        args: [...flags.filter((f) => f !== "--allow-sys"), `${base}/mcp.ts`, "--dir", ws],
        env,
        stderr: "pipe",
      }),
    );
    try {
      const q = await client.callTool({ name: "plumbum_query", arguments: { limit: 1 } }) as {
        structuredContent: { run: number; domains: { domain: string }[] };
      };
      assert.equal(q.structuredContent.run, 2);
      assert.equal(q.structuredContent.domains[0].domain, "lime-hollow.test");
    } finally {
      await client.close();
    }
  } finally {
    ac.abort();
    await server.finished;
    Deno.removeSync(denoDir, { recursive: true });
  }
});

Deno.test({
  name:
    "deno task bundle: single files that run anywhere with an empty cache and --cached-only — validate, apply (its worker threads), an edited config, the permissions table, an MCP session",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const out = Deno.makeTempDirSync({ prefix: "plumbum-bundle-" });
    try {
      const built = await new Deno.Command(Deno.execPath(), {
        args: ["run", "--allow-read", "--allow-write", "--allow-run", "--allow-env", `${root}tools/bundle.ts`],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.equal(built.code, 0, new TextDecoder().decode(built.stderr));
      for (const f of ["plumbum.js", "plumbum-mcp.js"]) Deno.copyFileSync(`${root}dist/${f}`, `${out}/${f}`);
      // Nothing from this checkout and nothing cached: only the copied files.
      const env = { ...Deno.env.toObject(), DENO_DIR: `${out}/deno-dir`, NO_COLOR: "1" };
      const flags = ["run", "--quiet", "--cached-only", "--allow-read", "--allow-write", "--allow-env", "--allow-sys"];
      const run = async (args: string[]) => {
        const o = await new Deno.Command(Deno.execPath(), {
          args: [...flags, `${out}/plumbum.js`, ...args],
          cwd: out,
          env,
          clearEnv: true,
          stdout: "piped",
          stderr: "piped",
        }).output();
        assert.equal(o.code, 0, `${args.join(" ")}: ${new TextDecoder().decode(o.stderr)}`);
        return new TextDecoder().decode(o.stdout);
      };
      assert.equal(JSON.parse(await run(["validate", "--json", sample])).files[0].transactions, 1556);
      // Files side by side: the bundle is its own validate thread too.
      const both = JSON.parse(await run(["validate", "--json", "--jobs", "2", sample, sample])).files;
      assert.deepEqual(both.map((f: { transactions: number }) => f.transactions), [1556, 1556]);
      const ws = `${out}/ws`;
      await run(["init", "--dir", ws]);
      // An edited config goes through the HCL thread (and its WebAssembly), inside the file.
      const cfg = `${ws}/config.hcl`;
      Deno.writeTextFileSync(cfg, Deno.readTextFileSync(cfg).replace(/critical = \d+/, "critical = 97"));
      const applied = JSON.parse(await run(["apply", "--json", "--dir", ws, sample]));
      assert.equal(applied.run.config.model.thresholds.critical, 97);
      const db = new DatabaseSync(`${ws}/plumbum.db`, { readOnly: true });
      const stored = (db.prepare("SELECT count(*) AS c FROM transactions").get() as { c: number }).c;
      db.close();
      assert.equal(stored, 1556, "the writer thread, started from the file itself, stored every transaction");
      await checkPermissionTable(`${out}/plumbum.js`, ws);
      const client = new Client({ name: "bundle-test", version: "1" });
      await client.connect(
        new StdioClientTransport({
          command: Deno.execPath(),
          args: [
            "run",
            "--quiet",
            "--cached-only",
            "--allow-read",
            "--allow-env",
            `${out}/plumbum-mcp.js`,
            "--dir",
            ws,
          ],
          env,
          stderr: "pipe",
        }),
      );
      try {
        const q = await client.callTool({ name: "plumbum_query", arguments: { limit: 1 } }) as {
          structuredContent: { domains: { domain: string }[] };
        };
        assert.equal(q.structuredContent.domains[0].domain, "lime-hollow.test");
      } finally {
        await client.close();
      }
    } finally {
      Deno.removeSync(out, { recursive: true });
    }
  },
});
