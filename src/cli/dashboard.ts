/**
 * `plumbum dashboard`: the terminal UI over a workspace (src/dashboard/),
 * loaded only when asked for.
 *
 * @module
 */

import { envVar } from "../env.ts";
import { UsageError } from "./common.ts";
import { openResults, workspace } from "./workspace.ts";

/** Load React's production build (NODE_ENV=production), when the environment may be set. */
export function productionReact(): void {
  try {
    if (envVar("NODE_ENV") === undefined) Deno.env.set("NODE_ENV", "production");
  } catch { /* no --allow-env: the development build works too, only slower */ }
}

/** `plumbum dashboard`. */
export async function runDashboard(o: { dir?: string }): Promise<number> {
  // React picks its build when first loaded: the production one, not the development one (checks on every render).
  productionReact();
  const { showDashboard, terminalProblem } = await import("../dashboard/run.tsx");
  const why = terminalProblem(envVar("TERM"));
  if (why !== null) {
    throw new UsageError(
      `the dashboard needs a terminal (${why}): for scripts and pipes use plumbum show, explain and export`,
    );
  }
  const ws = workspace(o.dir);
  await showDashboard(openResults(ws), { workspace: ws.dir, color: envVar("NO_COLOR") === undefined });
  return 0;
}
