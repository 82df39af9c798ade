/**
 * The detection lab: records labeled captures of real DNS tunnel tools and
 * of the lab's own channel programs beside benign look-alikes, in network
 * namespaces made for the purpose, through a real resolver (bind9).
 *
 *   client namespace (10.77.0.1, .10 tunnels, .11–.18 benign clients)
 *     ── veth ──  server namespace: bind9 on 10.77.0.2, lab/authority.ts on
 *                 .3, iodined / dns2tcpd on .100 and up, one per zone
 *
 * tcpdump records the client side of the veth: what a defender sees between
 * hosts and their resolver; `lab-resolver` records on the resolver instead
 * (both legs: each client question, then bind9's own query upstream). Needs root, iproute2, bind9, iodine, dns2tcp and
 * tcpdump (`apt-get install bind9 iodine dns2tcp tcpdump iproute2`). Nothing
 * leaves the two namespaces; they and every process are removed at the end.
 *
 *   deno task lab [--seed N] [--out DIR] [RECORDING…]
 *
 * (default: every recording, see RECORDINGS, seed 1, into fixtures/lab/ with
 * its labels.tsv). Another seed asks other names at other moments: a fresh
 * sample of the same channels and look-alikes, to check that what the
 * committed captures show is not tuned to them.
 *
 * Recordings of the lab's own programs may run faster than real time
 * (`scale`); their timestamps are stretched back by the same factor, so a
 * two-hour beacon recorded in four minutes shows its real cadence. Captures
 * of the real tools are recorded in real time.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { NetPair, type Proc } from "../tests/helpers/netns.ts";
import { LAB_ZONES, type LabZone } from "./zones.ts";

const FIXTURES = new URL("../fixtures/lab/", import.meta.url).pathname;
const HERE = new URL(".", import.meta.url).pathname;
const PASSWORD = "plumbum-lab";

/** A tool-server zone's address in the server namespace (.100 upwards, in LAB_ZONES order). */
const TOOL_ZONES = LAB_ZONES.filter((z) => z.kind === "iodine" || z.kind === "dns2tcp");
const toolAddress = (z: LabZone) => `10.77.0.${100 + TOOL_ZONES.indexOf(z)}`;
const zone = (label: string) => LAB_ZONES.find((z) => z.label === label)!;

/** One recording: what runs, for how long, how fast. */
interface Recording {
  /** What it shows. */
  about: string;
  /** Lab seconds it lasts. */
  duration: number;
  /** Lab time runs this many times faster than real time. */
  scale: number;
  /** lab/traffic.ts scenarios to run. */
  scenarios: string[];
  /**
   * Where the sensor stands: in front of the resolver (default: the client side of the veth), or on the
   * resolver itself (every interface of its namespace: each question from the client, then bind9's own query
   * to the zone's server).
   */
  at?: "resolver";
  /**
   * Real tools: active tunnels moving data, and idle ones. `direct`: the client talks to the tool's server,
   * not through bind9 (iodine's A mode answers with CNAMEs that bind9 follows, so it cannot pass a resolver).
   */
  tools: { label: string; type?: string; bytes?: number; up?: number; idle?: boolean; direct?: boolean }[];
}

/** The real tools' modes that pass a resolver, each moving 12 KB down (and 2 KB up). */
const THROUGH_RESOLVER: Recording["tools"] = [
  { label: "tunnel:iodine-null", type: "NULL", bytes: 12288 },
  { label: "tunnel:iodine-txt", type: "TXT", bytes: 12288 },
  { label: "tunnel:iodine-cname", type: "CNAME", bytes: 12288 },
  { label: "tunnel:iodine-mx", type: "MX", bytes: 12288 },
  { label: "tunnel:dns2tcp-txt", type: "TXT", bytes: 12288 },
  { label: "tunnel:dns2tcp-key", type: "KEY", bytes: 12288 },
];

