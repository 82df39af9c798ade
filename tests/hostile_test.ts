/**
 * Hostile input: random and mutated bytes at every layer. Nothing throws past
 * a parser, nothing loops, buffers stay bounded.
 */
import assert from "node:assert/strict";
import fc from "npm:fast-check@4.11.0";
import { bytesToByteString, DnsDecoder, ReusableMessage } from "../src/ingest/dns/mod.ts";

// One decoder for the tests of this file (each owns its tables).
const dns = new DnsDecoder();
const decodeDns = dns.decode.bind(dns);
const readName = dns.readName.bind(dns);
const forgetSharedAnswers = () => dns.rdata.forgetAnswers();
import { frameOf } from "../src/ingest/frames.ts";
import { FragmentReassembler } from "../src/ingest/ipfrag.ts";
import { PacketDecoder, SUPPORTED_LINK_TYPES } from "../src/ingest/packet.ts";
import { PendingTable } from "../src/ingest/transactions.ts";
import { ingestFile, InputError } from "../src/ingest/source.ts";
import { TcpReassembler } from "../src/ingest/tcp.ts";
import { dnsMessage, pcapFile, pcapngFile, tempFile, txtRdata, udpExchange } from "./helpers/build.ts";

const validMessage = dnsMessage({
  id: 5,
  qr: true,
  questions: [{ name: "a.b.example.com", type: 16 }],
  answers: [{ name: "a.b.example.com", type: 16, rdata: txtRdata("payload", "more") }],
  additionals: [{ name: "", type: 41, rdata: [] }],
});

/** Mutations of a valid byte array: flips, overwrites, cuts, insertions. */
function mutated(base: Uint8Array): fc.Arbitrary<Uint8Array> {
  return fc.array(
    fc.record({ at: fc.nat(), value: fc.integer({ min: 0, max: 255 }), kind: fc.constantFrom("set", "cut", "insert") }),
    { minLength: 1, maxLength: 8 },
  ).map((ops) => {
    let b = Array.from(base);
    for (const op of ops) {
      const i = b.length === 0 ? 0 : op.at % b.length;
      if (op.kind === "set") b[i] = op.value;
      else if (op.kind === "cut") b = b.slice(0, i);
      else b.splice(i, 0, op.value);
    }
    return Uint8Array.from(b);
  });
}

Deno.test("DNS decoder: random bytes never throw", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 600 }), (b) => {
      const m = decodeDns(b);
      if (m !== null) assert.ok(m.questions.length <= 4096);
    }),
    { numRuns: 3000 },
  );
});

Deno.test("DNS decoder: mutated valid messages never throw and keep names within 255 bytes", () => {
  fc.assert(
    fc.property(mutated(validMessage), (b) => {
      const m = decodeDns(b);
      for (const q of m?.questions ?? []) assert.ok(q.name.length <= 2 * 255);
    }),
    { numRuns: 3000 },
  );
});

Deno.test("DNS decoder: the pairing path (one reused message, answers only) decodes what the full path does", () => {
  const reuse = new ReusableMessage();
  // A message embedded at an offset in a larger buffer, as the decoder sees it inside a frame.
  fc.assert(
    fc.property(mutated(validMessage), fc.uint8Array({ maxLength: 40 }), (b, pad) => {
      const full = decodeDns(b);
      const framed = new Uint8Array(pad.length + b.length + 7);
      framed.set(pad);
      framed.set(b, pad.length);
      const lite = decodeDns(framed, pad.length, pad.length + b.length, false, reuse);
      if (full === null) return assert.equal(lite, null);
      assert.ok(lite !== null);
      const { authorities: _a, additionals: _b, ...fullRest } = full;
      const { authorities: _c, additionals: _d, ...liteRest } = lite;
      // A name's `ref` numbers it in the decoder's bounded name table while the table holds it: the full decode's
      // other names may evict the slot before the second decode asks again (seed 739672963 did), so refs are state,
      // not content, and are left out.
      const content = (m: unknown) => JSON.parse(JSON.stringify(m, (k, v) => k === "ref" ? undefined : v));
      assert.deepEqual(content({ ...liteRest, questions: [...lite.questions] }), content(fullRest));
    }),
    { numRuns: 3000 },
  );
});

Deno.test("names: pointer loops, runaway chains and 10 000-label names are rejected", () => {
  // A pointer to itself.
  const loop = Uint8Array.from([...new Array(12).fill(0), 0xc0, 12]);
  assert.equal(readName(loop, 12), null);
  // Two pointers pointing at each other.
  const pair = Uint8Array.from([...new Array(12).fill(0), 0xc0, 14, 0xc0, 12]);
  assert.equal(readName(pair, 12), null);
  // A long chain of pointers, each to the previous one.
  const chain: number[] = [...new Array(12).fill(0), 1, 0x61, 0];
  for (let i = 0; i < 200; i++) chain.push(0xc0, i === 0 ? 12 : 15 + 2 * (i - 1));
  assert.equal(readName(Uint8Array.from(chain), chain.length - 2), null);
  // 10 000 one-byte labels.
  const many: number[] = [...new Array(12).fill(0)];
  for (let i = 0; i < 10000; i++) many.push(1, 0x61);
  many.push(0);
  assert.equal(readName(Uint8Array.from(many), 12), null);
});

