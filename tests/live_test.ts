/**
 * `plumbum stream` on real interfaces: libpcap through FFI on a veth pair
 * between two network namespaces made for the test, a real DNS tunnel
 * (iodine), real replays (tcpreplay). Needs root, libpcap, iproute2,
 * iodine and tcpreplay; CI installs them. Each test says what it lacks
 * and is skipped when something is missing.
 */
import assert from "node:assert/strict";
import { denoEval, liveSkipReason, NetPair, type Proc, tunnelTransfer } from "./helpers/netns.ts";
import { cliArgs, runCli } from "./helpers/cli.ts";
import { fromFileUrl } from "./helpers/paths.ts";

const sample = fromFileUrl(new URL("../fixtures/sample.pcap", import.meta.url));
const sanitize = { sanitizeOps: false, sanitizeResources: false };

function live(name: string, tools: string[], fn: () => Promise<void>): void {
  const why = liveSkipReason(tools);
  Deno.test({ name: why === null ? name : `${name} (skipped: ${why})`, ignore: why !== null, ...sanitize, fn });
}

interface Alert {
  domain: string;
  score: number;
  severity: string;
  window_start: string;
  window_secs: number;
  [k: string]: unknown;
}

function alertsOf(p: Proc): Alert[] {
  return p.stdout.split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l));
}

const HIGH = new Set(["HIGH", "CRITICAL"]);

/** Benign lookups: a few names under each of a few zones, sent to `server` port 53 over UDP. */
function benignTraffic(server: string): string {
  return `
const names = ["www.example.com", "mail.example.com", "www.example.org", "api.example.net", "static.example.net"];
const sock = Deno.listenDatagram({ transport: "udp", hostname: "0.0.0.0", port: 0 });
let id = 1;
for (let round = 0; round < 6; round++) {
  for (const n of names) {
    const q = [id >> 8, id & 255, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    id++;
    for (const l of n.split(".")) q.push(l.length, ...new TextEncoder().encode(l));
    q.push(0, 0, 1, 0, 1);
    await sock.send(new Uint8Array(q), { transport: "udp", hostname: "${server}", port: 53 });
  }
  await new Promise((r) => setTimeout(r, 1000));
}
sock.close();`;
}