const RECORDINGS: Record<string, Recording> = {
  "lab-tools": {
    about:
      "iodine in NULL, TXT, CNAME, A (straight to its server) and MX modes and dns2tcp over TXT and KEY, each moving 12 KB, beside browsing",
    duration: 150,
    scale: 1,
    scenarios: ["browse"],
    tools: [
      ...THROUGH_RESOLVER.slice(0, 3),
      { label: "tunnel:iodine-a", type: "A", bytes: 12288, direct: true },
      ...THROUGH_RESOLVER.slice(3),
    ],
  },
  "lab-resolver": {
    about:
      "the sensor on the resolver: iodine (NULL, TXT, CNAME, MX) and dns2tcp (TXT, KEY) through bind9, each moving 12 KB, beside browsing, both legs recorded",
    duration: 120,
    scale: 1,
    at: "resolver",
    scenarios: ["browse"],
    tools: THROUGH_RESOLVER,
  },
  "lab-short": {
    about:
      "short sessions: iodine (NULL, TXT) and dns2tcp (TXT, KEY) through bind9, each connecting, sending 64 bytes and receiving 192, then closing, beside browsing",
    duration: 45,
    scale: 1,
    scenarios: ["browse"],
    tools: [
      { label: "tunnel:iodine-null", type: "NULL", bytes: 192, up: 64 },
      { label: "tunnel:iodine-txt", type: "TXT", bytes: 192, up: 64 },
      { label: "tunnel:dns2tcp-txt", type: "TXT", bytes: 192, up: 64 },
      { label: "tunnel:dns2tcp-key", type: "KEY", bytes: 192, up: 64 },
    ],
  },
  "lab-idle": {
    about:
      "ten minutes of idle channels: iodine (-I 10) and dns2tcp (TXT, KEY) connected with nothing to send, a shell polling every 5 s, beside every benign look-alike",
    duration: 600,
    scale: 1,
    scenarios: ["polling-shell", "benign"],
    tools: [
      { label: "tunnel:iodine-idle", idle: true },
      { label: "tunnel:dns2tcp-txt-idle", type: "TXT", idle: true },
      { label: "tunnel:dns2tcp-key-idle", type: "KEY", idle: true },
    ],
  },
  "lab-slow": {
    about:
      "two hours at 30x: a beacon every 5 s, an implant rotating among three sibling zones, A and AAAA stagers, one short burst, beside every benign look-alike",
    duration: 7200,
    scale: 30,
    scenarios: ["beacon", "siblings", "stagers", "burst", "benign"],
    tools: [],
  },
};

function sh(args: string[]): void {
  const r = new Deno.Command(args[0], { args: args.slice(1), stderr: "piped" }).outputSync();
  if (!r.success) throw new Error(`${args.join(" ")}: ${new TextDecoder().decode(r.stderr)}`);
}

/** bind9's configuration: recursion for the clients, every lab zone forwarded to its server. */
function namedConf(dir: string): string {
  const zones = LAB_ZONES.map((z) => {
    const to = z.kind === "iodine" || z.kind === "dns2tcp" ? toolAddress(z) : "10.77.0.3";
    return `zone "${z.zone}" { type forward; forward only; forwarders { ${to}; }; };`;
  });
  return `options {
  directory "${dir}";
  pid-file "${dir}/named.pid";
  listen-on { 10.77.0.2; };
  listen-on-v6 { none; };
  recursion yes;
  allow-query { any; };
  allow-recursion { any; };
  dnssec-validation no;
  empty-zones-enable no;
  qname-minimization off;
  resolver-query-timeout 30;
  notify no;
};
controls { };
${zones.join("\n")}
`;
}

/** One of the lab's programs (lab/NAME.ts), with network access, in a namespace. */
function labProgram(net: NetPair, ns: string, name: string, args: string[]): Proc {
  return net.spawn(ns, Deno.execPath(), [
    "run",
    "--quiet",
    "--allow-net",
    "--unstable-net",
    `${HERE}${name}.ts`,
    ...args,
  ]);
}

/** A deno one-liner with network access, in a namespace. */
function denoEval(net: NetPair, ns: string, code: string): Proc {
  return net.spawn(ns, Deno.execPath(), ["eval", "--quiet", "--unstable-net", code]);
}

/**
 * Serve `bytes` of data to each connection on host:port (the far end of a tunnel), reading what comes up, then
 * close; with 0 bytes, hold each connection open with nothing to say (an idle session).
 */
function dataServer(net: NetPair, host: string, port: number, bytes: number): Proc {
  return denoEval(
    net,
    net.b,
    `const l = Deno.listen({ hostname: "${host}", port: ${port} });
for await (const c of l) { (async () => { const b = new Uint8Array(${bytes}).map((_, i) => (i * 7919 + (i >> 8)) & 255);
  const r = (async () => { const x = new Uint8Array(4096); try { while ((await c.read(x)) !== null); } catch {} })();
  if (b.length === 0) { await r; return; }
  for (let o = 0; o < b.length;) o += await c.write(b.subarray(o)); await new Promise((t) => setTimeout(t, 1000)); try { c.close(); } catch {} await r; })(); }`,
  );
}

