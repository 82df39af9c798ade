/** @jsxImportSource npm:react@19.3.1 */
/**
 * Putting the dashboard on a terminal: the alternate screen, raw keys from
 * Deno's stdin (ink's own reading of `process.stdin` gets no keys under
 * Deno), redraws on resize, and the terminal restored however it ends.
 *
 * @module
 */

import { render } from "npm:ink@8.0.0";
import { PassThrough } from "node:stream";
import process from "node:process";
import { envVar } from "../env.ts";
import type { ResultsReader } from "../store/reader.ts";
import { Dashboard, type LiveFigures } from "./app.tsx";
import { DashboardData } from "./model.ts";

/** Whether the dashboard can draw here: both ends a terminal, and one that can move the cursor. */
export function terminalProblem(term: string | undefined): string | null {
  if (!Deno.stdout.isTerminal() || !Deno.stdin.isTerminal()) return "its input and output are not a terminal";
  if (term === "dumb") return "TERM is dumb";
  return null;
}

/**
 * Key-to-frame times, when `PLUMBUM_TRACE_KEYS` names a file (for
 * `deno task bench:dashboard`): from a key's bytes arriving to the next
 * frame written, one number (ms) a line, measured inside the process.
 */
class KeyTrace {
  #at: number | null = null;
  readonly #lines: string[] = [];
  constructor(readonly path: string) {}
  key(): void {
    this.#at ??= performance.now();
  }
  frame(): void {
    if (this.#at === null) return;
    this.#lines.push((performance.now() - this.#at).toFixed(2));
    this.#at = null;
  }
  save(): void {
    Deno.writeTextFileSync(this.path, this.#lines.join("\n") + "\n");
  }
}

/** Keys from Deno's stdin, as the readable stream ink expects. */
function keyStream(
  trace: KeyTrace | null,
): PassThrough & { isTTY: boolean; setRawMode(b: boolean): void; ref(): void; unref(): void } {
  const s = new PassThrough() as PassThrough & {
    isTTY: boolean;
    setRawMode(b: boolean): void;
    ref(): void;
    unref(): void;
  };
  s.isTTY = true;
  s.setRawMode = (b: boolean) => Deno.stdin.setRaw(b, { cbreak: false });
  s.ref = () => {};
  s.unref = () => {};
  (async () => {
    try {
      for await (const chunk of Deno.stdin.readable) {
        trace?.key();
        s.write(chunk);
      }
    } catch { /* stdin closed */ }
  })();
  return s;
}

const ENTER = "\x1b[?1049h\x1b[?25l";
const LEAVE = "\x1b[?25h\x1b[?1049l";

/** Show the dashboard over `reader` until the user quits; closes it (or the reader of a database that replaced its file). */
export async function showDashboard(
  reader: ResultsReader,
  o: { workspace: string; color: boolean; live?: () => LiveFigures | null; pollMs?: number },
): Promise<void> {
  const out = (s: string) => Deno.stdout.writeSync(new TextEncoder().encode(s));
  const data = new DashboardData(reader);
  const size = () => {
    const { columns, rows } = Deno.consoleSize();
    return { cols: Math.max(40, columns), rows: Math.max(10, rows) };
  };
  const element = () => (
    <Dashboard
      data={data}
      workspace={o.workspace}
      color={o.color}
      live={o.live}
      pollMs={o.pollMs}
      {...size()}
    />
  );
  let restored = false;
  const restore = () => {
    if (restored) return;
    restored = true;
    try {
      Deno.stdin.setRaw(false);
    } catch { /* not a terminal any more */ }
    out(LEAVE);
  };
  out(ENTER);
  const onTerm = () => {
    restore();
    Deno.exit(143);
  };
  const signals: Deno.Signal[] = Deno.build.os === "windows" ? [] : ["SIGTERM", "SIGHUP"];
  for (const s of signals) Deno.addSignalListener(s, onTerm);
  const tracePath = envVar("PLUMBUM_TRACE_KEYS");
  const trace = tracePath === undefined || tracePath === "" ? null : new KeyTrace(tracePath);
  // Frames go to stdout as ever; with a trace, each write after a key is timed.
  const stdout = trace === null ? process.stdout : new Proxy(process.stdout, {
    get(target, prop, receiver) {
      if (prop === "write") {
        return (...args: unknown[]) => {
          const r = (target.write as (...a: unknown[]) => boolean).apply(target, args);
          trace.frame();
          return r;
        };
      }
      const v = Reflect.get(target, prop, receiver);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
  let app: ReturnType<typeof render> | null = null;
  const onResize = () => app?.rerender(element());
  if (Deno.build.os !== "windows") Deno.addSignalListener("SIGWINCH", onResize);
  try {
    app = render(element(), {
      stdin: keyStream(trace) as unknown as NodeJS.ReadStream,
      stdout: stdout as NodeJS.WriteStream,
      exitOnCtrlC: true,
      patchConsole: false,
      // ink draws only the last frame when CI is set, whatever the terminal: this runs only on a terminal.
      interactive: true,
      // A key shows at once (ink waits up to 1000/maxFps ms between frames: 33 ms at its default 30);
      // only the lines that changed are written.
      maxFps: 120,
      incrementalRendering: true,
    });
    await app.waitUntilExit();
  } finally {
    app?.unmount();
    restore();
    trace?.save();
    data.close();
    for (const s of signals) Deno.removeSignalListener(s, onTerm);
    if (Deno.build.os !== "windows") Deno.removeSignalListener("SIGWINCH", onResize);
  }
}
