/** The README's Permissions table, checked on a script (cli.ts, or the single-file bundle). */
import assert from "node:assert/strict";
import { fromFileUrl } from "./paths.ts";

const sample = fromFileUrl(new URL("../../fixtures/sample.pcap", import.meta.url));

/** `plumbum ARGS` run by `deno run FLAGS script` (cli.ts, or a bundle): exit code and stderr. */
async function withFlags(script: string, flags: string[], args: string[], env: Record<string, string> = {}) {
  const o = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", ...flags, script, ...args],
    env: { NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).output();
  return { code: o.code, stderr: new TextDecoder().decode(o.stderr) };
}

/**
 * The README's Permissions table, checked on `script` over the workspace `dir` (holding a run of the sample):
 * enough is enough, one flag less is one sentence naming it, exit 1.
 */
export async function checkPermissionTable(script: string, dir: string): Promise<void> {
  const read = ["--allow-read"];
  const writer = ["--allow-read", "--allow-write", "--allow-env", "--allow-sys"];
  for (const cmd of [["show", "lime-hollow.test"], ["runs"], ["export"], ["explain", "lime-hollow.test"]]) {
    const ok = await withFlags(script, read, [...cmd, "--dir", dir]);
    assert.equal(ok.code, 0, `${cmd[0]} with --allow-read: ${ok.stderr}`);
    const denied = await withFlags(script, [], [...cmd, "--dir", dir]);
    assert.equal(denied.code, 1, `${cmd[0]} without flags: ${denied.stderr}`);
    assert.match(denied.stderr, /^plumbum: Deno was not given read access .*: run again with --allow-read/);
  }
  const fresh = Deno.makeTempDirSync();
  try {
    assert.equal((await withFlags(script, writer, ["apply", sample, "--dir", fresh])).code, 0);
    for (const [flags, missing] of [[[], "(read|write)"], [["--allow-read"], "write"]] as const) {
      const r = await withFlags(script, [...flags], ["apply", sample, "--dir", `${fresh}/other`]);
      assert.equal(r.code, 1, `apply with ${flags.join(" ") || "no flags"}: ${r.stderr}`);
      assert.match(r.stderr, new RegExp(`^plumbum: Deno was not given ${missing} access .*--allow-${missing}`));
      assert.doesNotMatch(r.stderr, /bug|\.ts:\d+|\.js:\d+/);
    }
  } finally {
    Deno.removeSync(fresh, { recursive: true });
  }
  // Listening for dnstap takes net access, a Unix socket too: without it, one sentence naming the flag.
  const sockets = Deno.makeTempDirSync();
  try {
    const r = await withFlags(script, writer, ["stream", "--dnstap", `unix:${sockets}/s.sock`, "--dir", dir]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /^plumbum: Deno was not given net access .*: run again with --allow-net/m);
  } finally {
    Deno.removeSync(sockets, { recursive: true });
  }
  // The dashboard reads its environment (the terminal): without --allow-env it names that flag.
  const dash = await withFlags(script, read, ["dashboard", "--dir", dir]);
  assert.equal(dash.code, 1, dash.stderr);
  assert.match(dash.stderr, /--allow-env|needs a terminal/);
  assert.doesNotMatch(dash.stderr, /bug/);
}