Deno.test("packet decoder: random frames on every link type never throw", () => {
  const dec = new PacketDecoder(() => {}, () => {});
  fc.assert(
    fc.property(fc.constantFrom(...SUPPORTED_LINK_TYPES, 999), fc.uint8Array({ maxLength: 300 }), (lt, b) => {
      dec.frame(frameOf(lt, b, 1));
    }),
    { numRuns: 5000 },
  );
});

Deno.test("packet decoder: mutated real frames never throw", () => {
  const [q, r] = udpExchange({
    id: 1,
    name: "x.example.com",
    type: 16,
    answer: [{ name: "x.example.com", type: 16, rdata: txtRdata("hi") }],
  });
  const dec = new PacketDecoder(() => {}, () => {});
  fc.assert(
    fc.property(mutated(q), mutated(r), (a, b) => {
      dec.frame(frameOf(1, a, 1));
      dec.frame(frameOf(1, b, 2));
    }),
    { numRuns: 3000 },
  );
});

Deno.test("fragment and TCP buffers stay bounded under floods", () => {
  const frags = new FragmentReassembler({ maxDatagrams: 100, timeoutSecs: 30 });
  for (let i = 0; i < 20000; i++) frags.add(`k${i}`, 1, 0, true, new Uint8Array(1000));
  assert.ok(frags.size <= 100);
  const tcp = new TcpReassembler({ maxFlows: 100, maxPendingBytes: 4096, idleSecs: 60 });
  for (let i = 0; i < 20000; i++) tcp.segment(`f${i}`, 1, 1000, false, false, new Uint8Array(50), () => {});
  assert.ok(tcp.size <= 100);
  // Out-of-order data beyond the per-flow bound is dropped, not held.
  for (let i = 0; i < 1000; i++) {
    tcp.segment("one", 1, 100000 + i * 10000, false, false, new Uint8Array(1000), () => {});
  }
  assert.ok(tcp.dropped > 0);
});

async function ingestSafely(bytes: Uint8Array): Promise<void> {
  const path = tempFile(bytes);
  try {
    await ingestFile(path);
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
  } finally {
    Deno.removeSync(path);
  }
}

Deno.test("files: mutated PCAP, pcapng and Zeek logs only ever give stats or an InputError", async () => {
  const [q, r] = udpExchange({ id: 3, name: "m.example.com" });
  const pcap = pcapFile([{ ts: 1, data: q }, { ts: 2, data: r }]);
  const ng = pcapngFile([{
    interfaces: [{ linkType: 1, tsresol: 9 }],
    packets: [{ ts: 1, data: q }, { ts: 2, data: r }],
  }]);
  const zeek = new TextEncoder().encode(
    "#separator \\x09\n#fields\tts\tquery\tid.orig_h\n1.5\ta.example.com\t10.0.0.1\n",
  );
  for (const base of [pcap, ng, zeek]) {
    await fc.assert(fc.asyncProperty(mutated(base), ingestSafely), { numRuns: 200 });
  }
});

Deno.test("files: a small capture truncated at every byte offset never crashes", async () => {
  const frames = [];
  for (let i = 0; i < 4; i++) frames.push(...udpExchange({ id: i, name: `t${i}.example.com`, type: 16 }));
  const full = pcapFile(frames.map((data, i) => ({ ts: 1 + i, data })));
  const ng = pcapngFile([{ interfaces: [{ linkType: 1 }], packets: frames.map((data, i) => ({ ts: 1 + i, data })) }]);
  for (const base of [full, ng]) {
    let lastPackets = -1;
    for (let cut = 0; cut <= base.length; cut++) {
      const path = tempFile(base.subarray(0, cut));
      try {
        const st = await ingestFile(path);
        assert.ok(st.packets >= lastPackets, "a longer prefix never yields fewer packets");
        lastPackets = st.packets;
      } catch (e) {
        assert.ok(e instanceof InputError, `cut at ${cut}: ${e}`);
      } finally {
        Deno.removeSync(path);
      }
    }
    assert.equal(lastPackets, 8);
  }
});

