/**
 * The bench's A/B tool runs: it exports a revision beside a copy of the
 * working tree and compares the two, in every mode, on the bundled sample.
 */
import assert from "node:assert/strict";
import { fromFileUrl } from "./helpers/paths.ts";

const root = fromFileUrl(new URL("../", import.meta.url));

function hasGit(): boolean {
  try {
    return new Deno.Command("git", { args: ["-C", root, "rev-parse", "HEAD"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

const git = hasGit();
if (!git) console.error("bench:ab test skipped: it needs git and a git checkout");

Deno.test({
  name: "bench:ab compares HEAD with the working tree in each mode and cleans up after itself",
  ignore: !git,
  fn: async () => {
    const before = [...Deno.readDirSync(Deno.env.get("TMPDIR") ?? "/tmp")].filter((e) =>
      e.name.startsWith("plumbum-ab-")
    )
      .length;
    for (const mode of ["decode", "analysis", "names"]) {
      const o = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          `${root}bench/ab.ts`,
          "--file",
          `${root}fixtures/sample.pcap`,
          "--reps",
          "2",
          "--mode",
          mode,
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const out = new TextDecoder().decode(o.stdout);
      assert.ok(o.success, new TextDecoder().decode(o.stderr));
      assert.match(out, new RegExp(`^${mode}: 2 pairs on `, "m"));
      assert.match(out, /^A \(HEAD\): median [\d.]+ ms, fastest [\d.]+ ms$/m);
      assert.match(out, /^B \(working tree\): median [\d.]+ ms, fastest [\d.]+ ms$/m);
      assert.match(out, /^B\/A per pair: median \d+\.\d{3} \(10th-90th percentile \d+\.\d{3}-\d+\.\d{3}\)$/m);
    }
    const bad = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", `${root}bench/ab.ts`, "--mode", "everything"],
      stdout: "null",
      stderr: "piped",
    }).output();
    assert.equal(bad.success, false);
    assert.match(new TextDecoder().decode(bad.stderr), /--mode must be decode, analysis or names/);
    const after =
      [...Deno.readDirSync(Deno.env.get("TMPDIR") ?? "/tmp")].filter((e) => e.name.startsWith("plumbum-ab-"))
        .length;
    assert.equal(after, before, "temporary exports are removed");
  },
});
