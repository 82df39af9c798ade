/**
 * Real resolvers writing dnstap: Unbound sends it to `plumbum stream
 * --dnstap` over the Frame Streams handshake, BIND 9 to `fstrm_capture`
 * (a second writer) whose file `apply` reads. A real tunnel (iodine) goes
 * through each resolver from another namespace; Plumbum must find it with
 * the real client's address, never the resolver's, and the same traffic
 * captured as a pcap on the client's link gives the same finding.
 */
import assert from "node:assert/strict";
import { liveSkipReason, NetPair, type Proc, tunnelTransfer } from "./helpers/netns.ts";
import { cliArgs, runCli } from "./helpers/cli.ts";

const HIGH = new Set(["HIGH", "CRITICAL"]);
const TUNNEL_ZONE = "t.dt.test";
const UNBOUND = "10.77.0.3";
const BIND = "10.77.0.4";

/** A test in its own two namespaces (tagged `tag`) and temporary folder, both removed however it ends. */
function resolverTest(
  name: string,
  tools: string[],
  tag: string,
  fn: (net: NetPair, dir: string) => Promise<void>,
): void {
  const skip = liveSkipReason(["iodine", "iodined", ...tools]);
  Deno.test({
    name,
    ignore: skip !== null,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async () => {
      const net = await network(tag);
      const dir = await Deno.makeTempDir();
      try {
        await fn(net, dir);
      } finally {
        await net.close();
        await Deno.remove(dir, { recursive: true });
      }
    },
  });
  if (skip !== null) console.error(`skipping "${name}": ${skip}`);
}

/** Two namespaces: the client at 10.77.0.1; iodined (10.77.0.2), Unbound and BIND on the other side. */
async function network(tag: string): Promise<NetPair> {
  const net = NetPair.create(tag);
  for (const a of [UNBOUND, BIND]) {
    const r = await net.run(net.b, "ip", ["addr", "add", `${a}/24`, "dev", net.ifB]);
    assert.ok(r.success, new TextDecoder().decode(r.stderr));
  }
  return net;
}

/** iodined, the tunnel's server, authoritative for the tunnel zone at 10.77.0.2. */
function tunnelServer(net: NetPair): Proc {
  return net.spawn(net.b, "iodined", ["-f", "-c", "-P", "plumbum-test", "-l", net.ipB, "10.56.0.1", TUNNEL_ZONE]);
}

/** The iodine client through `resolver`, connected, and 64 KB sent down the tunnel. */
async function tunnelThrough(net: NetPair, resolver: string): Promise<void> {
  const client = net.spawn(net.a, "iodine", ["-f", "-r", "-P", "plumbum-test", resolver, TUNNEL_ZONE]);
  assert.ok(
    await client.until(() => client.stderr.includes("Connection setup complete"), 60_000),
    `iodine did not connect through ${resolver}:\n${client.stderr}`,
  );
  const { fetch } = tunnelTransfer(net, "10.56.0.1", 65536);
  assert.ok(
    await fetch.until(() => fetch.stdout.trim() === "65536", 90_000),
    `tunnel: ${fetch.stdout} ${fetch.stderr}`,
  );
  client.signal("SIGTERM");
}

