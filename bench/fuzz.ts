/**
 * `deno task fuzz`: every capture of the corpus (`../shared/corpus/` and
 * its `public/`, or the files named) corrupted by `editcap -E 0.01` at N
 * seeds and cut at N random points, each decoded by the same reader
 * `apply` uses. A decode may only give stats or an InputError: any other
 * exception, or a process past the memory bound, fails the pass (exit 1).
 * A hang shows as a pass that does not end.
 *
 *   deno task fuzz [--seeds N] [--max-rss MB] [FILES…]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { ingestFile, InputError } from "../src/ingest/source.ts";

const { values: o, positionals } = parseArgs({
  args: Deno.args,
  allowPositionals: true,
  options: { seeds: { type: "string", default: "100" }, "max-rss": { type: "string", default: "400" } },
});
const seeds = Number(o.seeds);
const maxRss = Number(o["max-rss"]) * 1024 * 1024;
const shared = fileURLToPath(new URL("../../shared/corpus/", import.meta.url));

function corpus(): string[] {
  const out: string[] = [];
  for (const dir of [shared, `${shared}public/`]) {
    try {
      for (const e of Deno.readDirSync(dir)) {
        if (e.isFile && /\.(pcap|pcapng)$/.test(e.name)) out.push(dir + e.name);
      }
    } catch { /* absent */ }
  }
  return out.sort();
}

const files = positionals.length > 0 ? positionals : corpus();
if (files.length === 0) {
  console.error(`no captures: name some, or put the corpus at ${shared}`);
  Deno.exit(1);
}
const tmp = Deno.makeTempDirSync({ prefix: "plumbum-fuzz-" });
let decoded = 0, refused = 0, failures = 0, peak = 0;
/** A small deterministic generator (cut points must be the same run after run). */
let state = 0x9e3779b9;
const random = () => {
  state ^= state << 13;
  state ^= state >>> 17;
  state ^= state << 5;
  return (state >>> 0) / 4294967296;
};

async function decode(label: string, path: string): Promise<void> {
  try {
    await ingestFile(path, { onTransaction: () => {} });
    decoded++;
  } catch (e) {
    if (e instanceof InputError) refused++;
    else {
      failures++;
      console.error(`FAIL ${label}: ${(e as Error)?.stack ?? e}`);
    }
  }
  const rss = Deno.memoryUsage().rss;
  if (rss > peak) peak = rss;
  if (rss > maxRss) {
    failures++;
    console.error(`FAIL ${label}: RSS ${(rss / 1048576).toFixed(0)} MB over ${o["max-rss"]} MB`);
  }
}

try {
  for (const file of files) {
    const name = file.split("/").pop()!;
    const bytes = Deno.readFileSync(file);
    for (let seed = 1; seed <= seeds; seed++) {
      const out = `${tmp}/e.${name}`;
      const r = new Deno.Command("editcap", {
        args: ["-E", "0.01", "--seed", String(seed), file, out],
        stdout: "null",
        stderr: "null",
      }).outputSync();
      if (r.success) await decode(`${name} editcap -E 0.01 --seed ${seed}`, out);
      const cut = Math.floor(random() * bytes.length);
      Deno.writeFileSync(`${tmp}/t.${name}`, bytes.subarray(0, cut));
      await decode(`${name} cut at ${cut}`, `${tmp}/t.${name}`);
    }
    console.log(`${name}: ${seeds} corrupted, ${seeds} cut`);
  }
} finally {
  Deno.removeSync(tmp, { recursive: true });
}
console.log(
  `fuzz: ${decoded} decoded, ${refused} refused as input errors, ${failures} failures; peak RSS ${
    (peak / 1048576).toFixed(0)
  } MB`,
);
if (failures > 0) Deno.exit(1);