Deno.test("names: every byte value survives decoding exactly (one char per byte; '.' and '\\' escaped)", () => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ minLength: 1, maxLength: 63 }), { minLength: 1, maxLength: 3 }), (labels) => {
      const wire = [...new Array(12).fill(0)];
      for (const l of labels) wire.push(l.length, ...l);
      wire.push(0);
      const r = readName(Uint8Array.from(wire), 12);
      assert.ok(r !== null);
      const expected = labels.map((l) =>
        Array.from(l, (b) => (b === 0x2e || b === 0x5c ? "\\" : "") + String.fromCharCode(b)).join("")
      ).join(".");
      assert.equal(r.name, expected);
      assert.equal(r.key, expected.replace(/[A-Z]/g, (c) => c.toLowerCase()));
    }),
    { numRuns: 2000 },
  );
});

Deno.test("names: names that share what picks their slot (length, each label's ends) but differ inside are never taken for each other", () => {
  const wireOf = (labels: Uint8Array[]) => {
    const wire = [...new Array(12).fill(0)];
    for (const l of labels) wire.push(l.length, ...l);
    wire.push(0);
    return Uint8Array.from(wire);
  };
  const text = (labels: Uint8Array[]) =>
    labels.map((l) => Array.from(l, (b) => (b === 0x2e || b === 0x5c ? "\\" : "") + String.fromCharCode(b)).join(""))
      .join(".");
  fc.assert(
    fc.property(
      fc.array(fc.uint8Array({ minLength: 3, maxLength: 63 }), { minLength: 1, maxLength: 4 }),
      fc.nat(),
      fc.nat(),
      fc.integer({ min: 0, max: 255 }),
      (labels, which, at, value) => {
        const other = labels.map((l) => l.slice());
        const l = other[which % other.length];
        l[at % l.length] = value;
        for (const name of [labels, labels, other, labels, other]) {
          const r = readName(wireOf(name), 12);
          assert.ok(r !== null);
          assert.equal(r.name, text(name));
        }
      },
    ),
    { numRuns: 3000 },
  );
});

Deno.test("pairing table: any mix of sets, gets and deletes agrees with a Map (collisions, wrap-around, growth)", () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.constantFrom("set", "set", "get", "delete"), fc.integer({ min: 0, max: 6000 })), {
        minLength: 1000,
        maxLength: 12000,
        size: "max",
      }),
      fc.integer({ min: 0, max: 0x3fffffff }),
      (ops, spread) => {
        const t = new PendingTable<number>();
        const m = new Map<number, number>();
        ops.forEach(([op, k], n) => {
          // Keys either dense (colliding runs) or spread over the whole key space.
          const key = (k * (spread | 1)) & 0x3fffffff;
          if (op === "set") {
            t.set(key, n);
            m.set(key, n);
          } else if (op === "delete") {
            t.delete(key);
            m.delete(key);
          } else assert.equal(t.get(key), m.get(key));
        });
        assert.equal(t.size, m.size);
        for (const [k, v] of m) assert.equal(t.get(k), v);
      },
    ),
    { numRuns: 60 },
  );
});

Deno.test("names: a name of many one-byte labels (past what the name table keeps) still reads right, twice", () => {
  const labels = Array.from({ length: 120 }, (_, i) => String.fromCharCode(0x61 + (i % 26)));
  const wire = [...new Array(12).fill(0)];
  for (const l of labels) wire.push(1, l.charCodeAt(0));
  wire.push(0);
  const msg = Uint8Array.from(wire);
  for (let i = 0; i < 2; i++) {
    const r = readName(msg, 12);
    assert.ok(r !== null);
    assert.equal(r.name, labels.join("."));
  }
});

Deno.test("byte strings: one char per byte for any bytes, ASCII or not, short or long, at any offset", () => {
  const reference = (b: Uint8Array, s: number, e: number) => {
    let out = "";
    for (let i = s; i < e; i++) out += String.fromCharCode(b[i]);
    return out;
  };
  const bytes = fc.oneof(
    fc.uint8Array({ maxLength: 6000, size: "max" }),
    fc.uint8Array({ maxLength: 6000, max: 0x7f, size: "max" }),
    fc.uint8Array({ maxLength: 300, min: 0x80, size: "max" }),
  );
  fc.assert(
    fc.property(bytes, fc.nat(), fc.nat(), (b, x, y) => {
      const s = b.length === 0 ? 0 : x % b.length;
      const e = s + (b.length - s === 0 ? 0 : y % (b.length - s + 1));
      assert.equal(bytesToByteString(b, s, e), reference(b, s, e));
    }),
    { numRuns: 400 },
  );
});

