/**
 * `deno task eval`: `plumbum eval` over every labeled set this checkout can
 * see — the lab's recordings in the repository always, and the shared
 * corpus and public captures beside it (`../shared/`) when they are there.
 * A set that is absent is said and skipped, never an error. Arguments are
 * passed on to `plumbum eval` (`--json`, `--window 60`, `--weights …`);
 * `PLUMBUM_SHARED` names another shared folder.
 *
 *   deno task eval [EVAL OPTIONS…]
 *
 * @module
 */
import { main } from "../src/cli/main.ts";

const root = new URL("../", import.meta.url).pathname;
const shared = (Deno.env.get("PLUMBUM_SHARED") ?? `${root}../shared`).replace(/\/$/, "");
const SETS = [
  { path: `${root}fixtures/lab/labels.tsv`, what: "the lab's recordings" },
  { path: `${shared}/corpus/labels.tsv`, what: "the shared corpus" },
  { path: `${shared}/corpus/public/labels.tsv`, what: "the public tool captures" },
];

const labels: string[] = [];
for (const s of SETS) {
  try {
    Deno.statSync(s.path);
    labels.push("--labels", s.path);
  } catch {
    console.error(`eval: ${s.what} (${s.path}) is not here: skipped`);
  }
}
Deno.exit(await main(["eval", ...labels, ...Deno.args]));
