/**
 * `deno task bench:mcp`: the MCP server under the SDK's own client. For the
 * bench workspace (`deno task bench` leaves it: 1.4 M stored transactions)
 * and a workspace of 100 000 domains built here, it times the server's
 * start (spawn to an initialized session), then N calls each of
 * `plumbum_query` (a page of 50) and `plumbum_explain` (the top domains in
 * turn): p50 and p99 latency, and the server's peak RSS. Nothing asserted.
 *
 *   deno task bench:mcp [--calls N] [--domains N]
 *
 * (or PLUMBUM_BENCH_MCP_CALLS, PLUMBUM_BENCH_MCP_DOMAINS; PLUMBUM_BENCH_OUT
 * says where the captures and workspaces are).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
// @ts-types="npm:@modelcontextprotocol/sdk@1.32.2/dist/esm/client/index.d.ts"
import { Client } from "npm:@modelcontextprotocol/sdk@1.32.2/client/index.js";
// @ts-types="npm:@modelcontextprotocol/sdk@1.32.2/dist/esm/client/stdio.d.ts"
import { StdioClientTransport } from "npm:@modelcontextprotocol/sdk@1.32.2/client/stdio.js";

const { values: o } = parseArgs({
  args: Deno.args,
  options: {
    calls: { type: "string", default: Deno.env.get("PLUMBUM_BENCH_MCP_CALLS") ?? "300" },
    domains: { type: "string", default: Deno.env.get("PLUMBUM_BENCH_MCP_DOMAINS") ?? "100000" },
  },
});
const here = fileURLToPath(new URL(".", import.meta.url));
const outDir = Deno.env.get("PLUMBUM_BENCH_OUT") ?? `${here}out`;
const mcp = fileURLToPath(new URL("../mcp.ts", import.meta.url));
const cli = fileURLToPath(new URL("../cli.ts", import.meta.url));
const calls = Number(o.calls);
const V8 = "--v8-flags=--max-semi-space-size=4,--heap-growing-percent=50";

/** A capture of `n` parent domains, two lookups each (Ethernet/IPv4/UDP, query and answer). */
function manyDomains(n: number, path: string): void {
  const f = Deno.openSync(path, { write: true, create: true, truncate: true });
  const head = new Uint8Array(24);
  const dv = new DataView(head.buffer);
  dv.setUint32(0, 0xa1b2c3d4, true);
  dv.setUint16(4, 2, true);
  dv.setUint16(6, 4, true);
  dv.setUint32(16, 65535, true);
  dv.setUint32(20, 1, true);
  f.writeSync(head);
  const chunks: Uint8Array[] = [];
  let size = 0;
  const flush = () => {
    const all = new Uint8Array(size);
    let at = 0;
    for (const c of chunks) all.set(c, (at += c.length) - c.length);
    f.writeSync(all);
    chunks.length = 0;
    size = 0;
  };
  const frame = (ts: number, qr: boolean, id: number, name: string) => {
    const labels = name.split(".").flatMap((l) => [l.length, ...new TextEncoder().encode(l)]);
    const dns = [
      id >> 8,
      id & 255,
      qr ? 0x81 : 1,
      qr ? 0x80 : 0,
      0,
      1,
      0,
      qr ? 1 : 0,
      0,
      0,
      0,
      0,
      ...labels,
      0,
      0,
      1,
      0,
      1,
    ];
    if (qr) dns.push(0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, id & 255);
    const udpLen = 8 + dns.length, ipLen = 20 + udpLen, len = 14 + ipLen;
    const b = new Uint8Array(16 + len);
    const v = new DataView(b.buffer);
    v.setUint32(0, Math.floor(ts), true);
    v.setUint32(4, Math.round((ts % 1) * 1e6), true);
    v.setUint32(8, len, true);
    v.setUint32(12, len, true);
    b.set([0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 6, 8, 0], 16);
    const ip = 30;
    b.set([0x45, 0, ipLen >> 8, ipLen & 255, 0, 0, 0, 0, 64, 17, 0, 0], ip);
    b.set(
      qr ? [10, 0, 0, 1, 10, 0, (id >> 8) & 255, id & 255] : [10, 0, (id >> 8) & 255, id & 255, 10, 0, 0, 1],
      ip + 12,
    );
    const sp = qr ? 53 : 40000 + (id % 20000), dp = qr ? 40000 + (id % 20000) : 53;
    b.set([sp >> 8, sp & 255, dp >> 8, dp & 255, udpLen >> 8, udpLen & 255, 0, 0], ip + 20);
    b.set(dns, ip + 28);
    chunks.push(b);
    size += b.length;
    if (size > 1 << 22) flush();
  };
  let t = 1700000000;
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < 2; k++) {
      const name = `host${k}.d${i}.test`;
      frame(t, false, i & 0xffff, name);
      frame(t + 0.002, true, i & 0xffff, name);
      t += 0.01;
    }
  }
  flush();
  f.close();
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))];
}

