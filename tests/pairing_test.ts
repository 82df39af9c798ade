/**
 * Pairing queries with responses: the assembler against a plain reference
 * model of the rules its module documents, on random message streams
 * (retransmissions, ids and ports that collide, unsolicited responses, mDNS,
 * timeouts, the bound on waiting queries, and more waiting queries at once
 * than the assembler's first ring holds).
 */
import assert from "node:assert/strict";
import fc from "npm:fast-check@4.11.0";
import {
  PAIRING_MAX_HELD,
  PAIRING_TIMEOUT_SECS,
  type PairingOptions,
  TransactionAssembler,
} from "../src/ingest/transactions.ts";
import { ingestFile } from "../src/ingest/source.ts";
import { pcapFile, tempFile, udpExchange } from "./helpers/build.ts";
import type { MessageMeta } from "../src/ingest/packet.ts";
import type { DnsMessage, DnsService, Transaction } from "../src/ingest/types.ts";

interface Msg {
  ts: number;
  qr: boolean;
  client: string;
  server: string;
  clientPort: number;
  id: number;
  qtype: number;
  name: string;
  rcode: number;
  service: DnsService;
}

/** What the test compares of an emitted transaction. */
interface Seen {
  ts: number;
  client: string;
  clientPort: number;
  server: string;
  id: number;
  qtype: number;
  queryKey: string;
  hasQuery: boolean;
  hasResponse: boolean;
  rcode: number | null;
  rtt: number | null;
}

function toWire(m: Msg): [DnsMessage, MessageMeta] {
  const message: DnsMessage = {
    id: m.id,
    qr: m.qr,
    opcode: 0,
    aa: false,
    tc: false,
    rd: true,
    ra: m.qr,
    z: 0,
    rcode: m.rcode,
    questions: [{ name: m.name.toUpperCase(), key: m.name, type: m.qtype, class: 1 }],
    answers: [],
    authorities: [],
    additionals: [],
    edns: null,
    counts: [1, 0, 0, 0],
    size: 40,
    malformed: null,
  };
  const port = m.service === "mdns" ? 5353 : 53;
  const meta: MessageMeta = m.qr
    ? {
      ts: m.ts,
      src: m.server,
      dst: m.client,
      srcPort: port,
      dstPort: m.clientPort,
      transport: "udp",
      service: m.service,
    }
    : {
      ts: m.ts,
      src: m.client,
      dst: m.server,
      srcPort: m.clientPort,
      dstPort: port,
      transport: "udp",
      service: m.service,
    };
  return [message, meta];
}

/**
 * The rules, spelled out with lists and linear scans: a query waits for the
 * first response of the same exchange (addresses, ports, id, type, name);
 * a query repeated while an equal one waits stays unanswered; transactions
 * leave in query order once answered, after `timeout` seconds of capture
 * time, or when more than `maxPending` wait unanswered (the oldest gives
 * up); when more than `maxHeld` answered ones wait behind unanswered ones,
 * the oldest answered leave first until a quarter of `maxHeld` is free;
 * mDNS is never paired; a response nobody waits for is a transaction of
 * its own.
 */
function reference(msgs: Msg[], timeout: number, maxPending: number, maxHeld: number): Seen[] {
  interface Entry {
    seen: Seen;
    m: Msg;
    /** Whether a response may still find it (not a repeat, not answered, not given up). */
    open: boolean;
    done: boolean;
  }
  const out: Seen[] = [];
  let queue: Entry[] = [];
  const same = (a: Msg, b: Msg) =>
    a.client === b.client && a.clientPort === b.clientPort && a.server === b.server && a.id === b.id &&
    a.qtype === b.qtype && a.name === b.name;
  const seenOf = (m: Msg, isQuery: boolean): Seen => ({
    ts: m.ts,
    client: m.client,
    clientPort: m.clientPort,
    server: m.server,
    id: m.id,
    qtype: m.qtype,
    queryKey: m.name,
    hasQuery: isQuery,
    hasResponse: !isQuery,
    rcode: isQuery ? null : m.rcode,
    rtt: null,
  });
  const unanswered = () => queue.filter((e) => !e.done).length;
  const flush = (now: number) => {
    while (queue.length > 0) {
      const e = queue[0];
      if (!e.done && now - e.seen.ts <= timeout && unanswered() <= maxPending) break;
      queue = queue.slice(1);
      out.push(e.seen);
    }
  };
  for (const m of msgs) {
    if (m.service === "mdns") {
      flush(m.ts);
      out.push(seenOf(m, !m.qr));
      continue;
    }
    if (!m.qr) {
      const repeat = queue.some((e) => e.open && same(e.m, m));
      queue.push({ seen: seenOf(m, true), m, open: !repeat, done: false });
      if (unanswered() > maxPending) {
        const oldest = queue.find((e) => !e.done)!;
        oldest.done = true;
        oldest.open = false;
      }
      flush(m.ts);
      continue;
    }
    const e = queue.find((e) => e.open && same(e.m, m));
    if (e !== undefined) {
      e.seen.hasResponse = true;
      e.seen.rcode = m.rcode;
      e.seen.rtt = m.ts - e.seen.ts;
      e.open = false;
      e.done = true;
      if (queue.filter((e) => e.done).length > maxHeld) {
        const keep = maxHeld - Math.max(1, maxHeld >> 2);
        let held = queue.filter((e) => e.done).length;
        queue = queue.filter((e) => {
          if (!e.done || held <= keep) return true;
          held--;
          out.push(e.seen);
          return false;
        });
      }
    } else {
      flush(m.ts);
      out.push(seenOf(m, false));
    }
    flush(m.ts);
  }
  flush(Infinity);
  return out;
}

