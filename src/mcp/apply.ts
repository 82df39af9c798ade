/**
 * `plumbum_apply`'s work: one capture into a new run of the workspace, as
 * `plumbum apply FILE --dir DIR` does (a new workspace is initialized with
 * the defaults). Loaded only by a server started with `--allow-apply`.
 *
 * @module
 */

import { prepareRun } from "../cli/analyst.ts";
import { openStore } from "../cli/workspace.ts";
import { checkInput } from "../ingest/source.ts";
import { applyFiles } from "../run/apply.ts";

/** Analyze `path` into the workspace `dir`; resolves with the new run's id. */
export async function applyCapture(dir: string, path: string): Promise<number> {
  const { ws, cfg, model, ...settings } = await prepareRun({ dir });
  checkInput(path);
  const store = openStore(ws);
  try {
    const { run } = await applyFiles(store, [path], {
      model,
      ...settings,
      storeTransactions: cfg.storeTransactions,
    });
    return run.id;
  } finally {
    store.close();
  }
}
