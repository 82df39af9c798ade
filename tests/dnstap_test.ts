import assert from "node:assert/strict";
import { concat, dnsMessage, ether, ipv4, pcapFile, txtRdata, udp } from "./helpers/build.ts";
import { dataFrame, DNSTAP, dnstapFrame, frameStreamFile, type TapMessage } from "./helpers/dnstap.ts";
import { runCli } from "./helpers/cli.ts";
import { cliArgs } from "./helpers/cli.ts";
import { Proc } from "./helpers/netns.ts";
import { encodeControl } from "../src/ingest/dnstap.ts";

const CLIENTS = ["10.1.0.7", "10.1.0.8", "10.1.0.9"];
const RESOLVER = "10.1.0.53";

/**
 * Exchanges of a resolver's clients from `start` (seconds), `step` apart: ordinary lookups, and one client's TXT
 * tunnel (unique encoded names).
 */
function exchanges(
  start = 1_760_000_000,
  step = 0.5,
): { client: string; port: number; id: number; ts: number; q: Uint8Array; r: Uint8Array }[] {
  const out = [];
  let ts = start;
  for (let i = 0; i < 400; i++) {
    const tunnel = i % 2 === 0;
    const client = tunnel ? CLIENTS[0] : CLIENTS[1 + (i % 4 === 1 ? 1 : 0)];
    const label = Array.from(
      { length: 48 },
      (_, k) => "abcdefghijklmnopqrstuvwxyz234567"[(i * 31 + k * 7 + k * k) % 32],
    )
      .join("");
    const name = tunnel ? `${label}.${i.toString(36)}.t.exfil-dt.com` : `www${i % 5}.example.org`;
    const type = tunnel ? 16 : 1;
    const q = dnsMessage({ id: i + 1, questions: [{ name, type }] });
    const r = dnsMessage({
      id: i + 1,
      qr: true,
      questions: [{ name, type }],
      answers: [{ name, type, rdata: tunnel ? txtRdata(`r${label.slice(0, 40)}`) : [192, 0, 2, i % 250] }],
    });
    out.push({ client, port: 30000 + i, id: i + 1, ts: ts += step, q, r });
  }
  return out;
}

