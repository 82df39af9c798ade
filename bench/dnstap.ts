/**
 * dnstap ingest beside the pcap path on the same traffic: N exchanges of a
 * resolver's clients (ordinary lookups and unique-name TXT) written as a
 * pcap of the clients' link and as the resolver's dnstap (CLIENT_QUERY and
 * CLIENT_RESPONSE, plus one RESOLVER_QUERY in ten, left out), each decoded
 * to transactions by Plumbum (bench/decode.ts, its own process), and the
 * pcap by tshark's field dump, in the same run.
 *
 *   deno task bench:dnstap [EXCHANGES]      (default 1000000)
 *
 * @module
 */
import { formatBytes } from "../src/present/progress.ts";
import { dnsMessage, ether, ipv4, pcapFile, txtRdata, udp } from "../tests/helpers/build.ts";
import { dataFrame, dnstapFrame } from "../tests/helpers/dnstap.ts";
import { encodeControl } from "../src/ingest/dnstap.ts";
import { runJson, timeTshark } from "./reference.ts";

const V8 = "--v8-flags=--max-semi-space-size=4,--heap-growing-percent=50";
const n = Number(Deno.args[0] ?? 1_000_000);
if (!(n >= 1)) {
  console.error("bench:dnstap: give a number of exchanges, e.g. deno task bench:dnstap 1000000");
  Deno.exit(1);
}
const dir = Deno.env.get("PLUMBUM_BENCH_DIR") ?? "/tmp/plumbum-bench";
Deno.mkdirSync(dir, { recursive: true });
const pcapPath = `${dir}/dnstap-bench-${n}.pcap`, tapPath = `${dir}/dnstap-bench-${n}.dnstap`;
const RESOLVER = "10.1.0.53";

console.error(`writing ${n} exchanges as a pcap and as dnstap …`);
{
  using pcap = Deno.openSync(pcapPath, { write: true, create: true, truncate: true });
  using tap = Deno.openSync(tapPath, { write: true, create: true, truncate: true });
  const write = (f: Deno.FsFile, b: Uint8Array) => {
    for (let o = 0; o < b.length;) o += f.writeSync(b.subarray(o));
  };
  write(tap, encodeControl(2, "protobuf:dnstap.Dnstap"));
  for (let at = 0; at < n; at += 10_000) {
    const packets: { ts: number; data: Uint8Array }[] = [];
    const frames: Uint8Array[] = [];
    for (let i = at; i < Math.min(n, at + 10_000); i++) {
      const tunnel = i % 4 === 0;
      // Client ports from 10 000: 5353 and 5355 are mDNS's and LLMNR's on any packet.
      const client = `10.1.${(i >>> 8) & 3}.${10 + (i % 200)}`,
        port = 10_000 + (i % 50_000),
        ts = 1_760_000_000 + i / 1000;
      const name = tunnel
        ? `${(i * 2654435761 >>> 0).toString(32)}${i.toString(32)}x.t.exfil-bench.com`
        : `www${i % 50}.example${i % 7}.org`;
      const type = tunnel ? 16 : 1;
      const q = dnsMessage({ id: i & 0xffff, questions: [{ name, type }] });
      const r = dnsMessage({
        id: i & 0xffff,
        qr: true,
        questions: [{ name, type }],
        answers: [{ name, type, rdata: tunnel ? txtRdata(`ack${i}`) : [192, 0, 2, i & 255] }],
      });
      packets.push(
        { ts, data: ether(0x0800, ipv4(client, RESOLVER, 17, udp(port, 53, q))) },
        { ts: ts + 0.002, data: ether(0x0800, ipv4(RESOLVER, client, 17, udp(53, port, r))) },
      );
      const tap = { queryAddress: client, responseAddress: RESOLVER, queryPort: port };
      frames.push(dataFrame(dnstapFrame({ ...tap, type: 5, time: ts, message: q })));
      if (i % 10 === 0) {
        frames.push(dataFrame(dnstapFrame({ ...tap, type: 3, time: ts, message: q, queryAddress: RESOLVER })));
      }
      frames.push(dataFrame(dnstapFrame({ ...tap, type: 6, time: ts + 0.002, message: r })));
    }
    const bytes = pcapFile(packets);
    write(pcap, at === 0 ? bytes : bytes.subarray(24));
    for (const f of frames) write(tap, f);
  }
  write(tap, encodeControl(3));
}