Deno.test("answers by value: TXT and raw RDATA of any bytes decode exactly; equal RDATA seen again is one frozen record data, unequal never", () => {
  const answerOf = (type: number, rdata: Uint8Array) => {
    const m = decodeDns(dnsMessage({
      id: 7,
      qr: true,
      questions: [{ name: "x.example", type }],
      answers: [{ name: "x.example", type, rdata: Array.from(rdata) }],
    }));
    assert.ok(m !== null && m.answers.length === 1);
    return m.answers[0].data;
  };
  const expected = (type: number, b: Uint8Array) => {
    if (type !== 16) return { kind: "raw", bytes: Array.from(b) };
    const strings: string[] = [];
    for (let p = 0; p < b.length; p += 1 + b[p]) {
      if (p + 1 + b[p] > b.length) return { kind: "malformed", reason: "TXT string runs past RDATA" };
      strings.push(String.fromCharCode(...b.subarray(p + 1, p + 1 + b[p])));
    }
    return { kind: "txt", strings };
  };
  const plain = (d: ReturnType<typeof answerOf>) => d.kind === "raw" ? { kind: "raw", bytes: Array.from(d.bytes) } : d;
  // Pairs that share their length, their first 16 bytes and their last 4 (what picks a slot) but may differ inside.
  const pair = fc.tuple(
    fc.constantFrom(16, 10, 65399),
    fc.uint8Array({ maxLength: 1100, size: "max" }),
    fc.nat(),
    fc.integer({ min: 0, max: 255 }),
  ).map(([type, a, at, value]) => {
    const b = a.slice();
    if (b.length > 0) b[at % b.length] = value;
    return { type, a, b };
  });
  const check = ({ type, a, b }: { type: number; a: Uint8Array; b: Uint8Array }) => {
    const first = answerOf(type, a);
    assert.deepEqual(plain(first), expected(type, a));
    const again = answerOf(type, a);
    assert.deepEqual(plain(again), expected(type, a));
    const other = answerOf(type, b);
    assert.deepEqual(plain(other), expected(type, b));
    const differ = a.some((x, i) => x !== b[i]);
    if (differ) assert.notEqual(other, again);
    if (again.kind !== "malformed" && a.length <= 1024) {
      // Seen twice, an answer is shared: the same frozen object from then on.
      assert.ok(Object.isFrozen(again));
      assert.equal(answerOf(type, a), again);
      if (!differ) assert.equal(other, again);
    }
  };
  fc.assert(fc.property(pair, check), { numRuns: 600 });
  // Enough distinct answers to go round the kept words' ring (4 MB) several times: still exact.
  const big = new Uint8Array(1000);
  for (let i = 0; i < 20000; i++) {
    big[500] = i & 0xff;
    big[501] = i >> 8;
    const type = i % 2 === 0 ? 10 : 16;
    if (i % 1000 === 0) check({ type, a: big, b: big.slice().fill(1, 600, 601) });
    else if (i % 97 === 0) assert.deepEqual(plain(answerOf(type, big)), expected(type, big));
    else answerOf(type, big);
  }
  // A slot whose words the ring has since overwritten is no hit, even when the words now there are the
  // answer being read: Y is written where X was (the first place after the ring wraps), and X and Y pick
  // the same slots (same length, first 16 and last 4 bytes).
  forgetSharedAnswers();
  const x = new Uint8Array(1000).fill(0x41);
  const y = x.slice().fill(0x42, 100, 900);
  answerOf(10, x);
  assert.ok(Object.isFrozen(answerOf(10, x)));
  // 4193 fillers of 250 words after X's 250 leave 76 words of the 2^20-word ring: Y starts over at 0.
  for (let i = 0; i < 4193; i++) {
    big[500] = i & 0xff;
    big[501] = i >> 8;
    answerOf(10, big);
  }
  for (let i = 0; i < 3; i++) assert.deepEqual(plain(answerOf(10, y)), expected(10, y));
});

Deno.test("names: a name keeps its number while the table keeps it, and a number never names two names", () => {
  const question = (name: string) => {
    const m = decodeDns(dnsMessage({ id: 1, questions: [{ name, type: 1 }] }));
    assert.ok(m !== null);
    return m.questions[0];
  };
  const a = question("a.example.com");
  assert.ok(a.ref! > 0);
  assert.equal(question("a.example.com").ref, a.ref);
  assert.equal(question("A.EXAMPLE.COM").ref === a.ref, false, "another spelling is another name");
  assert.equal(question("").ref, 0);
  // Far more names than the table keeps, some asked again and again: a number stays one name's.
  const named = new Map<number, string>();
  let top = 0;
  for (let i = 0; i < 60_000; i++) {
    const name = i % 3 === 0 ? `again${i % 97}.example.com` : `n${i}.example.com`;
    const q = question(name);
    const seen = named.get(q.ref!);
    if (seen === undefined) {
      assert.ok(q.ref! > top, "a new number is past every number given before");
      top = q.ref!;
      named.set(q.ref!, name);
    } else assert.equal(seen, name);
  }
  // The names asked again and again kept their numbers: 97 of them among 40 000 others.
  assert.ok(named.size < 40_000 + 97 * 4);
});
