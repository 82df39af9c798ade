/** @jsxImportSource npm:react@19.3.1 */
/**
 * The dashboard: its screen rendered with ink-testing-library over real
 * workspaces (keys written to its stdin), its text helpers, and end to end
 * in a real terminal — tmux runs `plumbum dashboard`, `send-keys` drives
 * it and `capture-pane` reads it.
 */
import assert from "node:assert/strict";
import { render } from "npm:ink-testing-library@4.0.0";
import { Dashboard } from "../src/dashboard/app.tsx";
import { bar, columns, DashboardData, fit, headerLine, rowLine } from "../src/dashboard/model.ts";
import { ResultsReader } from "../src/store/reader.ts";
import { cliArgs, runCli } from "./helpers/cli.ts";
import { fromFileUrl } from "./helpers/paths.ts";

const sample = fromFileUrl(new URL("../fixtures/sample.pcap", import.meta.url));
const hostile = fromFileUrl(new URL("../fixtures/hostile-names.pcap", import.meta.url));
const cli = fromFileUrl(new URL("../cli.ts", import.meta.url));
const sanitize = { sanitizeOps: false, sanitizeResources: false };

async function workspace(capture: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "plumbum-dash-" });
  const r = await runCli(["apply", capture, "--dir", dir]);
  assert.equal(r.code, 0, r.stderr);
  return dir;
}