/** Connect (retrying while the tunnel comes up), send `up` bytes, read until the server closes; prints bytes read. */
function dataClient(net: NetPair, host: string, port: number, up: number, holdSecs = 0): Proc {
  return denoEval(
    net,
    net.a,
    `let c; for (let i = 0; i < 60 && c === undefined; i++) { try { c = await Deno.connect({ hostname: "${host}", port: ${port} }); } catch { await new Promise((r) => setTimeout(r, 500)); } }
if (c === undefined) { console.log("no connection"); Deno.exit(1); }
${holdSecs > 0 ? `await new Promise((r) => setTimeout(r, ${holdSecs * 1000}));` : ""}
const u = new Uint8Array(${up}).fill(65); for (let o = 0; o < u.length;) o += await c.write(u.subarray(o));
let n = 0; const b = new Uint8Array(65536); for (let r; (r = await c.read(b)) !== null;) n += r; console.log(n);`,
  );
}

/** Stretch a classic pcap's timestamps by `scale` from its first packet. */
export function stretchPcap(bytes: Uint8Array, scale: number): Uint8Array {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = v.getUint32(0, true);
  if (magic !== 0xa1b2c3d4 && magic !== 0xa1b23c4d) throw new Error("not a little-endian classic pcap");
  const unit = magic === 0xa1b2c3d4 ? 1e6 : 1e9;
  let o = 24, start = -1;
  while (o + 16 <= bytes.length) {
    const t = v.getUint32(o, true) + v.getUint32(o + 4, true) / unit;
    if (start < 0) start = t;
    const s = start + (t - start) * scale;
    const sec = Math.floor(s);
    v.setUint32(o, sec, true);
    v.setUint32(o + 4, Math.min(unit - 1, Math.round((s - sec) * unit)), true);
    o += 16 + v.getUint32(o + 8, true);
  }
  return bytes;
}

