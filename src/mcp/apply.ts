/**
 * `plumbum_apply`'s work: one capture into a new run of the workspace, as
 * `plumbum apply FILE --dir DIR` does (a new workspace is initialized with
 * the defaults). Loaded only by a server started with `--allow-apply`.
 *
 * @module
 */

import { openWorkspaceStore, prepareWorkspace } from "../workspace/workspace.ts";
import type { OpenedInput } from "../ingest/source.ts";
import { applyFiles } from "../run/apply.ts";

/** Analyze `input` (opened and proved under the root by the server) into the workspace `dir`; resolves with the new run's id. */
export async function applyCapture(dir: string, input: OpenedInput): Promise<number> {
  let store;
  try {
    const { ws, cfg, model, initialized: _, ...settings } = await prepareWorkspace({ dir });
    store = openWorkspaceStore(ws);
    const { run } = await applyFiles(store, [input], {
      model,
      ...settings,
      storeTransactions: cfg.storeTransactions,
    });
    return run.id;
  } finally {
    store?.close();
    try {
      input.file.close();
    } catch {
      // Closed by the reader already.
    }
  }
}