const pause = (ms = 120) => new Promise((r) => setTimeout(r, ms));
/** A frame without the dashboard's own styles (inverse for the cursor, severity colours): what is left is text. */
const plain = (frame: string | undefined) => (frame ?? "").replace(/\x1b\[(7|27|31|33|36|39|90)m/g, "");

Deno.test("dashboard text: bars, fitting, and rows exactly as wide as the header whatever the name", () => {
  assert.equal(bar(0, 10), " ".repeat(10));
  assert.equal(bar(1, 10), "█".repeat(10));
  assert.equal(bar(0.97, 10).length, 10);
  assert.equal(bar(NaN, 4), "    ");
  assert.equal(fit("evil\x1b[31m.test", 40), "evil\\x1b[31m.test");
  assert.equal(fit("a".repeat(50), 10), "a".repeat(9) + "…");
  for (const cols of [80, 100, 140]) {
    const head = headerLine(cols);
    for (const domain of ["x.test", "\u202e\x1b]0;pwn\x07" + "long-label".repeat(30) + ".test"]) {
      const l = rowLine({
        id: 1,
        domain,
        score: 61.2,
        severity: "HIGH",
        is_c2: false,
        queries: 1234567,
        clients: 3,
        names: 99,
        capacity: 12345,
        first_seen: 1700000000,
        last_seen: 1700000100,
      }, cols);
      assert.equal((l.severity + l.rest).length, head.length, `${cols}: ${l.severity + l.rest}`);
      assert.doesNotMatch(l.rest, /[\x00-\x1f\x7f\u202e]/);
    }
    assert.ok(columns(cols).domain >= 12);
  }
});

Deno.test({
  name: "dashboard screen: table, Enter explains, Esc, / filter, s sort, f floor, r runs, ? help",
  ...sanitize,
  fn: async () => {
    const dir = await workspace(sample);
    const reader = ResultsReader.open(`${dir}/plumbum.db`);
    const data = new DashboardData(reader);
    const ui = render(<Dashboard data={data} workspace={dir} cols={120} rows={30} color={false} pollMs={50} />);
    try {
      await pause();
      let frame = plain(ui.lastFrame());
      assert.match(frame, /run #1 \(complete\) · .*sample\.pcap · 1,556 trans/);
      assert.match(frame, /CRITICAL 2 {2}HIGH 0 {2}MEDIUM 0 {2}LOW 48/);
      assert.match(frame, /^CRITICAL +\d+\.\d .*vale-flow\.test +1,060 +1 +1,060 +81 KB/m);
      assert.match(frame, /1\/50$/m);
      ui.stdin.write("j");
      await pause();
      assert.match(plain(ui.lastFrame()), /2\/50$/m);
      ui.stdin.write("\r");
      await pause();
      frame = plain(ui.lastFrame());
      assert.match(frame, /^vale-flow\.test$/m);
      assert.match(frame, /payload_types +█+ +1\.000 +4 +4\.000/);
      assert.match(frame, /Evidence:/);
      ui.stdin.write("\x1b");
      await pause(300);
      assert.match(plain(ui.lastFrame()), /2\/50$/m);
      ui.stdin.write("/");
      await pause();
      for (const c of "hol") {
        ui.stdin.write(c);
        await pause(30);
      }
      assert.match(plain(ui.lastFrame()), /^\/hol/m);
      ui.stdin.write("\r");
      await pause();
      frame = plain(ui.lastFrame());
      assert.match(frame, /filter: "hol"/);
      assert.match(frame, /1\/1$/m);
      ui.stdin.write("\x1b");
      await pause(300);
      ui.stdin.write("s");
      await pause();
      assert.match(plain(ui.lastFrame()), /sort: queries/);
      ui.stdin.write("f");
      await pause();
      frame = plain(ui.lastFrame());
      assert.match(frame, /severity: MEDIUM\+/);
      assert.match(frame, /1\/2$/m);
      ui.stdin.write("r");
      await pause();
      assert.match(plain(ui.lastFrame()), /Runs \(Enter shows one/);
      ui.stdin.write("\x1b");
      await pause(300);
      ui.stdin.write("?");
      await pause();
      assert.match(plain(ui.lastFrame()), /Names are shown escaped/);
    } finally {
      ui.unmount();
      reader.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "dashboard screen: hostile names are escaped and cut, the layout holds; a new run appears on its own",
  ...sanitize,
  fn: async () => {
    const dir = await workspace(hostile);
    const reader = ResultsReader.open(`${dir}/plumbum.db`);
    const ui = render(
      <Dashboard data={new DashboardData(reader)} workspace={dir} cols={90} rows={20} color={false} pollMs={50} />,
    );
    try {
      await pause();
      const frame = plain(ui.lastFrame());
      assert.match(frame, /\\x1b\]0;pwn\\x07\.test/);
      assert.doesNotMatch(frame, /[\x00-\x08\x0b-\x1f\x7f\u202e]/);
      for (const line of frame.split("\n")) assert.ok(line.length <= 90, line);
      ui.stdin.write("\r");
      await pause();
      assert.doesNotMatch(plain(ui.lastFrame()), /[\x00-\x08\x0b-\x1f\x7f\u202e]/);
      // A writer completes another run: the screen follows the newest.
      assert.equal((await runCli(["apply", sample, "--dir", dir])).code, 0);
      ui.stdin.write("\x1b");
      await pause(600);
      assert.match(plain(ui.lastFrame()), /run #2 \(complete\)/);
    } finally {
      ui.unmount();
      reader.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("dashboard: without a terminal it refuses in one line, exit 1", async () => {
  const dir = await workspace(sample);
  try {
    const r = await runCli(["dashboard", "--dir", dir]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^plumbum: the dashboard needs a terminal .*use plumbum show, explain and export\n$/);
    const t = await runCli(["stream", "--read", sample, "--tui", "--dir", dir]);
    assert.equal(t.code, 1);
    assert.match(t.stderr, /--tui needs a terminal/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

const hasTmux = new Deno.Command("sh", { args: ["-c", "command -v tmux"], stdout: "null" }).outputSync().success;

/** A tmux session running `plumbum ARGS` in a terminal of its own; the shell prints the exit code after. */
class Terminal {
  readonly name = `plumbum-test-${Deno.pid}-${Math.floor(Math.random() * 1e6)}`;

  constructor(args: string[], o: { cols?: number; rows?: number } = {}) {
    const quoted = args.map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(" ");
    const cmd =
      `NO_COLOR=1 '${Deno.execPath()}' run --quiet --allow-read --allow-write --allow-env --allow-sys '${cli}' ${quoted}; echo EXIT=$?; sleep 120`;
    const r = new Deno.Command("tmux", {
      args: ["new-session", "-d", "-s", this.name, "-x", String(o.cols ?? 120), "-y", String(o.rows ?? 30), cmd],
    }).outputSync();
    if (!r.success) throw new Error(new TextDecoder().decode(r.stderr));
  }

  screen(): string {
    return new TextDecoder().decode(
      new Deno.Command("tmux", { args: ["capture-pane", "-p", "-t", this.name], stdout: "piped" }).outputSync().stdout,
    );
  }

  async keys(...keys: string[]): Promise<void> {
    for (const k of keys) {
      new Deno.Command("tmux", { args: ["send-keys", "-t", this.name, k] }).outputSync();
      await pause(250);
    }
  }

  async until(re: RegExp, ms = 20_000): Promise<string> {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      const s = this.screen();
      if (re.test(s)) return s;
      await pause(100);
    }
    throw new Error(`timed out waiting for ${re}; screen:\n${this.screen()}`);
  }

  close(): void {
    new Deno.Command("tmux", { args: ["kill-session", "-t", this.name], stderr: "null" }).outputSync();
  }
}

function tmuxTest(name: string, fn: () => Promise<void>): void {
  Deno.test({ name: hasTmux ? name : `${name} (skipped: needs tmux)`, ignore: !hasTmux, ...sanitize, fn });
}

tmuxTest(
  "dashboard in tmux: table, Enter → explanation, filter, sort, runs, q exits 0 and restores the screen",
  async () => {
    const dir = await workspace(sample);
    assert.equal((await runCli(["apply", sample, "--dir", dir])).code, 0);
    const t = new Terminal(["dashboard", "--dir", dir]);
    try {
      await t.until(/1\/50/);
      let s = t.screen();
      assert.match(s, /^CRITICAL +\d+\.\d .*vale-flow\.test/m);
      await t.keys("j", "Enter");
      s = await t.until(/Components:/);
      assert.match(s, /^vale-flow\.test$/m);
      await t.keys("NPage");
      s = await t.until(/Earlier runs:/);
      const earlier = JSON.parse(
        (await runCli(["explain", "vale-flow.test", "--run", "1", "--json", "--dir", dir])).stdout,
      );
      assert.match(s, new RegExp(`#1 +${earlier.score.toFixed(1).replace(".", "\\.")} +CRITICAL`));
      await t.keys("Escape");
      await pause(300);
      await t.keys("/", "v", "a", "l", "e", "Enter");
      s = await t.until(/filter: "vale"/);
      assert.match(s, /1\/1/);
      await t.keys("Escape");
      await pause(300);
      await t.keys("s", "s");
      await t.until(/sort: capacity/);
      await t.keys("r");
      await t.until(/Runs \(Enter shows one/);
      await t.keys("j", "Enter");
      await t.until(/run #1 \(complete\)/);
      await t.keys("q");
      s = await t.until(/EXIT=\d+/);
      assert.match(s, /EXIT=0/);
      // The alternate screen is gone: nothing of the table is left.
      assert.doesNotMatch(s, /SEVERITY SCORE/);
    } finally {
      t.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
);

tmuxTest(
  "dashboard in tmux: hostile names escaped with the layout intact; an empty workspace is a clear message",
  async () => {
    const dir = await workspace(hostile);
    const empty = await Deno.makeTempDir({ prefix: "plumbum-dash-empty-" });
    const t = new Terminal(["dashboard", "--dir", dir], { cols: 100, rows: 20 });
    try {
      const s = await t.until(/1\/3/);
      assert.match(s, /\\x1b\]0;pwn\\x07\.test/);
      for (const line of s.split("\n")) assert.ok(line.length <= 100, line);
      await t.keys("Enter");
      await t.until(/Components:/);
      await t.keys("q");
      assert.match(await t.until(/EXIT=\d+/), /EXIT=0/);
    } finally {
      t.close();
    }
    const e = new Terminal(["dashboard", "--dir", empty]);
    try {
      const s = await e.until(/EXIT=\d+/);
      assert.match(s, /plumbum: no results in .* yet: run `plumbum apply CAPTURE` first/);
      assert.match(s, /EXIT=1/);
    } finally {
      e.close();
      await Deno.remove(dir, { recursive: true });
      await Deno.remove(empty, { recursive: true });
    }
  },
);

tmuxTest(
  "stream --read --tui: the dashboard over a live run, its figures in the header; q stops and stores it",
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "plumbum-dash-tui-" });
    const t = new Terminal(["stream", "--read", sample, "--speed", "1", "--window", "5", "--tui", "--dir", dir]);
    try {
      const s = await t.until(/live: .*pkt\/s/);
      assert.match(s, /run #1 \(running live\)/);
      await t.keys("q");
      const after = await t.until(/EXIT=\d+/);
      assert.match(after, /EXIT=0/);
      assert.match(after, /Stored run #1: \d+ packets/);
      const run = JSON.parse((await runCli(["runs", "--json", "--dir", dir])).stdout).runs[0];
      assert.equal(run.status, "complete");
    } finally {
      t.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
);

tmuxTest(
  "dashboard beside a stream in another process: the live run's figures from its window commits, redrawn as they come",
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "plumbum-dash-live-" });
    const stream = new Deno.Command(Deno.execPath(), {
      args: cliArgs(["stream", "--read", sample, "--speed", "1", "--window", "2", "-q", "--dir", dir]),
      stdout: "null",
      stderr: "null",
    }).spawn();
    try {
      // The run exists once the stream has started.
      for (let i = 0; i < 100; i++) {
        const r = await runCli(["runs", "--json", "--dir", dir]);
        if (r.code === 0 && JSON.parse(r.stdout).runs.length > 0) break;
        await pause(100);
      }
      const t = new Terminal(["dashboard", "--dir", dir], { cols: 150 });
      try {
        const first = await t.until(/live: [\d,]+ pkt\/s, drops -, (\d+) windows/);
        assert.match(first, /run #1 \(running live\)/);
        const n = Number(first.match(/(\d+) windows/)![1]);
        // A later window's commit shows without a key pressed.
        const later = await t.until(/live: [\d,]+ pkt\/s, drops -, \d+ windows/, 20_000).then(async () => {
          for (let i = 0; i < 200; i++) {
            const s = t.screen();
            const m = s.match(/drops -, (\d+) windows/);
            if (m !== null && Number(m[1]) > n) return s;
            await pause(100);
          }
          return t.screen();
        });
        assert.ok(Number(later.match(/drops -, (\d+) windows/)?.[1] ?? n) > n, later);
        await t.keys("q");
      } finally {
        t.close();
      }
    } finally {
      try {
        stream.kill("SIGKILL");
      } catch { /* ended */ }
      await stream.status;
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test({
  name: "dashboard: a database deleted under it is said on screen; the one made in its place is read",
  ...sanitize,
  fn: () =>
    withScreen(async (ui, dir) => {
      assert.match(plain(ui.lastFrame()), /sample\.pcap/);
      await Deno.remove(`${dir}/plumbum.db`);
      await pause(300);
      assert.match(
        plain(ui.lastFrame()),
        /^showing what was read before: the database was deleted or replaced and cannot be read now \(.*plumbum\.db/m,
      );
      const lab = fromFileUrl(new URL("../fixtures/lab/lab-short.pcap", import.meta.url));
      assert.equal((await runCli(["apply", lab, "--dir", dir])).code, 0);
      await pause(300);
      const frame = plain(ui.lastFrame());
      assert.doesNotMatch(frame, /deleted or replaced/);
      assert.match(frame, /lab-short\.pcap/);
      assert.doesNotMatch(frame, /sample\.pcap/);
    }),
});

Deno.test({
  name: "dashboard: p writes the run's HTML report into the workspace and says where",
  ...sanitize,
  fn: () =>
    withScreen(async (ui, dir) => {
      ui.stdin.write("p");
      await pause(500);
      assert.match(plain(ui.lastFrame()), /wrote .*\/reports\/run-1\.html \(0\.\d\d MB\): open it in a browser/);
      const html = await Deno.readTextFile(`${dir}/reports/run-1.html`);
      assert.match(html, /^<!doctype html>/);
      assert.match(html, /lime-hollow\.test/);
      ui.stdin.write("j");
      await pause();
      assert.doesNotMatch(plain(ui.lastFrame()), /wrote /, "the note goes with the next key");
    }),
});

Deno.test({
  name: "dashboard: c on an explanation carves the domain from the run's sources and keeps the carving with the run",
  ...sanitize,
  fn: () =>
    withScreen(async (ui, dir) => {
      ui.stdin.write("\r");
      await pause();
      ui.stdin.write("c");
      let frame = "";
      // The carving is kept: the explanation on screen shows it among the evidence when the store changes.
      for (let i = 0; i < 50 && !/^ {2}payload +(up|down) /m.test(frame); i++) {
        await pause(100);
        frame = plain(ui.lastFrame());
      }
      assert.match(frame, /^ {2}payload +up [\d.]+ KB, iodine base128 \(iodine\), 100 % decoded/m);
      const e = await runCli(["explain", "lime-hollow.test", "--json", "--dir", dir]);
      assert.ok(JSON.parse(e.stdout).evidence.payload.streams.length >= 1);
    }),
});

/** The dashboard (160×30) over a fresh workspace of the sample, drawn once, handed to `fn`; all removed after. */
async function withScreen(fn: (ui: ReturnType<typeof render>, dir: string) => Promise<void>): Promise<void> {
  const dir = await workspace(sample);
  const data = new DashboardData(ResultsReader.open(`${dir}/plumbum.db`));
  const ui = render(<Dashboard data={data} workspace={dir} cols={160} rows={30} color={false} pollMs={50} />);
  try {
    await pause();
    await fn(ui, dir);
  } finally {
    ui.unmount();
    data.close();
    await Deno.remove(dir, { recursive: true });
  }
}
