/**
 * `plumbum carve`: a finding's packets read again from the run's sources,
 * and the data its names and answers carried decoded back to the bytes that
 * left — a gzip'd file sent over base32 names comes out byte for byte, with
 * its stored name; the known framings decode; a changed source is said.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { runCli } from "./helpers/cli.ts";
import { dnsMessage, ether, ipv4, pcapFile, tempFile, txtRdata, udp } from "./helpers/build.ts";
import { decodeUpstream, looksLike } from "../src/evidence/payload.ts";
import { prng } from "../src/eval/tune.ts";
import { sharedDir } from "./helpers/shared.ts";

const B32 = "abcdefghijklmnopqrstuvwxyz234567";
function base32(b: Uint8Array): string {
  let out = "", bits = 0, acc = 0;
  for (const x of b) {
    acc = ((acc << 8) | x) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += B32[(acc >> bits) & 31];
    }
  }
  return bits > 0 ? out + B32[(acc << (5 - bits)) & 31] : out;
}
const labels = (s: string) => s.match(/.{1,60}/g)!.join(".");

function crc32(b: Uint8Array): number {
  let c = ~0;
  for (const x of b) {
    c ^= x;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}

/** A real gzip member of `data` with the stored file name `name`. */
async function gzipNamed(data: Uint8Array, name: string): Promise<Uint8Array> {
  const raw = new Uint8Array(
    await new Response(
      new Blob([data as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new CompressionStream("deflate-raw")),
    ).arrayBuffer(),
  );
  const head = [0x1f, 0x8b, 8, 0x08, 0, 0, 0, 0, 0, 3, ...new TextEncoder().encode(name), 0];
  const tail = new Uint8Array(8);
  new DataView(tail.buffer).setUint32(0, crc32(data), true);
  new DataView(tail.buffer).setUint32(4, data.length, true);
  return Uint8Array.from([...head, ...raw, ...tail]);
}

Deno.test("carve: a gzip'd file sent over base32 names comes out byte for byte, its packets alone in the capture", async () => {
  const rand = prng(3);
  const secret = new TextEncoder().encode(
    Array.from({ length: 400 }, (_, i) => `user${i},pass-${Math.floor(rand() * 1e9).toString(36)}\n`).join(""),
  );
  const gz = await gzipNamed(secret, "passwords.xlsx");
  const packets: { ts: number; data: Uint8Array }[] = [];
  let id = 1, t = 1_700_000_000;
  const exchange = (client: string, name: string, answer: string) => {
    const q = dnsMessage({ id, questions: [{ name, type: 16 }] });
    const r = dnsMessage({
      id,
      qr: true,
      questions: [{ name, type: 16 }],
      answers: [{ name, type: 16, rdata: txtRdata(answer) }],
    });
    packets.push({ ts: t, data: ether(0x0800, ipv4(client, "10.0.0.1", 17, udp(30000 + id, 53, q))) });
    packets.push({ ts: t + 0.01, data: ether(0x0800, ipv4("10.0.0.1", client, 17, udp(53, 30000 + id, r))) });
    id++;
    t += 0.5;
  };
  let chunks = 0;
  for (let o = 0; o < gz.length; o += 90) {
    const name = `${labels(base32(gz.subarray(o, o + 90)))}.x.exfil-lab.com`;
    exchange("10.0.0.7", name, "ok");
    if (chunks++ % 7 === 3) exchange("10.0.0.7", name, "ok"); // a retransmission
    exchange("10.0.0.8", `www${chunks}.example.org`, "v=spf1 -all");
  }
  const capture = tempFile(pcapFile(packets), ".pcap");
  const dir = await Deno.makeTempDir({ prefix: "plumbum-carve-" });
  try {
    assert.equal((await runCli(["apply", capture, "--dir", `${dir}/ws`])).code, 0);
    const r = await runCli(["carve", "exfil-lab.com", "-o", `${dir}/out`, "--dir", `${dir}/ws`]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /exfil-lab\.com in run #1: \d+ packets .*; data under x\.exfil-lab\.com/);
    assert.match(r.stdout, /up +\d[\d.]* KB, base32, 100 % decoded, gzip "passwords\.xlsx"/);
    const up = await Deno.readFile(`${dir}/out/upstream-10.0.0.7.bin`);
    assert.deepEqual(createHash("sha256").update(up).digest("hex"), createHash("sha256").update(gz).digest("hex"));
    // What left, inflated: the very file.
    const inflated = new Uint8Array(
      await new Response(
        new Blob([up as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DecompressionStream("gzip")),
      ).arrayBuffer(),
    );
    assert.equal(new TextDecoder().decode(inflated), new TextDecoder().decode(secret));
    const doc = JSON.parse(await Deno.readTextFile(`${dir}/out/carve.json`));
    assert.equal(doc.domain, "exfil-lab.com");
    assert.equal(doc.clients.length, 1);
    const s = doc.clients[0].sessions.find((x: { direction: string }) => x.direction === "upstream");
    assert.deepEqual(
      {
        encoding: s.encoding,
        framing: s.framing,
        bytes: s.bytes,
        decoded_share: s.decoded_share,
        looks_like: s.looks_like,
      },
      { encoding: "base32", framing: "none", bytes: gz.length, decoded_share: 1, looks_like: 'gzip "passwords.xlsx"' },
    );
    // The capture holds the domain's packets and no other.
    const exfilPackets = packets.length - 2 * chunks;
    assert.equal(doc.pcap.packets, exfilPackets);
    const v = JSON.parse((await runCli(["validate", "--json", `${dir}/out/exfil-lab.com.pcap`])).stdout).files[0];
    assert.equal(v.packets, exfilPackets);
    // The carving is kept with the run: explain and export show it.
    const ex = await runCli(["explain", "exfil-lab.com", "--dir", `${dir}/ws`]);
    assert.match(
      ex.stdout,
      /payload +up [\d.]+ KB, base32, 100 % decoded, gzip "passwords\.xlsx"; down .*\(from 10\.0\.0\.7\)/,
    );
    const exported = JSON.parse((await runCli(["export", "--dir", `${dir}/ws`])).stdout).domains
      .find((d: { domain: string }) => d.domain === "exfil-lab.com");
    assert.equal(exported.payload.streams[0].looks_like, 'gzip "passwords.xlsx"');
    // The folder: never inside the workspace, an existing one only when empty or with --force.
    const inside = await runCli(["carve", "exfil-lab.com", "-o", `${dir}/ws/x`, "--dir", `${dir}/ws`]);
    assert.equal(inside.code, 1);
    assert.match(inside.stderr, /-o: .*\/ws\/x is inside the workspace .*: carve into a folder of its own/);
    const again = await runCli(["carve", "exfil-lab.com", "-o", `${dir}/out`, "--dir", `${dir}/ws`]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /-o: .*\/out exists and is not empty: pick a new folder, or add --force/);
    assert.equal(
      (await runCli(["carve", "exfil-lab.com", "-o", `${dir}/out`, "--force", "--dir", `${dir}/ws`])).code,
      0,
    );
    // A source changed since the run is said, not carved.
    Deno.writeFileSync(capture, new Uint8Array(100), { append: true });
    const changed = await runCli(["carve", "exfil-lab.com", "-o", `${dir}/out2`, "--dir", `${dir}/ws`]);
    assert.equal(changed.code, 1);
    assert.match(changed.stdout + changed.stderr, /changed \(\d+ bytes now, \d+ when the run read it\)/);
    assert.match(changed.stderr, /none of run #1's sources could be read again/);
  } finally {
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(capture);
  }
});

Deno.test("carve: DNSExfiltrator's header and numbered chunks, dnscat2's packets by sequence, what bytes look like", () => {
  // DNSExfiltrator: init.<base32 "name|chunks">, then "<n>.<base64url>" pieces of one text, out of order.
  const data = new TextEncoder().encode("%PDF-1.7 a report that left by DNS ".repeat(8));
  const b64 = btoa(String.fromCharCode(...data)).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
  const pieces = b64.match(/.{1,50}/g)!;
  const header = base32(new TextEncoder().encode(`report.pdf|${pieces.length}`));
  const names = [["init", header], ...pieces.map((p, i) => [String(i), p]).reverse()];
  const ex = decodeUpstream(names);
  assert.equal(ex.framing, "DNSExfiltrator");
  assert.deepEqual(ex.bytes, data);
  assert.match(ex.note!, /file "report\.pdf", \d+ chunks announced, \d+ seen/);
  assert.equal(looksLike(ex.bytes), "PDF");
  // dnscat2: MSG packets (type 1) with sequence numbers; a retransmission kept once.
  const hex = (b: number[]) => b.map((x) => x.toString(16).padStart(2, "0")).join("");
  const msg = (
    seq: number,
    text: string,
  ) => ["dnscat", hex([0x12, seq, 1, 0xbe, 0xef, 0, seq, 0, 0, ...new TextEncoder().encode(text)])];
  const dc = decodeUpstream([msg(1, "whoami\n"), msg(2, "cat /etc/passwd\n"), msg(2, "cat /etc/passwd\n")]);
  assert.equal(dc.framing, "dnscat2");
  assert.equal(new TextDecoder().decode(dc.bytes), "whoami\ncat /etc/passwd\n");
  // Two sessions (ids beef and cafe) are told apart.
  const other = (
    seq: number,
    text: string,
  ) => ["dnscat", hex([0x13, seq, 1, 0xca, 0xfe, 0, seq, 0, 0, ...new TextEncoder().encode(text)])];
  const two = decodeUpstream([msg(1, "id\n"), other(1, "ls\n"), msg(2, "pwd\n")]);
  assert.deepEqual(
    two.sessions!.map((s) => [s.id, new TextDecoder().decode(s.bytes)]),
    [["beef", "id\npwd\n"], ["cafe", "ls\n"]],
  );
  assert.match(looksLike(dc.bytes), /^text/);
  assert.match(looksLike(crypto.getRandomValues(new Uint8Array(4096))), /^high entropy .*encrypted or compressed/);
  assert.equal(looksLike(Uint8Array.from([0x4d, 0x5a, 0x90, 0, 3])), "PE (Windows executable)");
});

const PUBLIC = sharedDir("corpus/public");

Deno.test({
  name: `carve on real tool captures: DNSExfiltrator's file name and chunks, dnscat2's framing${
    PUBLIC === null ? " (skipped: ../shared/corpus/public is absent)" : ""
  }`,
  ignore: PUBLIC === null,
  fn: async () => {
    for (
      const [file, domain, line] of [
        ["dnsextrator.pcap", "hsc.fr", /file "dnstap\.conf\.txt", 13 chunks announced, 13 seen/],
        ["dnscat2.pcap", "biillpi.com", /up \(session [0-9a-f]{4}\) \d+ B, hex \(dnscat2\), 100 % decoded/],
      ] as const
    ) {
      const dir = await Deno.makeTempDir({ prefix: "plumbum-carve-" });
      try {
        assert.equal((await runCli(["apply", `${PUBLIC}/${file}`, "--dir", `${dir}/ws`])).code, 0);
        const r = await runCli(["carve", domain, "-o", `${dir}/out`, "--dir", `${dir}/ws`]);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, line, file);
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    }
  },
});

Deno.test("carve real iodine (NULL, TXT) and dns2tcp (TXT, KEY) sessions of the lab: the TCP bytes that crossed, both ways", async () => {
  const lab = new URL("../fixtures/lab/lab-short.pcap", import.meta.url).pathname;
  const dir = await Deno.makeTempDir({ prefix: "plumbum-carve-" });
  try {
    assert.equal((await runCli(["apply", lab, "--dir", `${dir}/ws`])).code, 0);
    // The lab's client sent 64 bytes of "A" up; its server answered 192 bytes of (i * 7919 + (i >> 8)) & 255.
    const down = Uint8Array.from({ length: 192 }, (_, i) => (i * 7919 + (i >> 8)) & 255);
    for (const domain of ["pinecone.lab", "hazelnut.lab"]) {
      const r = await runCli(["carve", domain, "--no-pcap", "-o", `${dir}/${domain}`, "--dir", `${dir}/ws`]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /up 64 B, iodine base128 \(iodine\), 100 % decoded, text/);
      assert.match(r.stdout, /\d+ IP packets in the tunnel/);
      assert.deepEqual(await Deno.readFile(`${dir}/${domain}/upstream-10.77.0.1.bin`), new Uint8Array(64).fill(0x41));
      assert.deepEqual(await Deno.readFile(`${dir}/${domain}/downstream-10.77.0.1.bin`), down, domain);
    }
    // dns2tcp over TXT and over KEY, the same bytes both ways.
    for (const domain of ["kestrel.lab", "falcon.lab"]) {
      const r = await runCli(["carve", domain, "--no-pcap", "-o", `${dir}/${domain}`, "--dir", `${dir}/ws`]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /up \(session [0-9a-f]{4}\) 64 B, base64 \(dns2tcp\)/);
      assert.match(r.stdout, /1 upstream DATA packets in 1 session/);
      assert.deepEqual(await Deno.readFile(`${dir}/${domain}/upstream-10.77.0.1.bin`), new Uint8Array(64).fill(0x41));
      assert.deepEqual(await Deno.readFile(`${dir}/${domain}/downstream-10.77.0.1.bin`), down, domain);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("one query can be evidence: a name whose data begins with a file's header is said, whatever the score", async () => {
  const { Analyzer } = await import("../src/analysis/analyze.ts");
  const { presetModel } = await import("../src/analysis/model.ts");
  const { tx } = await import("./helpers/transaction.ts");
  const { evidenceLines } = await import("../src/present/text.ts");
  const a = new Analyzer({ model: presetModel("tunnel") });
  // A gzip header (1f 8b 08, flags, mtime …) in hex, then the rest would follow in other names.
  a.add(tx({ query: "1f8b0808e1a4b7650003706173.x.leak-lab.com", ts: 1000 }));
  // A zip's first bytes in base64 (case kept), and ordinary names.
  a.add(tx({ query: "UEsDBBQAAAAIAGZ2.y.other-lab.com", ts: 1001 }));
  a.add(tx({ query: "www.example.com", ts: 1002 }));
  const fs = a.findings();
  const leak = fs.find((f) => f.domain === "leak-lab.com")!;
  assert.deepEqual(leak.evidence.file_header, { name: "1f8b0808e1a4b7650003706173.x.leak-lab.com", type: "gzip" });
  assert.equal(leak.severity, "LOW", "the score is the channel's; the header is evidence beside it");
  assert.match(
    evidenceLines(leak.evidence, leak.features, leak.domain).join("\n"),
    /file header +a query name carries the start of a gzip file \(one name is enough to show data leaving/,
  );
  assert.equal(fs.find((f) => f.domain === "other-lab.com")!.evidence.file_header?.type, "zip");
  assert.equal(fs.find((f) => f.domain === "example.com")!.evidence.file_header, undefined);
});

const CORPUS = sharedDir("corpus");

Deno.test({
  name: `carve the shared corpus's iodine and dns2tcp sessions to the sizes they moved${
    CORPUS === null ? " (skipped: ../shared/corpus is absent)" : ""
  }`,
  ignore: CORPUS === null,
  fn: async () => {
    // iodine-s102: three sessions (TXT/base32, NULL, TXT/base64), each 200 KB up and 50 KB down;
    // dns2tcp-s103: TXT and KEY sessions, each 100 KB up (corpus README).
    for (
      const [file, domains, up, down] of [
        ["iodine-s102.pcap", ["birchhost.test", "fernix.test", "crestnow.example"], 204_800, 51_200],
        ["dns2tcp-s103.pcap", ["havenjade.test", "fjordlimez.test"], 102_400, null],
      ] as const
    ) {
      const dir = await Deno.makeTempDir({ prefix: "plumbum-carve-" });
      try {
        assert.equal((await runCli(["apply", `${CORPUS}/${file}`, "--dir", `${dir}/ws`])).code, 0);
        for (const domain of domains) {
          const r = await runCli([
            "carve",
            domain,
            "--no-pcap",
            "--json",
            "-o",
            `${dir}/${domain}`,
            "--dir",
            `${dir}/ws`,
          ]);
          assert.equal(r.code, 0, r.stderr);
          const sessions = JSON.parse(r.stdout).clients.flatMap((
            c: { sessions: { direction: string; bytes: number }[] },
          ) => c.sessions);
          const biggest = (d: string) =>
            Math.max(
              0,
              ...sessions.filter((s: { direction: string }) => s.direction === d).map((s: { bytes: number }) =>
                s.bytes
              ),
            );
          assert.equal(biggest("upstream"), up, `${domain} up`);
          if (down !== null) assert.equal(biggest("downstream"), down, `${domain} down`);
        }
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    }
  },
});