/** The finding for the tunnel's domain in workspace `dir`, as explain --json gives it. */
async function tunnelFinding(
  dir: string,
): Promise<{ severity: string; tool?: { name: string } | null; evidence: { clients?: unknown } }> {
  const r = await runCli(["explain", "dt.test", "--json", "--dir", dir]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

/** `path` applied into the workspace `ws`, and the tunnel's finding there. */
async function appliedFinding(path: string, ws: string): Promise<Awaited<ReturnType<typeof tunnelFinding>>> {
  const applied = await runCli(["apply", "--dir", ws, path]);
  assert.equal(applied.code, 0, applied.stderr);
  return await tunnelFinding(ws);
}

/** A resolver's log: read whole (its format, nothing malformed), applied into `ws`, and the tunnel's finding there. */
async function fromLogFile(
  path: string,
  format: string,
  ws: string,
): Promise<{ counts: Record<string, number>; finding: Awaited<ReturnType<typeof tunnelFinding>> }> {
  const counts = JSON.parse((await runCli(["validate", "--json", path])).stdout).files[0];
  assert.equal(counts.format, format);
  assert.equal(counts.malformed, 0, JSON.stringify(counts.malformed_reasons));
  return { counts, finding: await appliedFinding(path, ws) };
}

/**
 * BIND 9 in the far namespace, serving at {@link BIND}: the options every test shares (recursion for anyone, no
 * DNSSEC validation) and `options` inside the options block, then `rest` (zones, logging). `-g` logs to stderr and
 * overrides the config's logging; `-f` keeps it. Started and running.
 */
async function startNamed(net: NetPair, dir: string, flag: "-f" | "-g", options: string, rest: string): Promise<Proc> {
  Deno.writeTextFileSync(
    `${dir}/named.conf`,
    `options {
directory "${dir}";
pid-file "${dir}/named.pid";
listen-on { ${BIND}; };
listen-on-v6 { none; };
recursion yes;
allow-query { any; };
dnssec-validation no;
${options}
};
${rest}
`,
  );
  const named = net.spawn(net.b, "named", [flag, "-c", `${dir}/named.conf`]);
  assert.ok(await named.until(() => /(^| )running$/m.test(named.stderr), 20_000), named.stderr);
  return named;
}

/** Clients named in a finding's evidence. */
function clientsOf(f: { evidence: unknown }): string[] {
  return [...new Set(JSON.stringify(f.evidence).match(/10\.77\.0\.\d+/g) ?? [])];
}

resolverTest(
  "Unbound's dnstap to stream --dnstap: iodine through it found live with the real client; the client's link as a pcap agrees",
  ["unbound"],
  "ub",
  async (net, dir) => {
    tunnelServer(net);
    const stream = net.spawn(
      net.b,
      Deno.execPath(),
      cliArgs(["stream", "--dnstap", `unix:${dir}/dnstap.sock`, "--window", "5", "--dir", `${dir}/tap`], {
        net: true,
      }),
      { NO_COLOR: "1" },
    );
    assert.ok(await stream.until(() => stream.stderr.includes("Ctrl-C stops"), 20_000), stream.stderr);
    // The client's link, captured by libpcap at the same time.
    const link = net.stream(net.a, [
      "-i",
      net.ifA,
      "--save",
      `${dir}/client.pcap`,
      "--window",
      "5",
      "--dir",
      `${dir}/link`,
    ]);
    assert.ok(await link.until(() => link.stderr.includes("Ctrl-C stops"), 20_000), link.stderr);
    Deno.writeTextFileSync(
      `${dir}/unbound.conf`,
      `server:
interface: ${UNBOUND}
access-control: 10.77.0.0/24 allow
do-ip6: no
username: ""
chroot: ""
directory: "${dir}"
pidfile: "${dir}/unbound.pid"
use-syslog: no
logfile: "${dir}/unbound.log"
log-queries: yes
log-replies: yes
do-not-query-localhost: no
qname-minimisation: no
module-config: "iterator"
local-zone: "test." nodefault
stub-zone:
name: "${TUNNEL_ZONE}"
stub-addr: ${net.ipB}
dnstap:
dnstap-enable: yes
dnstap-socket-path: "${dir}/dnstap.sock"
dnstap-send-identity: yes
dnstap-log-client-query-messages: yes
dnstap-log-client-response-messages: yes
dnstap-log-resolver-query-messages: yes
dnstap-log-resolver-response-messages: yes
`,
    );
    const unbound = net.spawn(net.b, "unbound", ["-d", "-c", `${dir}/unbound.conf`]);
    const started = async () =>
      (await Deno.readTextFile(`${dir}/unbound.log`).catch(() => "")).includes("start of service");
    for (let i = 0; i < 200 && !(await started()); i++) await new Promise((r) => setTimeout(r, 100));
    assert.ok(await started(), unbound.stderr);
    await tunnelThrough(net, UNBOUND);
    // Let the last window close, then stop both streams (Unbound sends STOP when it stops).
    await new Promise((r) => setTimeout(r, 13_000));
    unbound.signal("SIGTERM");
    await unbound.done;
    for (const p of [stream, link]) p.signal("SIGINT");
    for (const p of [stream, link]) assert.equal((await p.done).code, 0, p.stderr);
    const alerts = stream.stdout.split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l));
    assert.ok(alerts.some((a) => a.domain === "dt.test" && HIGH.has(a.severity)), stream.stdout || stream.stderr);
    const runs = JSON.parse((await runCli(["runs", "--json", "--dir", `${dir}/tap`])).stdout).runs;
    assert.equal(runs[0].status, "complete");
    assert.ok(runs[0].live.connections >= 1, JSON.stringify(runs[0].live));
    const fromTap = await tunnelFinding(`${dir}/tap`);
    assert.ok(HIGH.has(fromTap.severity), JSON.stringify(fromTap).slice(0, 300));
    // The client behind the resolver, never the resolver itself (its upstream queries are not a client's).
    assert.deepEqual(clientsOf(fromTap), ["10.77.0.1"]);
    // The same traffic seen on the client's link, as a pcap.
    const fromPcap = await appliedFinding(`${dir}/client.pcap`, `${dir}/pcap`);
    assert.equal(fromPcap.severity, fromTap.severity);
    assert.deepEqual(clientsOf(fromPcap), ["10.77.0.1"]);
    // Unbound's own query and reply lines of the same traffic: each exchange once, the tunnel found.
    const { counts: log, finding: fromLog } = await fromLogFile(`${dir}/unbound.log`, "unbound-log", `${dir}/log`);
    assert.ok(log.responses > 0 && log.transactions === log.queries, JSON.stringify(log));
    // Whole seconds and no answers in Unbound's lines: less to go on than dnstap (MEDIUM where dnstap is HIGH).
    assert.ok(["MEDIUM", ...HIGH].includes(fromLog.severity), JSON.stringify(fromLog).slice(0, 300));
    assert.equal(fromLog.tool?.name, "iodine");
    assert.deepEqual(clientsOf(fromLog), ["10.77.0.1"]);
  },
);