async function record(name: string, r: Recording, seed: number, out: string): Promise<void> {
  const net = NetPair.create("lab");
  const work = await Deno.makeTempDir({ prefix: "plumbum-lab-" });
  const raw = `${work}/raw.pcap`;
  console.error(`${name}: ${r.about} (${r.duration} s of lab time at ${r.scale}x)`);
  try {
    for (let n = 10; n <= 18; n++) sh(["ip", "-n", net.a, "addr", "add", `10.77.0.${n}/24`, "dev", net.ifA]);
    for (const a of ["10.77.0.3", ...TOOL_ZONES.map(toolAddress)]) {
      sh(["ip", "-n", net.b, "addr", "add", `${a}/24`, "dev", net.ifB]);
    }
    await Deno.writeTextFile(`${work}/named.conf`, namedConf(work));
    const named = net.spawn(net.b, "named", ["-g", "-n", "1", "-u", "root", "-c", `${work}/named.conf`]);
    const authority = labProgram(net, net.b, "authority", ["10.77.0.3"]);
    if (!await named.until(() => named.stderr.includes("running"), 20_000)) {
      throw new Error(`bind9 did not start:\n${named.stderr}`);
    }
    if (!await authority.until(() => authority.stderr.includes("listening"), 20_000)) {
      throw new Error(`authority did not start:\n${authority.stderr}`);
    }
    // The tools' servers and the data they serve.
    const starts: Promise<void>[] = [];
    r.tools.forEach((t, i) => {
      const z = zone(t.label);
      const addr = toolAddress(z);
      const tunnelNet = `10.60.${i + 1}`;
      if (z.kind === "iodine") {
        net.spawn(net.b, "iodined", [
          "-f",
          "-c",
          "-P",
          PASSWORD,
          "-l",
          addr,
          "-d",
          `labs${i}`,
          `${tunnelNet}.1`,
          z.zone,
        ]);
        dataServer(net, `${tunnelNet}.1`, 7000, t.bytes ?? 0);
      } else {
        const conf = `${work}/dns2tcpd-${i}.conf`;
        Deno.writeTextFileSync(
          conf,
          `listen = ${addr}\nport = 53\nuser = root\nchroot = ${work}\ndomain = ${z.zone}\nresources = data:127.0.0.1:${
            7100 + i
          }\n`,
        );
        net.spawn(net.b, "dns2tcpd", ["-F", "-f", conf]);
        dataServer(net, "127.0.0.1", 7100 + i, t.bytes ?? 0);
      }
    });
    await new Promise((res) => setTimeout(res, 1500));
    const dump = r.at === "resolver"
      ? net.spawn(net.b, "tcpdump", ["-i", "any", "-U", "-s", "0", "-w", raw, "port 53"])
      : net.spawn(net.a, "tcpdump", ["-i", net.ifA, "-U", "-s", "0", "-w", raw, "port 53"]);
    if (!await dump.until(() => dump.stderr.includes("listening"), 10_000)) throw new Error(`tcpdump:\n${dump.stderr}`);
    const realSecs = r.duration / r.scale;
    const traffic = labProgram(net, net.a, "traffic", [
      "--resolver",
      "10.77.0.2",
      "--scale",
      String(r.scale),
      "--duration",
      String(r.duration),
      "--seed",
      String(seed),
      ...r.scenarios,
    ]);
    r.tools.forEach((t, i) => {
      const z = zone(t.label);
      const tunnelNet = `10.60.${i + 1}`;
      starts.push((async () => {
        let client: Proc;
        let host: string, port: number;
        if (z.kind === "iodine") {
          const args = [
            "-f",
            "-r",
            "-P",
            PASSWORD,
            "-d",
            `labc${i}`,
            ...(t.idle ? ["-I", "10"] : []),
            ...(t.type ? ["-T", t.type] : []),
          ];
          client = net.spawn(net.a, "iodine", [...args, t.direct ? toolAddress(z) : "10.77.0.2", z.zone]);
          if (!await client.until(() => client.stderr.includes("Connection setup complete"), 60_000)) {
            console.error(`${t.label}: iodine did not connect:\n${client.stderr.slice(-800)}`);
            return;
          }
          host = `${tunnelNet}.1`;
          port = 7000;
        } else {
          client = net.spawn(net.a, "dns2tcpc", [
            "-z",
            z.zone,
            "-r",
            "data",
            "-l",
            String(7200 + i),
            "-T",
            t.type ?? "TXT",
            "10.77.0.2",
          ]);
          await new Promise((res) => setTimeout(res, 2000));
          host = "127.0.0.1";
          port = 7200 + i;
        }
        if (t.idle) {
          // Connected, nothing to say: hold a session open (dns2tcp) or just stay up (iodine) to the end.
          if (z.kind === "dns2tcp") dataClient(net, host, port, 0, realSecs);
          return;
        }
        const c = dataClient(net, host, port, t.up ?? 2048);
        await c.done;
        console.error(`${t.label}: ${c.stdout.trim()} bytes down ${c.stderr.trim()}`);
        client.signal("SIGTERM");
      })());
    });
    await Promise.all(starts);
    await traffic.done;
    console.error(`${name}: lab programs ${traffic.stdout.trim()} ${traffic.stderr.trim().slice(-400)}`);
    dump.signal("SIGINT");
    await dump.done;
    const bytes = await Deno.readFile(raw);
    await Deno.mkdir(out, { recursive: true });
    await Deno.writeFile(`${out}${name}.pcap`, r.scale === 1 ? bytes : stretchPcap(bytes, r.scale));
    console.error(`${name}: wrote ${out}${name}.pcap (${bytes.length} bytes)`);
  } finally {
    await net.close();
    await Deno.remove(work, { recursive: true }).catch(() => {});
  }
}

/** The labels file: every zone of every recording, the rest benign. */
function labels(names: string[]): string {
  const rows = ["file\tsuffix\tlabel"];
  for (const n of names) {
    for (const z of LAB_ZONES) rows.push(`${n}.pcap\t${z.zone}\t${z.label}`);
    rows.push(`${n}.pcap\t*\tbenign`);
  }
  return rows.join("\n") + "\n";
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    options: { seed: { type: "string", default: "1" }, out: { type: "string" } },
    allowPositionals: true,
  });
  const seed = Number(values.seed);
  if (!Number.isInteger(seed)) {
    console.error(`--seed must be a whole number, not "${values.seed}"`);
    Deno.exit(1);
  }
  const out = values.out === undefined ? FIXTURES : values.out.replace(/\/?$/, "/");
  const wanted = positionals.length > 0 ? positionals : Object.keys(RECORDINGS);
  const unknown = wanted.filter((w) => !(w in RECORDINGS));
  if (unknown.length > 0) {
    console.error(`unknown recording ${unknown.join(", ")}: choose from ${Object.keys(RECORDINGS).join(", ")}`);
    Deno.exit(1);
  }
  if (Deno.uid() !== 0) {
    console.error("the lab makes network namespaces: run it as root");
    Deno.exit(1);
  }
  for (const w of wanted) await record(w, RECORDINGS[w], seed, out);
  await Deno.writeTextFile(`${out}labels.tsv`, labels(Object.keys(RECORDINGS)));
}