const decode = new URL("./decode.ts", import.meta.url).pathname;
const rows = [
  "| input | size | seconds | MB/s | messages/s | transactions | peak RSS |",
  "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
];
for (
  const [what, path] of [["plumbum, pcap of the clients' link", pcapPath], ["plumbum, the resolver's dnstap", tapPath]]
) {
  const runs = [];
  for (let k = 0; k < 3; k++) runs.push(await runJson(["run", "-A", V8, decode, path]));
  const r = runs.sort((a, b) => a.secs - b.secs)[1];
  const size = Deno.statSync(path).size;
  rows.push(
    `| ${what} (median of 3) | ${formatBytes(size)} | ${r.secs.toFixed(2)} | ${(size / 1e6 / r.secs).toFixed(1)} | ${
      Math.round(2 * n / r.secs).toLocaleString("en-US")
    } | ${r.transactions} | ${formatBytes(r.peak_rss)} |`,
  );
}
const tshark = await timeTshark(pcapPath);
if (tshark !== null) {
  const size = Deno.statSync(pcapPath).size;
  rows.push(
    `| tshark -T fields, the pcap | ${formatBytes(size)} | ${tshark.secs.toFixed(2)} | ${
      (size / 1e6 / tshark.secs).toFixed(1)
    } | ${Math.round(2 * n / tshark.secs).toLocaleString("en-US")} | - | ${formatBytes(tshark.peak_rss)} |`,
  );
}
console.log(rows.join("\n"));

// Live: a resolver's side (its own process) sends every frame to `stream --dnstap` as fast as the socket takes them.
{
  const framesPath = `${dir}/dnstap-bench-${n}.frames`;
  const tap = Deno.readFileSync(tapPath);
  // The data frames alone: the START control frame (its 8-byte escape and length, and body) and STOP cut off.
  const startLen = 8 + new DataView(tap.buffer, tap.byteOffset).getUint32(4);
  Deno.writeFileSync(framesPath, tap.subarray(startLen, tap.length - 12));
  const ws = `${dir}/dnstap-bench-ws`;
  try {
    Deno.removeSync(ws, { recursive: true });
  } catch { /* fresh */ }
  const sock = `${dir}/dnstap-bench.sock`;
  const cli = new URL("../cli.ts", import.meta.url).pathname;
  const stream = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", V8, cli, "stream", "--dnstap", `unix:${sock}`, "--window", "60", "--dir", ws, "--quiet"],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  for (let i = 0; i < 300; i++) {
    try {
      if (Deno.lstatSync(sock).isSocket) break;
    } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  const send = new URL("../tests/helpers/fstrm_send.ts", import.meta.url).pathname;
  const t0 = performance.now();
  const sent = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", send, `unix:${sock}`, framesPath],
    stdout: "piped",
  }).output();
  const secs = (performance.now() - t0) / 1000;
  const hwm = /VmHWM:\s+(\d+) kB/.exec(Deno.readTextFileSync(`/proc/${stream.pid}/status`));
  stream.kill("SIGINT");
  await stream.output();
  const runs = JSON.parse(
    new TextDecoder().decode(
      (await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", cli, "runs", "--json", "--dir", ws],
        stdout: "piped",
      })
        .output()).stdout,
    ),
  ).runs;
  const messages = 2 * n + Math.ceil(n / 10);
  const got = runs[0]?.live?.packets ?? 0;
  console.log(
    `\nstream --dnstap (Unix socket, one connection): ${messages.toLocaleString("en-US")} messages sent in ${
      secs.toFixed(1)
    } s (${Math.round(messages / secs).toLocaleString("en-US")} messages/s, the sender's FINISH ${
      new TextDecoder().decode(sent.stdout).trim() === "FINISH" ? "received" : "missing"
    }); read ${got.toLocaleString("en-US")}, lost ${messages - got}; peak RSS ${
      hwm === null ? "-" : formatBytes(Number(hwm[1]) * 1024)
    }`,
  );
  Deno.removeSync(framesPath);
}
