import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import { ingestFile } from "../src/ingest/source.ts";
import type { Transaction } from "../src/ingest/types.ts";
import { lineTime } from "../src/ingest/resolver_log.ts";

async function read(
  text: string,
  gzip = false,
): Promise<{ txs: Transaction[]; stats: Awaited<ReturnType<typeof ingestFile>> }> {
  const path = await Deno.makeTempFile();
  try {
    const bytes = new TextEncoder().encode(text);
    await Deno.writeFile(path, gzip ? gzipSync(bytes) : bytes);
    const txs: Transaction[] = [];
    const stats = await ingestFile(path, { onTransaction: (t) => txs.push({ ...t }) });
    return { txs, stats };
  } finally {
    await Deno.remove(path);
  }
}

Deno.test("BIND query log: every way BIND writes a query line; other lines skipped, broken ones counted", async () => {
  const { txs, stats } = await read(
    [
      "07-Dec-2026 23:43:22.302 starting BIND 9.18.49-1~deb12u3-Debian",
      "07-Dec-2026 23:43:25.342 queries: info: client @0x7f5281352098 10.77.0.1#48237 (www.tun.test): query: www.tun.test IN A +E(0)K (10.77.0.2)",
      "2026-12-07T23:43:25.500Z client @0x7f52 2001:db8::7#5353 (X.Example.COM): view internal: query: X.Example.COM IN TYPE65534 -ET (2001:db8::53)",
      "Dec  7 23:43:26 ns1 named[812]: client @0x7f52 10.0.0.9#1234 (a.b.test): query: a.b.test IN TXT + (10.0.0.53)",
      "07-Dec-2026 23:43:27.000 client @0x7f52 10.0.0.9#1234 (a.b.test): query: a.b.test IN BOGUS + (10.0.0.53)",
      "07-Dec-2026 23:43:27.100 client @0x7f52 10.0.0.9#1234 (a.b.test): query: cut short",
    ].join("\n") + "\n",
  );
  assert.equal(stats.format, "bind-querylog");
  assert.equal(stats.transactions, 3);
  assert.equal(stats.malformed, 2);
  assert.equal(stats.skipped, 1);
  assert.deepEqual(
    txs.map((t) => [t.client, t.clientPort, t.server, t.query, t.queryKey, t.qtype, t.rd, t.transport]),
    [
      ["10.77.0.1", 48237, "10.77.0.2", "www.tun.test", "www.tun.test", 1, true, "udp"],
      ["2001:db8::7", 5353, "2001:db8::53", "X.Example.COM", "x.example.com", 65534, false, "tcp"],
      ["10.0.0.9", 1234, "10.0.0.53", "a.b.test", "a.b.test", 16, true, "udp"],
    ],
  );
  assert.ok(txs.every((t) => !t.hasResponse && t.rcode === null));
  assert.equal(txs[0].ts, Date.UTC(2026, 11, 7, 23, 43, 25) / 1000 + 0.342);
  assert.equal(txs[1].ts, Date.UTC(2026, 11, 7, 23, 43, 25, 500) / 1000);
});

Deno.test("Unbound log: a reply takes its query line (one transaction), a lone query is unanswered, gzip too", async () => {
  const { txs, stats } = await read(
    [
      "[1796687003] unbound[21185:0] info: start of service (unbound 1.17.1).",
      "[1796687005] unbound[21185:0] info: 10.77.0.1 abc.tun.test. TXT IN",
      "[1796687005] unbound[21185:0] info: 10.77.0.1 abc.tun.test. TXT IN NOERROR 0.002602 0 56",
      "[1796687006] unbound[21185:0] info: 10.77.0.1 nx.nothere.test. A IN SERVFAIL 0.001077 0 44",
      "[1796687007] unbound[21185:0] info: 10.77.0.5 lonely.test. AAAA IN",
      "[1796687008] unbound[21185:0] info: 10.77.0.5 bad.test. A IN WHATEVER x 0 1",
      "[1796687009] unbound[21185:0] info: service stopped (unbound 1.17.1).",
    ].join("\n") + "\n",
    true,
  );
  assert.equal(stats.format, "unbound-log");
  assert.equal(stats.compression, "gzip");
  assert.equal(stats.malformed, 1);
  assert.deepEqual(
    txs.map((t) => [t.ts, t.client, t.query, t.qtype, t.rcode, t.hasResponse, t.responseSize]),
    [
      [1796687005, "10.77.0.1", "abc.tun.test", 16, 0, true, 56],
      [1796687006 - 0.001077, "10.77.0.1", "nx.nothere.test", 1, 2, true, 44],
      [1796687007, "10.77.0.5", "lonely.test", 28, null, false, 0],
    ],
  );
});

Deno.test("log times: BIND's, ISO 8601, syslog's without a year (never in the future)", () => {
  const now = new Date(Date.UTC(2027, 0, 2));
  assert.equal(lineTime("02-Jan-2027 00:00:01.5 x", now), Date.UTC(2027, 0, 2, 0, 0, 1) / 1000 + 0.5);
  assert.equal(lineTime("2027-01-02T00:00:01+01:00 x", now), Date.UTC(2027, 0, 1, 23, 0, 1) / 1000);
  assert.equal(lineTime("Dec 31 23:59:59 host named[1]: x", now), Date.UTC(2026, 11, 31, 23, 59, 59) / 1000);
  assert.equal(lineTime("Jan  1 00:00:00 host named[1]: x", now), Date.UTC(2027, 0, 1) / 1000);
  assert.equal(lineTime("no time here", now), null);
});
