/**
 * Every capture and log variant the ingest layer promises, built byte by byte.
 */
import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import { createHash } from "node:crypto";
import { captureFrames, hashFileInThread, ingestFile, InputError, openInput } from "../src/ingest/source.ts";
import type { Frame, Transaction } from "../src/ingest/types.ts";
import { BatchPacker, forEachFrame, newShared, RingReader } from "../src/ingest/live/protocol.ts";
import {
  concat,
  dnsMessage,
  ether,
  ipv4,
  ipv6,
  pcapFile,
  pcapngFile,
  tcp,
  tcpFrame,
  tempFile,
  txtRdata,
  udp,
  udpExchange,
} from "./helpers/build.ts";

async function read(path: string): Promise<{ txs: Transaction[]; stats: Awaited<ReturnType<typeof ingestFile>> }> {
  const txs: Transaction[] = [];
  const stats = await ingestFile(path, { onTransaction: (t) => txs.push({ ...t }) });
  return { txs, stats };
}

const [q1, r1] = udpExchange({
  id: 0x1234,
  name: "A.Example.COM",
  type: 16,
  answer: [{ name: "a.example.com", type: 16, rdata: txtRdata("hello", "world") }],
});

for (const little of [true, false]) {
  for (const nano of [false, true]) {
    Deno.test(`pcap: ${little ? "little" : "big"}-endian, ${nano ? "nano" : "micro"}second timestamps`, async () => {
      const path = tempFile(
        pcapFile([{ ts: 1700000000.123456, data: q1 }, { ts: 1700000000.223456, data: r1 }], { little, nano }),
      );
      const { txs, stats } = await read(path);
      assert.equal(stats.format, "pcap");
      assert.deepEqual(stats.link_types, [1]);
      assert.equal(stats.packets, 2);
      assert.equal(stats.queries, 1);
      assert.equal(stats.responses, 1);
      assert.equal(stats.malformed, 0);
      assert.equal(txs.length, 1);
      const t = txs[0];
      assert.equal(t.query, "A.Example.COM");
      assert.equal(t.queryKey, "a.example.com");
      assert.equal(t.client, "10.0.0.2");
      assert.equal(t.server, "10.0.0.1");
      assert.equal(t.rcode, 0);
      assert.ok(Math.abs(t.ts - 1700000000.123456) < 1e-6);
      assert.ok(Math.abs((t.rtt ?? 0) - 0.1) < 1e-6);
      assert.deepEqual(t.answers[0].data, { kind: "txt", strings: ["hello", "world"] });
      Deno.removeSync(path);
    });
  }
}

Deno.test("pcap: a snaplen-truncated packet is counted as malformed, not a crash", async () => {
  const cut = r1.subarray(0, r1.length - 5);
  const path = tempFile(pcapFile([{ ts: 1, data: q1 }, { ts: 2, data: cut, origLen: r1.length }]));
  const { stats } = await read(path);
  assert.equal(stats.queries, 1);
  assert.equal(stats.malformed, 1);
  assert.match(stats.first_malformed!.reason, /snapshot length/);
  Deno.removeSync(path);
});

