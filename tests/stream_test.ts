/**
 * `plumbum stream` without privileges: a capture replayed through the live
 * path (`--read`), windows and their alerts, the stored live run, stopping,
 * and the errors a user meets first. Live capture on interfaces is in
 * live_test.ts.
 */
import assert from "node:assert/strict";
import { cliArgs, runCli } from "./helpers/cli.ts";
import { fromFileUrl } from "./helpers/paths.ts";
import { Proc } from "./helpers/netns.ts";
import { presetModel } from "../src/analysis/model.ts";
import { Store } from "../src/store/store.ts";
import { runIds } from "../src/store/schema.ts";
import { StreamRun } from "../src/run/stream.ts";
import { WindowAlerter } from "../src/run/window_alerter.ts";
import type { DomainFinding } from "../src/analysis/analyze.ts";
import { TumblingWindows, type WindowResult } from "../src/analysis/window.ts";
import { tx } from "./helpers/transaction.ts";
import { ether, ipv4, pcapFile, tempFile, udp, udpExchange } from "./helpers/build.ts";

const sample = fromFileUrl(new URL("../fixtures/sample.pcap", import.meta.url));
const hasLibpcap = new Deno.Command("sh", { args: ["-c", "ldconfig -p | grep -q libpcap.so"] }).outputSync().success;

const ALERT_FIELDS = [
  "horizon",
  "domain",
  "score",
  "severity",
  "query_count",
  "client_count",
  "subdomain_count",
  "mean_entropy",
  "cv",
  "mean_txt_length",
  "window_secs",
  "is_c2",
  "tool",
  "suppressed",
  "window_start",
  "window_end",
  "components",
  "evidence",
];

async function tmp(): Promise<string> {
  return await Deno.makeTempDir({ prefix: "plumbum-stream-" });
}