async function measure(label: string, dir: string): Promise<void> {
  const t0 = performance.now();
  const transport = new StdioClientTransport({
    command: Deno.execPath(),
    args: ["run", "--quiet", V8, "--allow-read", "--allow-env", mcp, "--dir", dir],
    env: { PATH: Deno.env.get("PATH") ?? "" },
    stderr: "ignore",
  });
  const client = new Client({ name: "bench", version: "1" });
  await client.connect(transport);
  const startup = performance.now() - t0;
  const pid = transport.pid!;
  const first = await client.callTool({ name: "plumbum_query", arguments: { limit: 50 } }) as {
    structuredContent: { total: number; domains: { domain: string }[] };
  };
  if (first.structuredContent === undefined) throw new Error(`${label}: ${JSON.stringify(first).slice(0, 300)}`);
  const top = first.structuredContent.domains.map((d) => d.domain);
  const time = async (fn: (i: number) => Promise<unknown>) => {
    const xs: number[] = [];
    for (let i = 0; i < calls; i++) {
      const s = performance.now();
      await fn(i);
      xs.push(performance.now() - s);
    }
    return xs;
  };
  const query = await time((i) =>
    client.callTool({ name: "plumbum_query", arguments: { limit: 50, offset: (i * 50) % 5000 } })
  );
  const explain = await time((i) =>
    client.callTool({ name: "plumbum_explain", arguments: { domain: top[i % top.length] } })
  );
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const rss = Number(status.match(/VmHWM:\s+(\d+)/)?.[1] ?? 0) / 1024;
  await client.close();
  const row = (name: string, xs: number[]) =>
    `  ${name.padEnd(16)} p50 ${pct(xs, 0.5).toFixed(1).padStart(6)} ms  p99 ${
      pct(xs, 0.99).toFixed(1).padStart(6)
    } ms`;
  console.log(
    `${label}: ${first.structuredContent.total} domains; startup ${startup.toFixed(0)} ms; peak RSS ${
      rss.toFixed(0)
    } MB`,
  );
  console.log(row("plumbum_query", query));
  console.log(row("plumbum_explain", explain));
}

/** A workspace of `capture` in `dir`, made by `plumbum apply` unless it is there. */
function workspaceOf(capture: string, dir: string): void {
  try {
    Deno.statSync(`${dir}/plumbum.db`);
    return;
  } catch { /* made below */ }
  const r = new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", V8, "-A", cli, "apply", capture, "--dir", dir],
    stdout: "null",
  }).outputSync();
  if (!r.success) throw new Error(`apply of ${capture} failed`);
}

const bench = `${outDir}/bench.pcap`;
try {
  Deno.statSync(bench);
  workspaceOf(bench, `${outDir}/mcp-bench`);
  await measure("bench capture's workspace (1.4 M stored transactions)", `${outDir}/mcp-bench`);
} catch (e) {
  if (!(e instanceof Deno.errors.NotFound)) throw e;
  console.log(`${bench} is missing: deno task bench makes it`);
}
const n = Number(o.domains);
const many = `${outDir}/mcp-${n}`;
const capture = `${outDir}/mcp-${n}.pcap`;
try {
  Deno.statSync(capture);
} catch {
  manyDomains(n, capture);
}
workspaceOf(capture, many);
await measure(`${n} domains`, many);