Deno.test("one frame record: pcap, pcapng and the live ring hand out the same frames, a cut one with its wire length", async () => {
  const cut = r1.subarray(0, r1.length - 5);
  const packets = [{ ts: 1, data: q1 }, { ts: 2, data: cut, origLen: r1.length }];
  type Seen = Omit<Frame, "data" | "start" | "end" | "offset"> & { bytes: number[] };
  const keep = (out: Seen[]) => (f: Frame) =>
    out.push({ ts: f.ts, linkType: f.linkType, origLen: f.origLen, bytes: [...f.data.subarray(f.start, f.end)] });
  const fromFile = async (bytes: Uint8Array) => {
    const out: Seen[] = [];
    const path = tempFile(bytes);
    const input = await openInput(path);
    try {
      await captureFrames(input, "test")({ frame: keep(out), problem() {}, linkType() {}, end() {} });
    } finally {
      await input.close();
      Deno.removeSync(path);
    }
    return out;
  };
  const pcap = await fromFile(pcapFile(packets));
  assert.deepEqual(pcap.map((f) => [f.ts, f.linkType, f.origLen, f.bytes.length]), [
    [1, 1, q1.length, q1.length],
    [2, 1, r1.length, cut.length],
  ]);
  assert.deepEqual(await fromFile(pcapngFile([{ interfaces: [{ linkType: 1 }], packets }])), pcap);
  // Through the ring a live source fills: packed by the thread, read back by the main thread.
  const shared = newShared("capture");
  const posted: { slot: number; bytes: number }[] = [];
  const packer = new BatchPacker(shared, (m) => {
    if (m.kind === "frames") posted.push(m);
  });
  for (const f of pcap) packer.bytes.set(f.bytes, packer.reserve(f.ts, f.bytes.length, f.origLen, f.linkType));
  packer.flush();
  const ring: Seen[] = [];
  forEachFrame({ data: new RingReader(shared).take(posted[0].slot, posted[0].bytes), bytes: posted[0].bytes }, {
    frame: keep(ring),
  });
  assert.deepEqual(ring, pcap);
  // A log is not a capture, and says so.
  const log = tempFile(new TextEncoder().encode("#separator \\x09\n#fields\tts\tquery\n"));
  const input = await openInput(log);
  try {
    assert.throws(
      () => captureFrames(input, "replay needs packets"),
      /is a Zeek log, not a capture: replay needs packets/,
    );
  } finally {
    await input.close();
    Deno.removeSync(log);
  }
});