Deno.test("dnstap file: the clients' exchanges score as the same exchanges in a pcap; the resolver's own are counted and left out", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const xs = exchanges();
    const packets = xs.flatMap((x) => [
      { ts: x.ts, data: ether(0x0800, ipv4(x.client, RESOLVER, 17, udp(x.port, 53, x.q))) },
      { ts: x.ts + 0.004, data: ether(0x0800, ipv4(RESOLVER, x.client, 17, udp(53, x.port, x.r))) },
    ]);
    Deno.writeFileSync(`${dir}/legs.pcap`, pcapFile(packets));
    const frames: Uint8Array[] = [];
    for (const [i, x] of xs.entries()) {
      const tap = (type: number, time: number, message: Uint8Array): TapMessage => ({
        type,
        queryAddress: x.client,
        responseAddress: RESOLVER,
        queryPort: x.port,
        time,
        message,
      });
      frames.push(dnstapFrame(tap(5, x.ts, x.q)));
      // The resolver asking upstream: its own traffic, not a client's.
      if (i % 10 === 0) {
        frames.push(
          dnstapFrame({ ...tap(3, x.ts + 0.001, x.q), queryAddress: RESOLVER, responseAddress: "192.0.2.1" }),
        );
      }
      frames.push(dnstapFrame(tap(6, x.ts + 0.004, x.r)));
    }
    // A frame that is no protobuf: counted, the rest read.
    frames.splice(3, 0, Uint8Array.from([0xff, 0xff, 0xff]));
    Deno.writeFileSync(`${dir}/resolver.dnstap`, frameStreamFile(frames));

    const v = await runCli(["validate", "--json", `${dir}/resolver.dnstap`]);
    assert.equal(v.code, 0, v.stderr);
    const s = JSON.parse(v.stdout).files[0];
    assert.equal(s.format, "dnstap");
    assert.equal(s.transactions, 400);
    assert.equal(s.malformed, 1);
    assert.deepEqual(s.dnstap, { CLIENT_QUERY: 400, CLIENT_RESPONSE: 400, RESOLVER_QUERY: 40 });

    for (const [ws, file] of [["p", "legs.pcap"], ["d", "resolver.dnstap"]]) {
      const r = await runCli(["apply", "--dir", `${dir}/${ws}`, `${dir}/${file}`]);
      assert.equal(r.code, 0, r.stderr);
    }
    const exported = async (ws: string) =>
      JSON.parse((await runCli(["export", "--format", "json", "--dir", `${dir}/${ws}`])).stdout).domains;
    const [fromPcap, fromTap] = [await exported("p"), await exported("d")];
    assert.deepEqual(fromTap, fromPcap);
    const tunnel = fromTap.find((d: { domain: string }) => d.domain === "exfil-dt.com");
    assert.ok(["HIGH", "CRITICAL"].includes(tunnel.severity), JSON.stringify(tunnel).slice(0, 200));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("dnstap file: broken Frame Streams are said, never read past", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const q = dnsMessage({ id: 1, questions: [{ name: "a.example.com", type: 1 }] });
    const one = dnstapFrame({
      type: 5,
      queryAddress: "10.0.0.1",
      responseAddress: "10.0.0.53",
      queryPort: 1,
      time: 1,
      message: q,
    });
    const cases: [string, Uint8Array, RegExp][] = [
      ["cut.dnstap", frameStreamFile([one, one]).slice(0, -20), /last frame is cut short/],
      ["huge.dnstap", Uint8Array.from([...encodeControl(2, DNSTAP), 0x7f, 0, 0, 0, 1, 2, 3]), /frame claims \d+ bytes/],
      [
        "other.fstrm",
        Uint8Array.from([...encodeControl(2, "protobuf:other.Type"), ...dataFrame(one)]),
        /content type \\"protobuf:other.Type\\", not dnstap/,
      ],
    ];
    for (const [name, bytes, reason] of cases) {
      Deno.writeFileSync(`${dir}/${name}`, bytes);
      const v = await runCli(["validate", "--json", `${dir}/${name}`]);
      assert.match(v.stdout, reason, name);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

const fstrmSend = new URL("./helpers/fstrm_send.ts", import.meta.url).pathname;

/**
 * A resolver's side, as its own process (the test runner has no net access
 * to Unix sockets): the test's exchanges as dnstap, sent to `listen` (the
 * frames written in `dir` first). Its clock is now: the live clock times
 * out what is older than the pairing wait.
 */
async function sendExchanges(dir: string, listen: string): Promise<Deno.CommandOutput> {
  const frames: Uint8Array[] = [];
  for (const x of exchanges(Date.now() / 1000, 0.002)) {
    const tap = { queryAddress: x.client, responseAddress: RESOLVER, queryPort: x.port };
    frames.push(dataFrame(dnstapFrame({ ...tap, type: 5, time: x.ts, message: x.q })));
    frames.push(dataFrame(dnstapFrame({ ...tap, type: 6, time: x.ts + 0.004, message: x.r })));
  }
  await Deno.writeFile(`${dir}/frames`, concat(...frames));
  return await new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", "--allow-net", "--allow-read", "--allow-write", fstrmSend, listen, `${dir}/frames`],
    stdout: "piped",
    stderr: "piped",
  }).output();
}

for (const transport of ["unix", "tcp"]) {
  Deno.test(`stream --dnstap ${transport}: the bidirectional handshake, a resolver's clients scored live, the run stored`, async () => {
    const dir = await Deno.makeTempDir();
    const port = 20000 + (Deno.pid % 20000);
    const listen = transport === "unix" ? `unix:${dir}/dnstap.sock` : `tcp:127.0.0.1:${port}`;
    const stream = new Proc(
      Deno.execPath(),
      cliArgs(["stream", "--dnstap", listen, "--window", "60", "--dir", `${dir}/ws`], { net: true }),
      { NO_COLOR: "1" },
    );
    try {
      assert.ok(await stream.until(() => stream.stderr.includes("Ctrl-C stops"), 20_000), stream.stderr);
      const sender = await sendExchanges(dir, listen);
      assert.equal(new TextDecoder().decode(sender.stdout).trim(), "FINISH", new TextDecoder().decode(sender.stderr));
      stream.signal("SIGINT");
      assert.equal((await stream.done).code, 0, stream.stderr);
      assert.match(stream.stderr, /Stored run #1: 800 dnstap messages, 400 DNS transactions/);
      const runs = JSON.parse((await runCli(["runs", "--json", "--dir", `${dir}/ws`])).stdout).runs;
      assert.equal(runs[0].status, "complete");
      assert.equal(runs[0].live.listen, listen);
      assert.equal(runs[0].live.connections, 1);
      const explain = JSON.parse((await runCli(["explain", "exfil-dt.com", "--json", "--dir", `${dir}/ws`])).stdout);
      assert.ok(["HIGH", "CRITICAL"].includes(explain.severity), JSON.stringify(explain).slice(0, 300));
      // The real client behind the resolver.
      assert.match(JSON.stringify(explain.evidence), /10\.1\.0\.7/);
      if (transport === "unix") {
        assert.ok(!Deno.statSync(dir).isFile && ![...Deno.readDirSync(dir)].some((e) => e.name === "dnstap.sock"));
      }
    } finally {
      stream.signal("SIGKILL");
      await stream.done;
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test("stream --dnstap --count N: stops by itself after the N-th message, the run stored", async () => {
  const dir = await Deno.makeTempDir();
  const listen = `unix:${dir}/dnstap.sock`;
  const stream = new Proc(
    Deno.execPath(),
    cliArgs(["stream", "--dnstap", listen, "--count", "100", "--dir", `${dir}/ws`], { net: true }),
    { NO_COLOR: "1" },
  );
  try {
    assert.ok(await stream.until(() => stream.stderr.includes("Ctrl-C stops"), 20_000), stream.stderr);
    // The sender may see its connection closed before its STOP: only the run is asserted on.
    await sendExchanges(dir, listen);
    // No signal: the run ends by itself.
    const ended = await Promise.race([stream.done, new Promise<null>((r) => setTimeout(r, 20_000, null))]);
    assert.ok(ended !== null, `still running: ${stream.stderr}`);
    assert.equal(ended.code, 0, stream.stderr);
    assert.match(stream.stderr, /Stored run #1: 100 dnstap messages, 50 DNS transactions/);
    const runs = JSON.parse((await runCli(["runs", "--json", "--dir", `${dir}/ws`])).stdout).runs;
    assert.equal(runs[0].status, "complete");
  } finally {
    stream.signal("SIGKILL");
    await stream.done;
    await Deno.remove(dir, { recursive: true });
  }
});