function assembled(msgs: Msg[], timeout: number, maxPending: number, maxHeld: number): Seen[] {
  const out: Seen[] = [];
  const a = new TransactionAssembler((tx) => {
    out.push({
      ts: tx.ts,
      client: tx.client,
      clientPort: tx.clientPort,
      server: tx.server,
      id: tx.id,
      qtype: tx.qtype,
      queryKey: tx.queryKey,
      hasQuery: tx.hasQuery,
      hasResponse: tx.hasResponse,
      rcode: tx.rcode,
      rtt: tx.rtt,
    });
  }, { timeoutSecs: timeout, maxPending, maxHeld });
  for (const m of msgs) a.add(...toWire(m));
  a.end();
  return out;
}

/**
 * Random traffic: small pools, so exchanges collide on every part of the
 * key; half the responses answer one of the last few queries (so answers
 * often come out of order, and to queries chained under a shared key).
 */
const traffic = (maxLength: number) =>
  fc.array(
    fc.record({
      gap: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 2, noNaN: true }), fc.constant(50)),
      kind: fc.constantFrom("query", "query", "reply", "reply", "response"),
      back: fc.integer({ min: 0, max: 5 }),
      client: fc.constantFrom("10.0.0.1", "10.0.0.2"),
      server: fc.constantFrom("10.0.0.53", "fd00::53"),
      clientPort: fc.constantFrom(1024, 40000),
      id: fc.constantFrom(0, 0xffff),
      qtype: fc.constantFrom(1, 16),
      name: fc.constantFrom("a.example.com", "b.example.com", "x.evil.tk"),
      rcode: fc.constantFrom(0, 3),
      mdns: fc.integer({ min: 0, max: 19 }),
    }),
    { maxLength, size: "max" },
  ).map((rows) => {
    let ts = 1_700_000_000;
    const queries: Msg[] = [];
    return rows.map((r): Msg => {
      ts += r.gap;
      const service: DnsService = r.mdns === 0 ? "mdns" : "dns";
      if (r.kind === "reply" && queries.length > 0) {
        return { ...queries[Math.max(0, queries.length - 1 - r.back)], qr: true, ts, rcode: r.rcode };
      }
      const m: Msg = { ...r, qr: r.kind !== "query", ts, service };
      if (!m.qr) queries.push(m);
      return m;
    });
  });