resolverTest(
  "BIND 9's dnstap through fstrm_capture to a file: apply finds iodine through BIND with the real client",
  ["named", "fstrm_capture"],
  "bd",
  async (net, dir) => {
    tunnelServer(net);
    const capture = net.spawn(net.b, "fstrm_capture", [
      "-t",
      "protobuf:dnstap.Dnstap",
      "-u",
      `${dir}/bind.sock`,
      "-w",
      `${dir}/bind.dnstap`,
    ]);
    for (let i = 0; i < 100; i++) {
      try {
        if (Deno.lstatSync(`${dir}/bind.sock`).isSocket) break;
      } catch { /* not yet */ }
      await new Promise((r) => setTimeout(r, 100));
    }
    const named = await startNamed(
      net,
      dir,
      "-f",
      `allow-recursion { any; };
querylog yes;
dnstap { client; resolver; };
dnstap-output unix "${dir}/bind.sock";`,
      `logging {
channel q { file "${dir}/query.log"; print-time yes; print-category yes; print-severity yes; };
category queries { q; };
category default { default_stderr; };
};
zone "${TUNNEL_ZONE}" { type forward; forward only; forwarders { ${net.ipB}; }; };`,
    );
    await tunnelThrough(net, BIND);
    // BIND flushes its dnstap and closes the stream as it stops; fstrm_capture then closes the file.
    named.signal("SIGTERM");
    await named.done;
    await new Promise((r) => setTimeout(r, 1000));
    capture.signal("SIGTERM");
    await capture.done;
    const v = await runCli(["validate", "--json", `${dir}/bind.dnstap`]);
    assert.equal(v.code, 0, v.stderr);
    const file = JSON.parse(v.stdout).files[0];
    assert.equal(file.format, "dnstap");
    assert.ok(file.dnstap.CLIENT_QUERY > 50 && file.dnstap.RESOLVER_QUERY > 50, JSON.stringify(file.dnstap));
    const f = await appliedFinding(`${dir}/bind.dnstap`, `${dir}/ws`);
    assert.ok(HIGH.has(f.severity), JSON.stringify(f).slice(0, 300));
    assert.deepEqual(clientsOf(f), ["10.77.0.1"]);
    // BIND's query log of the same traffic.
    const { counts: logged, finding: fromLog } = await fromLogFile(`${dir}/query.log`, "bind-querylog", `${dir}/log`);
    assert.ok(logged.transactions > 50, JSON.stringify(logged));
    assert.ok(HIGH.has(fromLog.severity), JSON.stringify(fromLog).slice(0, 300));
    assert.deepEqual(clientsOf(fromLog), ["10.77.0.1"]);
  },
);

resolverTest(
  "export --format rpz loaded by BIND 9: the tunnels' names are refused, other names resolve",
  ["named", "dig"],
  "rz",
  async (net, dir) => {
    const sample = new URL("../fixtures/sample.pcap", import.meta.url).pathname;
    assert.equal((await runCli(["apply", "--dir", `${dir}/ws`, sample])).code, 0);
    const exported = await runCli(["export", "--format", "rpz", "-o", `${dir}/plumbum.rpz`, "--dir", `${dir}/ws`]);
    assert.equal(exported.code, 0, exported.stderr);
    // The tunnels' zones and an ordinary one, all served by this BIND; the policy zone on top.
    const zone = (name: string) => {
      Deno.writeTextFileSync(
        `${dir}/${name}.zone`,
        `$TTL 60\n@ IN SOA ns.${name}. root.${name}. 1 3600 600 86400 60\n@ IN NS ns.${name}.\nns IN A ${BIND}\n@ IN A 10.9.9.9\n* IN A 10.9.9.9\n`,
      );
      return `zone "${name}" { type primary; file "${dir}/${name}.zone"; };`;
    };
    const named = await startNamed(
      net,
      dir,
      "-g",
      `response-policy { zone "plumbum.rpz"; };`,
      `zone "plumbum.rpz" { type primary; file "${dir}/plumbum.rpz"; allow-query { none; }; };
${zone("lime-hollow.test")}
${zone("vale-flow.test")}
${zone("example.test")}`,
    );
    assert.match(named.stderr, /zone plumbum\.rpz\/IN: loaded serial \d+/);
    const ask = async (name: string) => {
      const r = await net.run(net.a, "dig", ["+time=2", "+tries=1", `@${BIND}`, name, "A"]);
      return new TextDecoder().decode(r.stdout);
    };
    for (const name of ["lime-hollow.test", "a1b2c3.t.lime-hollow.test", "x.vale-flow.test"]) {
      assert.match(await ask(name), /status: NXDOMAIN/, name);
    }
    for (const name of ["www.example.test", "example.test"]) {
      const answer = await ask(name);
      assert.match(answer, /status: NOERROR/, name);
      assert.match(answer, /10\.9\.9\.9/, name);
    }
  },
);
