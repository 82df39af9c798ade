/**
 * Build the executables (`deno compile`) from one list: the two programs,
 * their permissions, the worker modules each carries (read from
 * src/workers.ts, the manifest the bundle uses too) and the targets.
 *
 *   deno task compile             dist/plumbum, dist/plumbum-mcp for this machine
 *   deno task compile:all         both for every target, in dist/TARGET-NAME/
 *   … --dry-run                   print the commands instead
 *
 * @module
 */

const V8 = "--v8-flags=--max-semi-space-size=4,--heap-growing-percent=50";

/** The programs: entry point, name and the permissions the compiled file runs with. */
const PROGRAMS = [
  {
    name: "plumbum",
    entry: "cli.ts",
    // Every command's: reading, writing, the environment, libpcap (stream -i), sockets (stream --dnstap).
    allow: ["--allow-read", "--allow-write", "--allow-env", "--allow-sys", "--allow-ffi", "--allow-net"],
    workers: true,
  },
  { name: "plumbum-mcp", entry: "mcp.ts", allow: ["--allow-read", "--allow-env"], workers: false },
];

/** Targets of `--all`, with the folder each builds into. */
const TARGETS: [target: string, folder: string, exe: string][] = [
  ["x86_64-unknown-linux-gnu", "linux-x86_64", ""],
  ["aarch64-unknown-linux-gnu", "linux-aarch64", ""],
  ["x86_64-apple-darwin", "macos-x86_64", ""],
  ["aarch64-apple-darwin", "macos-aarch64", ""],
  ["x86_64-pc-windows-msvc", "windows-x86_64", ".exe"],
];

/** The worker modules src/workers.ts lists, as paths from the project's root. */
export function workerModules(manifest: string): string[] {
  return [...manifest.matchAll(/import\("\.\/([^"]+)"\)/g)].map((m) => `src/${m[1]}`);
}

/** The `deno compile` argument lists to run. */
export function compileCommands(all: boolean, workers: string[]): string[][] {
  const builds = all ? TARGETS : [[null, "", ""] as const];
  const out: string[][] = [];
  for (const [target, folder, exe] of builds) {
    for (const p of PROGRAMS) {
      out.push([
        "compile",
        ...(target === null ? [] : ["--target", target]),
        V8,
        ...p.allow,
        ...(p.workers ? workers.flatMap((w) => ["--include", w]) : []),
        "-o",
        `dist/${folder === "" ? "" : `${folder}/`}${p.name}${exe}`,
        p.entry,
      ]);
    }
  }
  return out;
}

if (import.meta.main) {
  const all = Deno.args.includes("--all"), dry = Deno.args.includes("--dry-run");
  const unknown = Deno.args.filter((a) => a !== "--all" && a !== "--dry-run");
  if (unknown.length > 0) {
    console.error(`tools/compile.ts: unknown argument ${unknown[0]}; it takes --all and --dry-run`);
    Deno.exit(1);
  }
  const root = new URL("../", import.meta.url);
  const workers = workerModules(Deno.readTextFileSync(new URL("src/workers.ts", root)));
  for (const args of compileCommands(all, workers)) {
    console.error(`deno ${args.join(" ")}`);
    if (dry) continue;
    const r = await new Deno.Command(Deno.execPath(), { args, cwd: root, stdout: "inherit", stderr: "inherit" })
      .output();
    if (!r.success) Deno.exit(r.code || 1);
  }
}