Deno.test("pairing: random streams pair, wait and leave exactly as the reference model says", () => {
  fc.assert(
    fc.property(
      traffic(400),
      fc.constantFrom(1, 30),
      fc.oneof(fc.integer({ min: 1, max: 8 }), fc.constant(200_000)),
      fc.oneof(fc.integer({ min: 1, max: 6 }), fc.constant(PAIRING_MAX_HELD)),
      (msgs, timeout, maxPending, maxHeld) => {
        assert.deepEqual(
          assembled(msgs, timeout, maxPending, maxHeld),
          reference(msgs, timeout, maxPending, maxHeld),
        );
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("pairing: thousands waiting at once (past the first ring), answered out of order", () => {
  fc.assert(
    fc.property(fc.integer({ min: 1500, max: 5000 }), fc.integer({ min: 1, max: 0x7fffffff }), (n, seed) => {
      // 3000 queries answered at once (the ring's head goes round), then n
      // distinct queries, then their responses in a shuffled order, some
      // left out: the ring grows while its head is past its start.
      const early: Msg[] = [];
      for (let i = 0; i < 3000; i++) {
        const q: Msg = {
          ts: 900 + i * 1e-3,
          qr: false,
          client: "10.9.9.9",
          server: "10.0.0.53",
          clientPort: 2000,
          id: i,
          qtype: 16,
          name: "early.example.com",
          rcode: 0,
          service: "dns",
        };
        early.push(q, { ...q, qr: true, ts: q.ts + 1e-4 });
      }
      const queries: Msg[] = [];
      for (let i = 0; i < n; i++) {
        queries.push({
          ts: 1000 + i * 1e-3,
          qr: false,
          client: `10.0.${i & 7}.1`,
          server: "10.0.0.53",
          clientPort: 1024 + (i % 3000),
          id: i & 0xffff,
          qtype: 1,
          name: `n${i % 97}.example.com`,
          rcode: 0,
          service: "dns",
        });
      }
      let s = seed;
      const order = queries.map((_, i) => i);
      for (let i = order.length - 1; i > 0; i--) {
        s = (Math.imul(s, 1103515245) + 12345) & 0x7fffffff;
        const j = s % (i + 1);
        [order[i], order[j]] = [order[j], order[i]];
      }
      const last = queries[n - 1].ts;
      const responses = order.filter((i) => i % 5 !== 0).map((i, k): Msg => ({
        ...queries[i],
        qr: true,
        ts: last + k * 1e-4,
      }));
      const msgs = [...early, ...queries, ...responses];
      const got = assembled(msgs, 30, 200_000, PAIRING_MAX_HELD);
      assert.deepEqual(got, reference(msgs, 30, 200_000, PAIRING_MAX_HELD));
      assert.equal(got.length, 3000 + n);
      assert.equal(got.filter((t) => t.hasResponse).length, 3000 + responses.length);
    }),
    { numRuns: 8 },
  );
});

Deno.test("pairing limits are options: an answer 10 s late pairs by default (30 s), not with a 5-s wait", async () => {
  const [q, r] = udpExchange({ id: 7, name: "slow.example.test" });
  // Another query between them moves the clock on (a query leaves once the clock passes its wait).
  const [other] = udpExchange({ id: 8, name: "other.example.test" });
  const path = tempFile(pcapFile([{ ts: 100, data: q }, { ts: 107, data: other }, { ts: 110, data: r }]));
  try {
    const read = async (pairing?: PairingOptions) => {
      const txs: Transaction[] = [];
      await ingestFile(path, { pairing, onTransaction: (t) => txs.push({ ...t }) });
      return txs.map((t) => [t.query, t.hasQuery, t.hasResponse]);
    };
    assert.deepEqual(await read(), [["slow.example.test", true, true], ["other.example.test", true, false]]);
    assert.deepEqual(await read({ timeoutSecs: 5 }), [
      ["slow.example.test", true, false],
      ["slow.example.test", false, true],
      ["other.example.test", true, false],
    ]);
    assert.equal(PAIRING_TIMEOUT_SECS, 30);
  } finally {
    Deno.removeSync(path);
  }
});

Deno.test("a client whose ephemeral port is 5353 or 5355 asks unicast DNS: its answer pairs, read as DNS both ways", async () => {
  const packets = [5353, 5355, 40000].flatMap((port, i) => {
    const [q, r] = udpExchange({ id: i, port, name: `p${port}.example.test` });
    return [{ ts: 100 + i, data: q }, { ts: 100.01 + i, data: r }];
  });
  const path = tempFile(pcapFile(packets));
  try {
    const txs: Transaction[] = [];
    const stats = await ingestFile(path, { onTransaction: (t) => txs.push({ ...t }) });
    assert.deepEqual(
      txs.map((t) => [t.query, t.clientPort, t.service, t.hasQuery, t.hasResponse]),
      [5353, 5355, 40000].map((p) => [`p${p}.example.test`, p, "dns", true, true]),
    );
    assert.equal(stats.transactions, 3);
  } finally {
    Deno.removeSync(path);
  }
});

Deno.test("pairing: answered queries overtake one never answered only past maxHeld, oldest first, a quarter at a time", () => {
  const q = (i: number, ts: number): Msg => ({
    ts,
    qr: false,
    client: "10.0.0.2",
    server: "10.0.0.53",
    clientPort: 2000 + i,
    id: i,
    qtype: 1,
    name: `n${i}.example.com`,
    rcode: 0,
    service: "dns",
  });
  // n0 is never answered; n1..n9 are, each right after its query.
  const msgs: Msg[] = [q(0, 100)];
  for (let i = 1; i <= 9; i++) msgs.push(q(i, 100 + i / 10), { ...q(i, 100 + i / 10 + 0.01), qr: true });
  const order = (maxHeld: number) =>
    assembled(msgs, 30, 200_000, maxHeld).map((t) => `${t.queryKey.slice(0, 2)}${t.hasResponse ? "" : "?"}`);
  // Within the bound, query order: everything waits for n0's 30 s.
  assert.deepEqual(order(PAIRING_MAX_HELD), ["n0?", "n1", "n2", "n3", "n4", "n5", "n6", "n7", "n8", "n9"]);
  // maxHeld 4: the fifth answer lets the oldest two go (down to 3), and so on; n0 leaves at its timeout.
  // maxHeld 8: the ninth lets three go (down to 6).
  assert.deepEqual(order(4), ["n1", "n2", "n3", "n4", "n5", "n6", "n0?", "n7", "n8", "n9"]);
  assert.deepEqual(order(8), ["n1", "n2", "n3", "n0?", "n4", "n5", "n6", "n7", "n8", "n9"]);
});