live("stream -i: a real iodine tunnel alerts HIGH within two windows; benign lookups do not; Ctrl-C stores the run", [
  "iodine",
  "iodined",
], async () => {
  const net = NetPair.create("io");
  const dir = await Deno.makeTempDir();
  try {
    const window = 5;
    const server = net.spawn(net.b, "iodined", [
      "-f",
      "-c",
      "-P",
      "plumbum-test",
      "-l",
      net.ipB,
      "10.55.0.1",
      "t.io.test",
    ]);
    const stream = net.stream(net.a, ["-i", net.ifA, "--window", String(window), "--dir", dir]);
    assert.ok(await stream.until(() => stream.stderr.includes("Ctrl-C stops"), 20_000), stream.stderr);
    const started = Date.now() / 1000;
    const client = net.spawn(net.a, "iodine", ["-f", "-r", "-P", "plumbum-test", net.ipB, "t.io.test"]);
    assert.ok(
      await client.until(() => client.stderr.includes("Connection setup complete"), 30_000),
      `iodine did not connect:\n${client.stderr}\n${server.stderr}`,
    );
    // Data through the tunnel: 256 KB down from the server's end.
    const { sink, fetch } = tunnelTransfer(net, "10.55.0.1", 262144);
    const benign = denoEval(net, net.a, benignTraffic(net.ipB));
    assert.equal((await benign.done).code, 0, benign.stderr);
    assert.ok(
      await fetch.until(() => fetch.stdout.trim() === "262144", 60_000),
      `tunnel transfer: ${fetch.stdout} ${fetch.stderr}`,
    );
    const tunnelHigh = () => alertsOf(stream).find((a) => a.domain === "io.test" && HIGH.has(a.severity));
    assert.ok(
      await stream.until(() => tunnelHigh() !== undefined, 4 * window * 1000),
      `no HIGH alert:\n${stream.stdout}`,
    );
    const first = tunnelHigh()!;
    const firstWindow = Math.floor(started / window) * window;
    assert.ok(
      Date.parse(first.window_start) / 1000 < firstWindow + 2 * window,
      `first HIGH alert in window ${first.window_start}, tunnel started ${new Date(started * 1000).toISOString()}`,
    );
    // Let the benign lookups' window close too.
    await new Promise((r) => setTimeout(r, (window + 2) * 1000));
    sink.signal("SIGKILL");
    stream.signal("SIGINT");
    const status = await stream.done;
    assert.equal(status.code, 0, stream.stderr);
    assert.match(stream.stderr, /stopping: closing the open window/);
    assert.match(stream.stderr, /Stored run #1: \d+ packets/);
    const alerts = alertsOf(stream);
    for (const a of alerts) {
      assert.ok(a.domain === "io.test", `benign or unexpected alert: ${JSON.stringify(a)}`);
    }
    const runs = JSON.parse((await runCli(["runs", "--json", "--dir", dir])).stdout).runs;
    assert.equal(runs[0].status, "complete");
    assert.equal(runs[0].live.interface, net.ifA);
    assert.match(runs[0].live.filter, /port 53/);
    assert.ok(runs[0].live.captured > 0);
    assert.equal(typeof runs[0].live.dropped, "number");
    assert.equal(runs[0].live.alerts, alerts.length);
    // The benign lookups were seen, and scored low.
    const csv = (await runCli(["export", "--format", "csv", "--dir", dir])).stdout.trim().split("\n").slice(1)
      .map((l) => l.split(","));
    for (const zone of ["example.com", "example.org", "example.net"]) {
      const row = csv.find((c) => c[0] === zone);
      assert.ok(row !== undefined && Number(row[1]) < 40, `${zone}: ${row}`);
    }
    const show = await runCli(["show", "io.test", "--dir", dir]);
    assert.equal(show.code, 0, show.stderr);
    assert.match(show.stdout, /io\.test/);
    const explain = JSON.parse((await runCli(["explain", "io.test", "--json", "--dir", dir])).stdout);
    assert.ok(HIGH.has(explain.severity), JSON.stringify(explain).slice(0, 300));
  } finally {
    await net.close();
    await Deno.remove(dir, { recursive: true });
  }
});

live("stream -i: tcpreplay of a capture gives apply's tunnels, and --save keeps what was captured", [
  "tcpreplay",
], async () => {
  const net = NetPair.create("tr");
  const dir = await Deno.makeTempDir();
  try {
    const saved = `${dir}/saved.pcap`;
    const stream = net.stream(net.b, ["-i", net.ifB, "--window", "3600", "--save", saved, "--dir", dir, "-q"]);
    // -q prints nothing: wait for the run to be recorded instead.
    await new Promise((r) => setTimeout(r, 3000));
    const replay = await net.run(net.a, "tcpreplay", ["-i", net.ifA, "--pps=3000", sample]);
    assert.ok(replay.success, new TextDecoder().decode(replay.stderr));
    await new Promise((r) => setTimeout(r, 1500));
    stream.signal("SIGTERM");
    assert.equal((await stream.done).code, 0, stream.stderr);

    const high = async (args: string[]) => {
      const r = await runCli([...args, "--dir", dir]);
      assert.equal(r.code, 0, r.stderr);
      const csv = (await runCli(["export", "--format", "csv", "--dir", dir])).stdout.trim().split("\n").slice(1);
      return csv.map((l) => l.split(",")).filter((c) => HIGH.has(c[2])).map((c) => c[0]).sort();
    };
    const runs = JSON.parse((await runCli(["runs", "--json", "--dir", dir])).stdout).runs;
    const live = runs[0];
    assert.equal(live.status, "complete");
    const liveHigh = (await runCli(["export", "--format", "csv", "--run", String(live.id), "--dir", dir])).stdout
      .trim().split("\n").slice(1).map((l) => l.split(",")).filter((c) => HIGH.has(c[2])).map((c) => c[0]).sort();
    const applied = await high(["apply", sample]);
    assert.deepEqual(liveHigh, applied);
    assert.ok(applied.length >= 2, `expected the sample's tunnels: ${applied}`);
    const apply = JSON.parse((await runCli(["runs", "--json", "--dir", dir])).stdout).runs[0];
    assert.equal(live.transactions, apply.transactions, "every transaction captured");
    assert.equal(live.live.dropped, 0);
    assert.deepEqual(await high(["apply", saved]), applied);
    // The live run is carved from its saved capture.
    const c = await runCli([
      "carve",
      "lime-hollow.test",
      "--run",
      String(live.id),
      "--json",
      "-o",
      `${dir}-carved`,
      "--dir",
      dir,
    ]);
    assert.equal(c.code, 0, c.stderr);
    const carved = JSON.parse(c.stdout);
    assert.equal(carved.sources[0].status, "read");
    assert.ok(carved.pcap.packets > 100, JSON.stringify(carved.pcap));
    await Deno.remove(`${dir}-carved`, { recursive: true });
  } finally {
    await net.close();
    await Deno.remove(dir, { recursive: true });
  }
});

live("stream -i: a tiny kernel buffer shows its drops in the summary and the run", ["tcpreplay"], async () => {
  const net = NetPair.create("dr");
  const dir = await Deno.makeTempDir();
  try {
    const stream = net.stream(net.b, ["-i", net.ifB, "--buffer-size", "1", "--window", "3600", "--dir", dir]);
    assert.ok(await stream.until(() => stream.stderr.includes("Ctrl-C stops"), 20_000), stream.stderr);
    const replay = await net.run(net.a, "tcpreplay", ["-i", net.ifA, "--topspeed", "--loop=20", sample]);
    assert.ok(replay.success, new TextDecoder().decode(replay.stderr));
    await new Promise((r) => setTimeout(r, 1500));
    stream.signal("SIGINT");
    assert.equal((await stream.done).code, 0, stream.stderr);
    const m = stream.stderr.match(/dropped by the kernel (\d+)/);
    assert.ok(m !== null && Number(m[1]) > 0, stream.stderr);
    assert.match(stream.stderr, /raise --buffer-size/);
    const run = JSON.parse((await runCli(["runs", "--json", "--dir", dir])).stdout).runs[0];
    assert.equal(run.live.dropped, Number(m![1]));
  } finally {
    await net.close();
    await Deno.remove(dir, { recursive: true });
  }
});

live("stream -i: no privilege, no such interface and a bad filter are sentences, exit 1", ["capsh"], async () => {
  const net = NetPair.create("er");
  const dir = await Deno.makeTempDir();
  try {
    const noSuch = net.stream(net.a, ["-i", "nosuch0", "--dir", dir]);
    assert.equal((await noSuch.done).code, 1, noSuch.stderr);
    assert.match(noSuch.stderr, /there is no interface "nosuch0"; there are: .*pa/);
    const badFilter = net.stream(net.a, ["-i", net.ifA, "--filter", "port fifty-three", "--dir", dir]);
    assert.equal((await badFilter.done).code, 1, badFilter.stderr);
    assert.match(badFilter.stderr, /--filter: libpcap cannot use "port fifty-three": /);
    // Root without CAP_NET_RAW and CAP_NET_ADMIN, as an unprivileged user would be.
    const args = ["--drop=cap_net_raw,cap_net_admin", "--", "-c", `exec "$0" "$@"`];
    const cmd = new Deno.Command("ip", {
      args: [
        "netns",
        "exec",
        net.a,
        "capsh",
        ...args,
        Deno.execPath(),
        "run",
        "--quiet",
        "-A",
        fromFileUrl(new URL("../cli.ts", import.meta.url)),
        "stream",
        "-i",
        net.ifA,
        "--dir",
        dir,
      ],
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    });
    const o = await cmd.output();
    const stderr = new TextDecoder().decode(o.stderr);
    assert.equal(o.code, 1, stderr);
    assert.match(stderr, /needs root or CAP_NET_RAW and CAP_NET_ADMIN/);
    assert.match(stderr, /setcap cap_net_raw,cap_net_admin=eip/);
    assert.match(stderr, /--read FILE/);
  } finally {
    await net.close();
    await Deno.remove(dir, { recursive: true });
  }
});

live("stream -i: the interface gone mid-capture is a clear error, exit 1; the run is failed and keeps its windows", [
  "tcpreplay",
], async () => {
  const net = NetPair.create("gn");
  const dir = await Deno.makeTempDir();
  try {
    const stream = net.stream(net.b, ["-i", net.ifB, "--window", "1", "--dir", dir]);
    assert.ok(await stream.until(() => stream.stderr.includes("Ctrl-C stops"), 20_000), stream.stderr);
    const replay = await net.run(net.a, "tcpreplay", ["-i", net.ifA, "--pps=2000", sample]);
    assert.ok(replay.success, new TextDecoder().decode(replay.stderr));
    assert.ok(await stream.until(() => /window \d+ /.test(stream.stderr), 15_000), stream.stderr);
    const del = await net.run(net.b, "ip", ["link", "del", net.ifB]);
    assert.ok(del.success, new TextDecoder().decode(del.stderr));
    const status = await stream.done;
    assert.equal(status.code, 1, stream.stderr);
    assert.match(stream.stderr, /plumbum: capture on .* failed: .*; the closed windows are kept in run #1/);
    const run = JSON.parse((await runCli(["runs", "--json", "--dir", dir])).stdout).runs[0];
    assert.equal(run.status, "failed");
    assert.ok(run.domains > 0 && run.live.windows > 0, JSON.stringify(run));
    const csv = await runCli(["export", "--format", "csv", "--run", "1", "--dir", dir]);
    assert.equal(csv.code, 0, csv.stderr);
    assert.match(csv.stdout, /vale-flow\.test/);
  } finally {
    await net.close();
    await Deno.remove(dir, { recursive: true });
  }
});

live(
  "stream -i --save refuses the workspace's own files, by what it opened (a symlink too), and keeps them whole",
  [],
  async () => {
    const net = NetPair.create("sv");
    const dir = await Deno.makeTempDir();
    try {
      assert.equal((await runCli(["apply", sample, "--dir", dir])).code, 0);
      const digest = async (p: string) => new Uint8Array(await crypto.subtle.digest("SHA-256", await Deno.readFile(p)));
      const db = await digest(`${dir}/plumbum.db`);
      const config = await Deno.readTextFile(`${dir}/config.hcl`);
      await Deno.symlink(`${dir}/plumbum.db`, `${dir}/link.pcap`);
      for (
        const [target, own] of [["plumbum.db", "plumbum.db"], ["config.hcl", "config.hcl"], ["link.pcap", "plumbum.db"]]
      ) {
        const s = net.stream(net.b, ["-i", net.ifB, "--save", `${dir}/${target}`, "--duration", "2", "--dir", dir]);
        const done = await s.done;
        assert.equal(done.code, 1, `${target}: ${s.stderr}`);
        assert.match(
          s.stderr,
          new RegExp(
            `--save: .*${target} is the workspace's own ${
              own.replace(".", "\\.")
            }; writing the capture there would destroy it`,
          ),
        );
        assert.doesNotMatch(s.stderr, /bug|at .*\.ts:\d+/);
      }
      assert.deepEqual(await digest(`${dir}/plumbum.db`), db);
      assert.equal(await Deno.readTextFile(`${dir}/config.hcl`), config);
      // A folder is no file either.
      const s = net.stream(net.b, ["-i", net.ifB, "--save", dir, "--duration", "2", "--dir", dir]);
      assert.equal((await s.done).code, 1, s.stderr);
      assert.match(s.stderr, /--save: .* is a folder; give a file name in it/);
    } finally {
      await net.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
);

live(
  "stream -i with alerts to a full disk (/dev/full): one sentence, exit 1, the run stored",
  ["tcpreplay"],
  async () => {
    const net = NetPair.create("fu");
    const dir = await Deno.makeTempDir();
    try {
      const args = cliArgs(["stream", "-i", net.ifB, "--window", "1", "--dir", dir], { ffi: true });
      const stream = net.spawn(net.b, "bash", ["-c", 'exec "$0" "$@" > /dev/full', Deno.execPath(), ...args], {
        NO_COLOR: "1",
      });
      assert.ok(await stream.until(() => stream.stderr.includes("Ctrl-C stops"), 20_000), stream.stderr);
      const replay = await net.run(net.a, "tcpreplay", ["-i", net.ifA, "--pps=2000", sample]);
      assert.ok(replay.success, new TextDecoder().decode(replay.stderr));
      // It stops by itself at the first alert it cannot write; after 15 s it is told to.
      const timer = setTimeout(() => stream.signal("SIGTERM"), 15_000);
      const ended = await stream.done;
      clearTimeout(timer);
      assert.equal(ended.code, 1, stream.stderr);
      assert.match(
        stream.stderr,
        /plumbum: alerts: cannot write to standard output: .*: free space or send them elsewhere; the run stopped there and is stored as run #1\n$/,
      );
      assert.doesNotMatch(stream.stderr, /bug|\.ts:\d+/);
      const runs = JSON.parse((await runCli(["runs", "--json", "--dir", dir])).stdout).runs;
      assert.equal(runs[0].status, "complete");
      assert.ok(runs[0].transactions > 0);
    } finally {
      await net.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
);
