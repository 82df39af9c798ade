/**
 * `deno task bench:dashboard`: the dashboard in a real terminal (tmux), on
 * the bench capture's workspace and on one of 100 000 domains (both made by
 * bench/mcp.ts; run `deno task bench:mcp` first). It times start to first
 * frame (the table's position counter on screen) and key to frame (`j`/`k`
 * until the counter moves, and `s` until the new sort shows), and reads the
 * process's peak RSS. The screen is read with `tmux capture-pane` every
 * 5 ms, so figures include up to that much polling. Nothing asserted.
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
  const cmd = `exec '${Deno.execPath()}' run --quiet --v8-flags=--max-semi-space-size=4,--heap-growing-percent=50 ` +
    `--allow-read --allow-env '${cli}' dashboard --dir '${dir}'`;
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
    console.log(
      `${label}: ${total} domains; first frame ${startup.toFixed(0)} ms; peak RSS ${browsing.toFixed(0)} MB browsing, ${
        rss.toFixed(0)
      } MB after sorting every way`,
    );
    console.log(`  key to frame (j/k)   p50 ${pct(moves, 0.5).toFixed(0)} ms  p99 ${pct(moves, 0.99).toFixed(0)} ms`);
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
