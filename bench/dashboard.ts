/**
 * `deno task bench:dashboard`: the dashboard in a real terminal (tmux), on
 * the bench capture's workspace and on one of 100 000 domains (both made by
 * bench/mcp.ts; run `deno task bench:mcp` first). It times start to first
 * frame (the table's position counter on screen) and key to frame: inside
 * the process (`PLUMBUM_TRACE_KEYS`: from a key's bytes to the frame
 * written) and as seen on the screen (`j`/`k` until the counter moves, `s`
 * until the new sort shows; the screen is read with `tmux capture-pane`
 * every 5 ms, so these include tmux and the polling). It reads the
 * process's peak RSS. Nothing asserted.
 *
 *   deno task bench:dashboard [--keys N]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";

const { values: o } = parseArgs({ args: Deno.args, options: { keys: { type: "string", default: "40" } } });
const here = fileURLToPath(new URL(".", import.meta.url));
const outDir = Deno.env.get("PLUMBUM_BENCH_OUT") ?? `${here}out`;
const cli = fileURLToPath(new URL("../cli.ts", import.meta.url));
const session = `plumbum-bench-${Deno.pid}`;

function tmux(...args: string[]): string {
  const r = new Deno.Command("tmux", { args, stdout: "piped", stderr: "piped" }).outputSync();
  return new TextDecoder().decode(r.stdout);
}

async function until(test: (screen: string) => boolean, ms = 30_000): Promise<string> {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    const s = tmux("capture-pane", "-p", "-t", session);
    if (test(s)) return s;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`timed out; screen:\n${tmux("capture-pane", "-p", "-t", session)}`);
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))];
}

async function measure(label: string, dir: string): Promise<void> {
  const trace = Deno.makeTempFileSync({ prefix: "plumbum-keys-" });
  const cmd = `PLUMBUM_TRACE_KEYS='${trace}' exec '${Deno.execPath()}' run --quiet ` +
    `--v8-flags=--max-semi-space-size=4,--heap-growing-percent=50 --allow-read --allow-env --allow-write='${trace}' ` +
    `'${cli}' dashboard --dir '${dir}'`;
  const t0 = performance.now();
  tmux("new-session", "-d", "-s", session, "-x", "140", "-y", "40", cmd);
  try {
    const first = await until((s) => /\d+\/\d+\s*$/m.test(s));
    const startup = performance.now() - t0;
    const total = first.match(/(\d+)\/(\d+)\s*$/m)![2];
    const pid = tmux("list-panes", "-t", session, "-F", "#{pane_pid}").trim();
    const moves: number[] = [];
    let at = 1;
    for (let i = 0; i < Number(o.keys); i++) {
      const down = i % 2 === 0;
      const s = performance.now();
      tmux("send-keys", "-t", session, down ? "j" : "k");
      at += down ? 1 : -1;
      await until((x) => new RegExp(`\\b${at}/${total}\\s*$`, "m").test(x));
      moves.push(performance.now() - s);
    }
    const hwm = () => Number(Deno.readTextFileSync(`/proc/${pid}/status`).match(/VmHWM:\s+(\d+)/)?.[1] ?? 0) / 1024;
    const browsing = hwm();
    const sorts: number[] = [];
    for (const next of ["queries", "capacity", "name", "score"]) {
      const s = performance.now();
      tmux("send-keys", "-t", session, "s");
      await until((x) => x.includes(`sort: ${next}`) && /1\/\d+\s*$/m.test(x), 60_000);
      sorts.push(performance.now() - s);
    }
    const rss = hwm();
    // Quit, so the dashboard writes its own key-to-frame times (no tmux polling in them).
    tmux("send-keys", "-t", session, "q");
    for (let i = 0; i < 100 && Deno.readTextFileSync(trace).trim() === ""; i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const inside = Deno.readTextFileSync(trace).trim().split("\n").filter((l) => l !== "").map(Number).slice(
      0,
      moves.length,
    );
    Deno.removeSync(trace);
    console.log(
      `${label}: ${total} domains; first frame ${startup.toFixed(0)} ms; peak RSS ${browsing.toFixed(0)} MB browsing, ${
        rss.toFixed(0)
      } MB after sorting every way`,
    );
    console.log(
      `  key to frame (j/k), inside the process   p50 ${pct(inside, 0.5).toFixed(1)} ms  p99 ${
        pct(inside, 0.99).toFixed(1)
      } ms`,
    );
    console.log(
      `  key to frame (j/k), seen on the screen   p50 ${pct(moves, 0.5).toFixed(0)} ms  p99 ${
        pct(moves, 0.99).toFixed(0)
      } ms (with tmux's send and capture)`,
    );
    console.log(
      `  sort (s): ${
        sorts.map((x, i) => `${["queries", "capacity", "name", "score"][i]} ${x.toFixed(0)} ms`).join(", ")
      }`,
    );
  } finally {
    tmux("kill-session", "-t", session);
  }
}

for (
  const [label, dir] of [["bench capture's workspace", `${outDir}/mcp-bench`], [
    "100 000 domains",
    `${outDir}/mcp-100000`,
  ]]
) {
  try {
    Deno.statSync(`${dir}/plumbum.db`);
  } catch {
    console.log(`${dir}/plumbum.db is missing: deno task bench:mcp makes it`);
    continue;
  }
  await measure(label, dir);
}