Deno.test("stream --read: one NDJSON alert per domain per window; the whole-stream run equals apply's", async () => {
  const dir = await tmp();
  try {
    const r = await runCli(["stream", "--read", sample, "--window", "30", "--dir", dir]);
    assert.equal(r.code, 0, r.stderr);
    const alerts = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
    assert.ok(alerts.length >= 2);
    for (const a of alerts) {
      assert.deepEqual(Object.keys(a), ALERT_FIELDS);
      assert.ok(a.score >= 40, `alert under the threshold: ${a.score}`);
      assert.equal(a.horizon, "window");
      assert.equal(a.window_secs, 30);
      assert.equal(Date.parse(a.window_end) - Date.parse(a.window_start), 30_000);
      assert.ok(a.components.length > 0 && "norm" in a.components[0] && "contribution" in a.components[0]);
      assert.ok(a.evidence.capacity_bytes > 0 && a.evidence.busiest_client.client !== "");
    }
    // One alert per domain per window.
    const keys = alerts.map((a) => `${a.domain} ${a.window_start}`);
    assert.equal(new Set(keys).size, keys.length);
    assert.deepEqual([...new Set(alerts.map((a) => a.domain))].sort(), ["lime-hollow.test", "vale-flow.test"]);
    // Status on stderr: a line per window, and the summary.
    assert.match(r.stderr, /window 0 .*DNS transactions/);
    assert.match(r.stderr, /Stored run #1: 3083 packets, 1556 DNS transactions/);

    const live = await runCli(["export", "--format", "csv", "--run", "1", "--dir", dir]);
    const a = await runCli(["apply", sample, "--dir", dir]);
    assert.equal(a.code, 0, a.stderr);
    const applied = await runCli(["export", "--format", "csv", "--run", "2", "--dir", dir]);
    assert.equal(live.stdout, applied.stdout);

    const runs = JSON.parse((await runCli(["runs", "--json", "--dir", dir])).stdout).runs;
    const run = runs.find((x: { id: number }) => x.id === 1);
    assert.equal(run.status, "complete");
    assert.equal(run.config.mode, "stream");
    assert.equal(run.live.packets, 3083);
    assert.equal(run.live.windows, 2);
    assert.equal(run.live.alerts, alerts.length);
    assert.equal(runs.find((x: { id: number }) => x.id === 2).live, undefined);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("stream --read: --threshold, --count and --quiet", async () => {
  const dir = await tmp();
  try {
    const high = await runCli(["stream", "--read", sample, "--window", "30", "--threshold", "97", "-q", "--dir", dir]);
    assert.equal(high.code, 0, high.stderr);
    const alerts = high.stdout.trim().split("\n").map((l) => JSON.parse(l));
    assert.ok(alerts.length >= 1 && alerts.every((a) => a.score >= 97), high.stdout);
    assert.equal(high.stderr.replace(/^Initialized.*\n/, ""), "");
    const few = await runCli(["stream", "--read", sample, "--count", "100", "--dir", dir]);
    assert.equal(few.code, 0, few.stderr);
    assert.match(few.stderr, /Stored run #2: 100 packets/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("stream --read --speed: paced in real time, SIGINT closes the open window, stores the run, exits 0", async () => {
  const dir = await tmp();
  try {
    const p = new Proc(
      Deno.execPath(),
      cliArgs([
        "stream",
        "--read",
        sample,
        "--speed",
        "realtime",
        "--window",
        "5",
        "--dir",
        dir,
      ]),
      { NO_COLOR: "1" },
    );
    assert.ok(await p.until(() => /window 0 /.test(p.stderr), 30_000), p.stderr);
    p.signal("SIGINT");
    const status = await p.done;
    assert.equal(status.code, 0, p.stderr);
    assert.match(p.stderr, /stopping: closing the open window/);
    const m = p.stderr.match(/Stored run #1: (\d+) packets/);
    assert.ok(m !== null && Number(m[1]) > 0 && Number(m[1]) < 3083, p.stderr);
    const run = JSON.parse((await runCli(["runs", "--json", "--dir", dir])).stdout).runs[0];
    assert.equal(run.status, "complete");
    assert.ok(run.live.windows >= 2, JSON.stringify(run.live));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("stream: a run killed mid-stream keeps its closed windows, readable, and is marked failed", async () => {
  const dir = await tmp();
  try {
    const p = new Proc(
      Deno.execPath(),
      cliArgs([
        "stream",
        "--read",
        sample,
        "--speed",
        "5",
        "--window",
        "5",
        "--dir",
        dir,
      ]),
      { NO_COLOR: "1" },
    );
    assert.ok(await p.until(() => /window 1 /.test(p.stderr), 30_000), p.stderr);
    // Give the window's commit a moment, then kill without a chance to clean up.
    await new Promise((r) => setTimeout(r, 300));
    p.signal("SIGKILL");
    await p.done;
    // While no writer came by, a reader sees the dead run as failed, and can read it.
    const runs = JSON.parse((await runCli(["runs", "--json", "--dir", dir])).stdout).runs;
    assert.equal(runs[0].status, "failed");
    assert.ok(runs[0].domains > 0, JSON.stringify(runs[0]));
    const show = await runCli(["export", "--format", "csv", "--run", "1", "--dir", dir]);
    assert.equal(show.code, 0, show.stderr);
    assert.match(show.stdout, /vale-flow\.test/);
    // The next writer marks it failed for good, and keeps what it committed.
    assert.equal((await runCli(["apply", sample, "--dir", dir])).code, 0);
    const after = JSON.parse((await runCli(["runs", "--json", "--dir", dir])).stdout).runs;
    const dead = after.find((r: { id: number }) => r.id === 1);
    assert.equal(dead.status, "failed");
    assert.match(dead.error, /interrupted|killed|process/i);
    const again = await runCli(["explain", "vale-flow.test", "--run", "1", "--json", "--dir", dir]);
    assert.equal(again.code, 0, again.stderr);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("stream: errors a user meets first are one sentence, exit 1", async () => {
  const dir = await tmp();
  try {
    const none = await runCli(["stream", "--dir", dir]);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /-i INTERFACE to capture .*, --read FILE .*, --dnstap unix:.*, or --follow LOG/);
    // --dnstap: an address it can listen on, never a file that is there already, never with --save or a dnstap --read.
    const bad = await runCli(["stream", "--dnstap", "udp:1.2.3.4:5", "--dir", dir]);
    assert.equal(bad.code, 1, bad.stderr);
    assert.match(bad.stderr, /^plumbum: --dnstap: "udp:1\.2\.3\.4:5" is neither unix:\/path nor tcp:HOST:PORT\n$/);
    const port = await runCli(["stream", "--dnstap", "tcp:127.0.0.1:99999", "--dir", dir]);
    assert.match(port.stderr, /--dnstap: tcp: needs HOST:PORT/);
    const save = await runCli(["stream", "--dnstap", `unix:${dir}/s.sock`, "--save", `${dir}/x.pcap`, "--dir", dir]);
    assert.match(save.stderr, /--save goes with -i/);
    await Deno.writeTextFile(`${dir}/notes.txt`, "keep me");
    const taken = await runCli(["stream", "--dnstap", `unix:${dir}/notes.txt`, "--dir", dir], undefined, { net: true });
    assert.equal(taken.code, 1, taken.stderr);
    assert.match(taken.stderr, /notes\.txt exists and is not a socket: name a new path for --dnstap/);
    assert.equal(await Deno.readTextFile(`${dir}/notes.txt`), "keep me");
    const both = await runCli(["stream", "-i", "lo", "--read", sample, "--dir", dir]);
    assert.equal(both.code, 1);
    const speed = await runCli(["stream", "--read", sample, "--speed", "fast", "--dir", dir]);
    assert.equal(speed.code, 1);
    assert.match(speed.stderr, /--speed: "fast" is not max, realtime or a positive multiple/);
    const window = await runCli(["stream", "--read", sample, "--window", "0", "--dir", dir]);
    assert.equal(window.code, 1);
    const missing = await runCli(["stream", "--read", `${dir}/nope.pcap`, "--dir", dir]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /nope\.pcap/);
    const zeek = `${dir}/dns.log`;
    await Deno.writeTextFile(
      zeek,
      "#separator \\x09\n#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\ttrans_id\tquery\n1.0\tC1\t10.0.0.1\t5000\t10.0.0.2\t53\tudp\t1\texample.com\n",
    );
    const z = await runCli(["stream", "--read", zeek, "--dir", dir]);
    assert.equal(z.code, 1, z.stderr);
    assert.match(z.stderr, /is a Zeek log, not a capture: --read replays packets/);
    // Capture needs FFI, and libpcap.
    const noFfi = await runCli(["stream", "-i", "lo", "--dir", dir]);
    assert.equal(noFfi.code, 1, noFfi.stderr);
    assert.match(noFfi.stderr, /--allow-ffi/);
    const noLib = await runCli(["stream", "--list-interfaces", "--dir", dir], undefined, {
      ffi: true,
      env: { PLUMBUM_LIBPCAP: `${dir}/libpcap.so.1` },
    });
    assert.equal(noLib.code, 1, noLib.stderr);
    assert.match(noLib.stderr, /libpcap was not found .*apt-get install libpcap0\.8/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: `stream --list-interfaces lists lo, in text and JSON${hasLibpcap ? "" : " (skipped: needs libpcap)"}`,
  ignore: !hasLibpcap,
  fn: async () => {
    const text = await runCli(["stream", "--list-interfaces"], undefined, { ffi: true });
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^lo\s+up.*loopback\s+127\.0\.0\.1/m);
    const json = JSON.parse((await runCli(["stream", "--list-interfaces", "--json"], undefined, { ffi: true })).stdout);
    const lo = json.interfaces.find((i: { name: string }) => i.name === "lo");
    assert.equal(lo.loopback, true);
    assert.ok(lo.addresses.includes("127.0.0.1"));
    assert.match(json.version, /libpcap/);
  },
});

Deno.test("windows: a transaction older than a closed window counts late in the next, never reopens it", () => {
  const closed: WindowResult[] = [];
  const w = new TumblingWindows({ secs: 10, model: presetModel("tunnel"), onClose: (r) => closed.push(r) });
  w.add(tx({ ts: 101, query: "a.example.com" }));
  w.advance(111);
  assert.equal(closed.length, 1);
  w.add(tx({ ts: 105, query: "b.example.com" })); // late: its window has closed
  w.add(tx({ ts: 112, query: "c.example.com" }));
  w.end();
  assert.deepEqual(closed.map((c) => [c.start, c.transactions, c.late]), [[100, 1, 0], [110, 2, 1]]);
});

Deno.test("StreamRun as a library: a file through the live path, alerts by callback, the run stored", async () => {
  const dir = await tmp();
  try {
    const store = Store.open(`${dir}/plumbum.db`);
    try {
      const alerts: string[] = [];
      const run = new StreamRun(store, {
        model: presetModel("tunnel"),
        c2Domains: [],
        resolvers: [],
        dnsPorts: [53],
        source: { kind: "file", settings: { path: sample, speed: 0, count: 0 } },
        windowSecs: 60,
        threshold: 60,
        storeTransactions: true,
        storeLimit: 100,
        durationSecs: 0,
        onAlert: (a) => alerts.push(`${a.finding.domain} ${a.finding.severity}`),
      });
      const result = await run.run();
      assert.equal(result.error, null);
      assert.equal(result.run.status, "complete");
      assert.ok(alerts.includes("vale-flow.test CRITICAL"), alerts.join("; "));
      // At most 100 transactions stored per window; the rest counted.
      const stored = store.transactions(result.run.id, "vale-flow.test", 100000).length;
      assert.ok(stored <= 100 * result.status.windows, `${stored}`);
      assert.ok(result.status.unstored > 0);
      assert.equal(result.status.transactions, 1556);
    } finally {
      store.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("StreamRun --retain: only the last N windows' transactions stay stored, in one key range", async () => {
  const dir = await tmp();
  try {
    const store = Store.open(`${dir}/plumbum.db`);
    try {
      const run = (retainWindows: number) =>
        new StreamRun(store, {
          model: presetModel("tunnel"),
          c2Domains: [],
          resolvers: [],
          dnsPorts: [53],
          source: { kind: "file", settings: { path: sample, speed: 0, count: 0 } },
          windowSecs: 2,
          threshold: 40,
          storeTransactions: true,
          storeLimit: 1e9,
          durationSecs: 0,
          retainWindows,
          onAlert: () => {},
        }).run();
      const all = await run(0);
      const kept = await run(1);
      const rows = (id: number) =>
        store.db.prepare("SELECT count(*) AS n, min(ts) AS first FROM transactions WHERE id >= ? AND id < ?").get(
          ...runIds(id),
        ) as {
          n: number;
          first: number;
        };
      assert.equal(rows(all.run.id).n, 1556);
      assert.ok(kept.status.windows >= 4, `${kept.status.windows} windows`);
      const k = rows(kept.run.id);
      assert.ok(k.n > 0 && k.n < 1556, `${k.n} rows kept`);
      // What is left is the tail of what was stored: the same rows, in order, as the last ones of the full run.
      const ts = (id: number) =>
        (store.db.prepare("SELECT ts FROM transactions WHERE id >= ? AND id < ? ORDER BY id").all(...runIds(id)) as {
          ts: number;
        }[])
          .map((r) => r.ts);
      assert.deepEqual(ts(kept.run.id), ts(all.run.id).slice(1556 - k.n));
      assert.ok(k.first > rows(all.run.id).first);
      // The whole-stream findings are the same either way.
      const scores = (id: number) => store.findings(id).map((f) => [f.domain, f.score]);
      assert.deepEqual(scores(kept.run.id), scores(all.run.id));
    } finally {
      store.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("stream alerts write names as export does: escaped controls and bidi, \\xHH for bytes, taken back by explain", async () => {
  const hostile = fromFileUrl(new URL("../fixtures/hostile-names.pcap", import.meta.url));
  const dir = await Deno.makeTempDir();
  try {
    const r = await runCli(["stream", "--read", hostile, "--window", "3600", "--threshold", "0", "-q", "--dir", dir]);
    assert.equal(r.code, 0, r.stderr);
    // No raw control character, DEL, C1 or bidi override anywhere on the wire, not even inside JSON strings.
    assert.doesNotMatch(r.stdout, /[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/);
    assert.doesNotMatch(r.stdout, /\\u00[0-1][0-9a-f]|\\u007f/i);
    const alerts = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
    const exported = new Set(
      (JSON.parse((await runCli(["export", "--dir", dir])).stdout).domains as { domain: string }[]).map((d) =>
        d.domain
      ),
    );
    const odd = alerts.filter((a) => /\\x|[^\x20-\x7e]/.test(a.domain));
    assert.ok(odd.length > 0, "the hostile capture alerts on names that need escaping");
    for (const a of alerts) {
      assert.ok(exported.has(a.domain), `alert ${JSON.stringify(a.domain)} is not written as export writes it`);
      if (a.evidence.sample_name !== null) assert.doesNotMatch(a.evidence.sample_name, /[\x00-\x1f\x7f]/);
    }
    for (const a of odd.slice(0, 3)) {
      const e = await runCli(["explain", a.domain, "--json", "--dir", dir]);
      assert.equal(e.code, 0, `explain ${JSON.stringify(a.domain)}: ${e.stderr}`);
      assert.equal(JSON.parse(e.stdout).domain, a.domain);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("stream counts malformed DNS as validate does: in the summary, the status line's figures and the run's live record", async () => {
  const good = udpExchange({ id: 7, name: "www.example.com" });
  // A query cut short in its question, and one whose header promises records it does not hold.
  const cut = ether(
    0x0800,
    ipv4("10.0.0.2", "10.0.0.1", 17, udp(40001, 53, Uint8Array.from([0, 9, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 9, 0x61]))),
  );
  const lying = ether(
    0x0800,
    ipv4("10.0.0.3", "10.0.0.1", 17, udp(40002, 53, Uint8Array.from([0, 10, 1, 0, 0, 5, 0, 3, 0, 0, 0, 0]))),
  );
  const t = 1_700_000_000;
  const path = tempFile(
    pcapFile([{ ts: t, data: good[0] }, { ts: t + 0.01, data: good[1] }, { ts: t + 1, data: cut }, {
      ts: t + 2,
      data: lying,
    }]),
    ".pcap",
  );
  const dir = await Deno.makeTempDir();
  try {
    const v = JSON.parse((await runCli(["validate", "--json", path])).stdout).files[0];
    assert.ok(v.malformed >= 2, JSON.stringify(v));
    const r = await runCli(["stream", "--read", path, "--dir", dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(`Stored run #1: 4 packets, 1 DNS transactions, ${v.malformed} malformed packets or messages skipped`),
    );
    assert.match(r.stderr, new RegExp(`window 0 .* · ${v.malformed} malformed · `));
    const run = JSON.parse((await runCli(["runs", "--json", "--dir", dir])).stdout).runs[0];
    assert.equal(run.live.malformed, v.malformed);
  } finally {
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(path);
  }
});

Deno.test("the window alerter: a window's domains over the threshold, the stream view's once each, allowed ones counted", () => {
  const f = (domain: string, score: number) =>
    ({ domain, score, evidence: { clients: [], clients_other: 0 } }) as unknown as DomainFinding;
  const alerter = new WindowAlerter({
    threshold: 50,
    windowSecs: 10,
    allow: [{ name: "ours.test", reason: "our backup", clients: null, expires: null }],
  });
  const brief = (r: ReturnType<WindowAlerter["close"]>) => ({
    alerts: r.alerts.map((a) => [a.horizon, a.finding.domain, a.start, a.end, a.windowSecs]),
    suppressed: r.suppressed,
  });
  // The window's findings come by score: the first under the threshold ends them.
  const first = alerter.close(
    {
      start: 100,
      end: 110,
      findings: [f("loud.test", 80), f("x.ours.test", 70), f("low.test", 49.9), f("late.test", 90)],
    },
    [f("loud.test", 80), f("slow.test", 40)],
  );
  assert.deepEqual(brief(first), { alerts: [["window", "loud.test", 100, 110, 10]], suppressed: 1 });
  // Later, the slow one crosses in the stream view only: once, over the span since the first window, highest first.
  const second = alerter.close({ start: 110, end: 120, findings: [] }, [
    f("slow.test", 55),
    f("loud.test", 85),
    f("slower.test", 60),
  ]);
  assert.deepEqual(brief(second), {
    alerts: [["stream", "slower.test", 100, 120, 20], ["stream", "slow.test", 100, 120, 20]],
    suppressed: 0,
  });
  assert.deepEqual(brief(alerter.close({ start: 120, end: 130, findings: [] }, [f("slow.test", 70)])), {
    alerts: [],
    suppressed: 0,
  });
  // With suppressed domains asked for, an allowed one alerts, marked.
  const all = new WindowAlerter({
    threshold: 50,
    windowSecs: 10,
    includeSuppressed: true,
    allow: [{ name: "ours.test", reason: "our backup", clients: null, expires: null }],
  });
  const marked = all.close({ start: 0, end: 10, findings: [f("x.ours.test", 70)] }, []);
  assert.equal(marked.alerts[0].finding.suppressed?.reason, "our backup");
});