Deno.test("pcap: a record claiming 4 GB is reported with its offset, not allocated", async () => {
  const good = pcapFile([{ ts: 1, data: q1 }]);
  const liar = Uint8Array.from([1, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
  const path = tempFile(concat(good, liar, new Uint8Array(64)));
  const { stats } = await read(path);
  assert.equal(stats.packets, 1);
  assert.equal(stats.malformed, 1);
  assert.equal(stats.first_malformed!.offset, good.length);
  assert.match(stats.first_malformed!.reason, /4294967295/);
  Deno.removeSync(path);
});

Deno.test("a FIFO whose capture breaks early is left at once, though its writer keeps it open (no read ahead of need)", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "plumbum-fifo-" });
  const fifo = `${dir}/capture`;
  const made = new Deno.Command("mkfifo", { args: [fifo] }).outputSync();
  assert.ok(made.success, "mkfifo");
  // More than the 4 KB that format sniffing waits for, and less than a pipe holds.
  const good = pcapFile(Array.from({ length: 100 }, (_, i) => ({ ts: 1 + i, data: q1 })));
  const liar = Uint8Array.from([1, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
  const reading = ingestFile(fifo);
  const writer = await Deno.open(fifo, { write: true });
  try {
    await writer.write(concat(good, liar));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<"late">((resolve) => timer = setTimeout(() => resolve("late"), 5000));
    const stats = await Promise.race([reading, late]);
    clearTimeout(timer);
    assert.notEqual(stats, "late", "ingest waited on the pipe's writer after the capture broke");
    if (stats === "late") return;
    assert.equal(stats.packets, 100);
    assert.match(stats.first_malformed!.reason, /4294967295/);
  } finally {
    writer.close();
    await reading.catch(() => {});
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("pcapng: both byte orders, several sections, tsresol/tsoffset, several interfaces and link types, unknown blocks", async () => {
  const raw = ipv4(
    "10.0.0.2",
    "10.0.0.1",
    17,
    udp(40001, 53, dnsMessage({ id: 7, questions: [{ name: "raw.example.org", type: 1 }] })),
  );
  const path = tempFile(pcapngFile([
    { little: true, interfaces: [{ linkType: 1 }], packets: [{ ts: 1700000000.5, data: q1 }], unknownBlocks: 2 },
    {
      little: false,
      interfaces: [{ linkType: 1, tsresol: 9 }, { linkType: 101, tsresol: 0x80 | 10, tsoffset: 1000 }],
      packets: [{ ts: 1700000000.6, data: r1, iface: 0 }, { ts: 1700000001.25, data: raw, iface: 1 }],
      unknownBlocks: 1,
    },
  ]));
  const { txs, stats } = await read(path);
  assert.equal(stats.format, "pcapng");
  assert.deepEqual(stats.link_types.sort((a, b) => a - b), [1, 101]);
  assert.equal(stats.packets, 3);
  assert.equal(stats.malformed, 0);
  assert.equal(txs.length, 2);
  const a = txs.find((t) => t.queryKey === "a.example.com")!;
  assert.ok(a.hasResponse);
  assert.ok(Math.abs((a.rtt ?? 0) - 0.1) < 1e-6, `rtt ${a.rtt}`);
  const r = txs.find((t) => t.queryKey === "raw.example.org")!;
  assert.ok(Math.abs(r.ts - 1700000001.25) < 1e-3, `ts ${r.ts}`);
  Deno.removeSync(path);
});

Deno.test("pcapng: simple packet blocks", async () => {
  const path = tempFile(
    pcapngFile([{ interfaces: [{ linkType: 1 }], packets: [{ ts: 0, data: q1 }, { ts: 0, data: r1 }], simple: true }]),
  );
  const { stats } = await read(path);
  assert.equal(stats.dns_messages, 2);
  assert.equal(stats.transactions, 1);
  Deno.removeSync(path);
});

Deno.test("link layers: SLL, SLL2, raw IPv4/IPv6, null, loop, VLAN and QinQ", async () => {
  const ip = ipv4(
    "10.0.0.2",
    "10.0.0.1",
    17,
    udp(40002, 53, dnsMessage({ id: 9, questions: [{ name: "l.example.net", type: 1 }] })),
  );
  const ip6 = ipv6(
    "2001:db8::2",
    "2001:db8::1",
    17,
    udp(40003, 53, dnsMessage({ id: 10, questions: [{ name: "six.example.net", type: 28 }] })),
  );
  const sll = concat(new Uint8Array(14), Uint8Array.from([0x08, 0x00]), ip);
  const sll2 = concat(Uint8Array.from([0x08, 0x00]), new Uint8Array(18), ip);
  const nullLe = concat(Uint8Array.from([2, 0, 0, 0]), ip);
  const loop = concat(Uint8Array.from([0, 0, 0, 30]), ip6);
  const cases: [number, Uint8Array, string][] = [
    [113, sll, "l.example.net"],
    [276, sll2, "l.example.net"],
    [101, ip, "l.example.net"],
    [228, ip, "l.example.net"],
    [229, ip6, "six.example.net"],
    [0, nullLe, "l.example.net"],
    [108, loop, "six.example.net"],
    [1, ether(0x0800, ip, [{ tpid: 0x8100, id: 5 }]), "l.example.net"],
    [1, ether(0x0800, ip, [{ tpid: 0x88a8, id: 5 }, { tpid: 0x8100, id: 6 }]), "l.example.net"],
  ];
  for (const [lt, data, name] of cases) {
    const path = tempFile(pcapFile([{ ts: 1, data }], { linkType: lt }));
    const { txs, stats } = await read(path);
    assert.equal(stats.malformed, 0, `link ${lt}`);
    assert.equal(txs.length, 1, `link type ${lt}`);
    assert.equal(txs[0].queryKey, name, `link type ${lt}`);
    Deno.removeSync(path);
  }
});

Deno.test("IPv6 extension headers and IPv4/IPv6 fragments are reassembled", async () => {
  const big = dnsMessage({
    id: 77,
    qr: true,
    questions: [{ name: "frag.example.com", type: 16 }],
    answers: [{
      name: "frag.example.com",
      type: 16,
      rdata: txtRdata("x".repeat(200), "y".repeat(200), "z".repeat(200)),
    }],
  });
  const dgram = udp(53, 40010, big);
  // IPv4: three fragments, delivered out of order.
  const f = [dgram.subarray(0, 256), dgram.subarray(256, 512), dgram.subarray(512)];
  const v4 = [
    ipv4("10.0.0.1", "10.0.0.2", 17, f[2], { id: 99, offset: 512, more: false }),
    ipv4("10.0.0.1", "10.0.0.2", 17, f[0], { id: 99, offset: 0, more: true }),
    ipv4("10.0.0.1", "10.0.0.2", 17, f[1], { id: 99, offset: 256, more: true }),
  ].map((p) => ether(0x0800, p));
  // IPv6: hop-by-hop + destination options, then a fragment header.
  const hop = { type: 0, body: [0, 1, 4, 0, 0, 0, 0] };
  const frag6 = (off: number, more: boolean, data: Uint8Array) =>
    ipv6("2001:db8::1", "2001:db8::2", 17, data, [hop, {
      type: 44,
      body: [0, (off >> 8) & 0xff, (off & 0xf8) | (more ? 1 : 0), 0, 0, 0, 42],
    }]);
  const v6 = [frag6(0, true, dgram.subarray(0, 304)), frag6(304, false, dgram.subarray(304))].map((p) =>
    ether(0x86dd, p)
  );
  const path = tempFile(pcapFile([...v4, ...v6].map((data, i) => ({ ts: 1 + i / 10, data }))));
  const { txs, stats } = await read(path);
  assert.equal(stats.malformed, 0);
  assert.equal(stats.responses, 2);
  for (const t of txs) {
    assert.equal(t.queryKey, "frag.example.com");
    assert.deepEqual(t.answers[0].data, { kind: "txt", strings: ["x".repeat(200), "y".repeat(200), "z".repeat(200)] });
  }
  Deno.removeSync(path);
});

Deno.test("DNS over TCP: several messages per segment, split messages, out-of-order and retransmitted segments", async () => {
  const m = (id: number, name: string) => tcpFrame(dnsMessage({ id, questions: [{ name, type: 16 }] }));
  const stream = concat(m(1, "one.example.com"), m(2, "two.example.com"), m(3, "three.example.com"));
  const isn = 1000;
  const seg = (start: number, end: number, flags = 0x18) =>
    ether(0x0800, ipv4("10.0.0.2", "10.0.0.1", 6, tcp(40100, 53, isn + 1 + start, flags, stream.subarray(start, end))));
  const syn = ether(0x0800, ipv4("10.0.0.2", "10.0.0.1", 6, tcp(40100, 53, isn, 0x02, new Uint8Array(0))));
  const a = 10, b = 40;
  const frames = [syn, seg(b, stream.length), seg(0, a), seg(0, a), /* retransmit */ seg(a - 4, b) /* overlap */];
  const path = tempFile(pcapFile(frames.map((data, i) => ({ ts: 1 + i, data }))));
  const { txs, stats } = await read(path);
  assert.equal(stats.malformed, 0);
  assert.deepEqual(txs.map((t) => t.queryKey).sort(), ["one.example.com", "three.example.com", "two.example.com"]);
  assert.ok(txs.every((t) => t.transport === "tcp"));
  Deno.removeSync(path);
});

Deno.test("mDNS and LLMNR are decoded and marked; other ports are not DNS unless configured", async () => {
  const mk = (port: number, name: string) =>
    ether(
      0x0800,
      ipv4("10.0.0.2", "224.0.0.251", 17, udp(port, port, dnsMessage({ id: 0, questions: [{ name, type: 12 }] }))),
    );
  const path = tempFile(
    pcapFile([{ ts: 1, data: mk(5353, "_http._tcp.local") }, { ts: 2, data: mk(5355, "host") }, {
      ts: 3,
      data: mk(5300, "alt.example.com"),
    }]),
  );
  const { txs } = await read(path);
  assert.deepEqual(txs.map((t) => [t.queryKey, t.service]), [["_http._tcp.local", "mdns"], ["host", "llmnr"]]);
  const again: Transaction[] = [];
  await ingestFile(path, { dnsPorts: [53, 5300], onTransaction: (t) => again.push({ ...t }) });
  assert.equal(again.length, 3);
  Deno.removeSync(path);
});

Deno.test("transactions: unanswered queries and unsolicited responses are kept; the client is the asker", async () => {
  const [q] = udpExchange({ id: 1, name: "lonely.example.com" });
  const [, r] = udpExchange({ id: 2, name: "orphan.example.com" });
  const path = tempFile(pcapFile([{ ts: 1, data: q }, { ts: 2, data: r }]));
  const { txs } = await read(path);
  const lonely = txs.find((t) => t.queryKey === "lonely.example.com")!;
  const orphan = txs.find((t) => t.queryKey === "orphan.example.com")!;
  assert.equal(lonely.rcode, null);
  assert.equal(lonely.hasResponse, false);
  assert.equal(orphan.hasQuery, false);
  assert.equal(orphan.client, "10.0.0.2");
  assert.equal(orphan.server, "10.0.0.1");
  Deno.removeSync(path);
});

const ZEEK_TSV = [
  "#separator \\x09",
  "#set_separator\t,",
  "#empty_field\t(empty)",
  "#unset_field\t-",
  "#path\tdns",
  "#fields\tquery\tts\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\ttrans_id\trtt\tqclass\tqtype\trcode\tanswers\tTTLs\textra",
  "#types\tstring\ttime\taddr\tport\taddr\tport\tenum\tcount\tinterval\tcount\tcount\tcount\tvector[string]\tvector[interval]\tstring",
  "AbC.t1.evil.tk\t1700000000.5\t10.1.1.1\t5555\t10.1.1.53\t53\tudp\t42\t0.01\t1\t16\t0\tTXT 5 hello TXT 3 a\\x2cb,1.2.3.4\t60.000000,30.000000\tx",
  "bin\\xfflabel.evil.tk\t1700000001.5\t10.1.1.1\t5556\t10.1.1.53\t53\ttcp\t43\t-\t1\t10\t-\t-\t-\tx",
  "this line is broken",
].join("\n") + "\n";

Deno.test("Zeek TSV: headers, any column order, extra columns, escapes, unset fields; plain and gzip", async () => {
  for (const gz of [false, true]) {
    const bytes = new TextEncoder().encode(ZEEK_TSV);
    const path = tempFile(gz ? gzipSync(bytes) : bytes, ".log");
    const { txs, stats } = await read(path);
    assert.equal(stats.format, "zeek-tsv");
    assert.equal(stats.compression, gz ? "gzip" : null);
    assert.equal(txs.length, 2);
    assert.equal(stats.malformed, 1);
    assert.equal(stats.first_malformed!.line, 10);
    const [a, b] = txs;
    assert.equal(a.query, "AbC.t1.evil.tk");
    assert.equal(a.queryKey, "abc.t1.evil.tk");
    assert.equal(a.client, "10.1.1.1");
    assert.equal(a.rcode, 0);
    assert.deepEqual(a.answers.map((x) => [x.type, x.ttl]), [[16, 60], [1, 30]]);
    assert.deepEqual(a.answers[0].data, { kind: "txt", strings: ["hello", "a,b"] });
    assert.equal(b.query, "bin\xfflabel.evil.tk");
    assert.equal(b.rcode, null);
    assert.equal(b.transport, "tcp");
    Deno.removeSync(path);
  }
});

Deno.test("Zeek JSON lines, plain and gzip", async () => {
  const lines = [
    JSON.stringify({
      ts: 1517336042.279652,
      "id.orig_h": "192.168.88.2",
      "id.orig_p": 55638,
      "id.resp_h": "165.227.88.15",
      "id.resp_p": 53,
      proto: "udp",
      trans_id: 42937,
      query: "6dde.dnsc.r-1x.com",
      qtype: 16,
      rcode: 0,
      answers: ["TXT 18 302f017537c68f5169"],
      TTLs: [60.0],
    }),
    "{not json",
    JSON.stringify({ ts: 1517336043, "id.orig_h": "192.168.88.3", query: "é.example.com", qtype: 1 }),
  ].join("\n");
  for (const gz of [false, true]) {
    const bytes = new TextEncoder().encode(lines);
    const path = tempFile(gz ? gzipSync(bytes) : bytes, ".json");
    const { txs, stats } = await read(path);
    assert.equal(stats.format, "zeek-json");
    assert.equal(txs.length, 2);
    assert.equal(stats.malformed, 1);
    assert.deepEqual(txs[0].answers[0].data, { kind: "txt", strings: ["302f017537c68f5169"] });
    assert.equal(txs[1].query, "\xc3\xa9.example.com", "UTF-8 bytes kept as a byte string");
    assert.equal(txs[1].rcode, null);
    Deno.removeSync(path);
  }
});

Deno.test("Zeek: a record type or rcode a DNS header cannot carry is a malformed line, counted and skipped", async () => {
  const line = (qtype: unknown, rcode: unknown) =>
    JSON.stringify({ ts: 1517336042, "id.orig_h": "10.0.0.1", query: "a.example", qtype, rcode });
  const lines = [
    line(65535, 4095),
    line(65536, 0),
    line(-1, 0),
    line(1.5, 0),
    line(1, 4096),
    line(1, -1),
    line(1, 0.5),
    line(28, null),
  ];
  const path = tempFile(new TextEncoder().encode(lines.join("\n")), ".json");
  const { txs, stats } = await read(path);
  assert.deepEqual(txs.map((t) => [t.qtype, t.rcode]), [[65535, 4095], [28, null]]);
  assert.equal(stats.malformed, 6);
  assert.equal(stats.first_malformed!.line, 2);
  assert.match(stats.first_malformed!.reason, /qtype is not a record type/);
  Deno.removeSync(path);
});

Deno.test("format is chosen by content, not by name; unreadable inputs name the file", async () => {
  const path = tempFile(pcapFile([{ ts: 1, data: q1 }]), ".log");
  assert.equal((await read(path)).stats.format, "pcap");
  Deno.removeSync(path);
  const junk = tempFile(new TextEncoder().encode("hello world\n"), ".pcap");
  await assert.rejects(
    () => ingestFile(junk),
    (e: Error) => e.message.includes(junk) && /not a PCAP, pcapng, dnstap or Zeek/.test(e.message),
  );
  Deno.removeSync(junk);
  await assert.rejects(() => ingestFile("/nonexistent/x.pcap"), /no such file/);
});

Deno.test("SHA-256: a large file hashed on its own thread equals the inline hash; a missing file is an InputError", async () => {
  // Over the 32 MB from which ingest hashes on a thread: both ways must agree.
  const body = new Uint8Array(33 << 20);
  for (let i = 0; i < body.length; i += 4093) body[i] = i & 0xff;
  const pair = pcapFile([{ ts: 1700000000, data: q1 }, { ts: 1700000000.1, data: r1 }]);
  // The bytes after the two packets are no packet: ingest stops there, the hash covers them.
  const path = tempFile(concat(pair, body));
  const bytes = Deno.readFileSync(path);
  const want = createHash("sha256").update(bytes).digest("hex");
  assert.equal(await hashFileInThread(path).digest, want);
  const stats = await ingestFile(path, { sha256: true });
  assert.equal(stats.sha256, want);
  assert.equal(stats.transactions, 1);
  const small = tempFile(pair);
  assert.equal(
    (await ingestFile(small, { sha256: true })).sha256,
    createHash("sha256").update(Deno.readFileSync(small)).digest("hex"),
  );
  await assert.rejects(hashFileInThread(`${path}.missing`).digest, InputError);
  // Paced, the thread stays behind the reader's progress and waits for it; released, it finishes.
  const paced = hashFileInThread(path, true);
  let settled = false;
  paced.digest.then(() => settled = true, () => settled = true);
  paced.progress(8 << 20);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(settled, false, "a paced hash finished before its reader read the file");
  paced.progress(20 << 20);
  paced.release();
  assert.equal(await paced.digest, want);
  assert.ok((await paced.waits) > 0);
  assert.equal(await hashFileInThread(path).waits, 0);
  Deno.removeSync(path);
  Deno.removeSync(small);
});

Deno.test("a file's ring has 4 slots of 1 MB (a capture's 32): batches go round it, each frame back as packed", () => {
  const shared = newShared("file");
  assert.equal(shared.ring.byteLength, 4 << 20);
  assert.equal(newShared("capture").ring.byteLength, 32 << 20);
  const reader = new RingReader(shared);
  const slots: number[] = [];
  const back: number[] = [];
  const packer = new BatchPacker(shared, (m) => {
    if (m.kind !== "frames") return;
    slots.push(m.slot);
    // Taken at once (the slot is free again), as the main thread does.
    forEachFrame({ data: reader.take(m.slot, m.bytes), bytes: m.bytes }, {
      frame: (f) => back.push(f.ts, f.data[f.start], f.end - f.start),
    });
  });
  const sent: number[] = [];
  for (let i = 0; i < 10; i++) {
    // Two frames a batch, of 600 KB each: the second does not fit, so every frame is a batch of its own.
    const frame = new Uint8Array(600 * 1024).fill(i);
    const at = packer.reserve(i, frame.length, frame.length, 1); // may move to the next slot: then the bytes
    packer.bytes.set(frame, at);
    sent.push(i, i, frame.length);
  }
  packer.flush();
  assert.deepEqual(slots, [0, 1, 2, 3, 0, 1, 2, 3, 0, 1]);
  assert.deepEqual(back, sent);
});
