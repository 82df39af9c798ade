/** Run the real `plumbum` CLI in a child process. */
import { fromFileUrl } from "./paths.ts";

const cli = fromFileUrl(new URL("../../cli.ts", import.meta.url));

/** Result of a CLI run. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The arguments of `deno` that run `plumbum ARGS` as the README says (with FFI for `stream -i` when asked). */
export function cliArgs(args: string[], o: { ffi?: boolean; net?: boolean } = {}): string[] {
  return [
    "run",
    "--quiet",
    "--v8-flags=--max-semi-space-size=4,--heap-growing-percent=50",
    "--allow-read",
    "--allow-write",
    "--allow-env",
    "--allow-sys",
    ...(o.ffi ? ["--allow-ffi"] : []),
    ...(o.net ? ["--allow-net"] : []),
    cli,
    ...args,
  ];
}

/** Run `plumbum ARGS` with optional stdin bytes, in `cwd`, with extra env. */
export async function runCli(
  args: string[],
  stdin?: Uint8Array,
  opts: { cwd?: string; env?: Record<string, string>; ffi?: boolean; net?: boolean } = {},
): Promise<CliResult> {
  const cmd = new Deno.Command(Deno.execPath(), {
    args: cliArgs(args, { ffi: opts.ffi, net: opts.net }),
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    cwd: opts.cwd,
    env: { NO_COLOR: "1", ...opts.env },
  });
  const child = cmd.spawn();
  if (stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(stdin);
    await w.close();
  }
  const o = await child.output();
  const dec = new TextDecoder();
  return { code: o.code, stdout: dec.decode(o.stdout), stderr: dec.decode(o.stderr) };
}
