/**
 * The working directory (`.plumbum/`, or `--dir` / `PLUMBUM_DIR`): where
 * config.hcl and plumbum.db live.
 *
 * @module
 */
import { envVar } from "../env.ts";
import { ConfigError, loadConfig, type PlumbumConfig } from "../config/config.ts";
import { SchemaTooOldError, StoreError } from "../store/errors.ts";
import { ResultsReader } from "../store/reader.ts";
import { Store } from "../store/store.ts";
import { isLiveConfig, type RunRecord } from "../store/types.ts";
import { escapeTerminal } from "../present/escape.ts";
import { err, UsageError } from "./common.ts";

/** Paths of a workspace. */
export interface Workspace {
  dir: string;
  configPath: string;
  dbPath: string;
}

/** Resolve the workspace from `--dir`, then PLUMBUM_DIR, then `.plumbum`. */
export function workspace(dir?: string): Workspace {
  const d = (dir ?? envVar("PLUMBUM_DIR") ?? ".plumbum").replace(/\/+$/, "") || "/";
  return { dir: d, configPath: `${d}/config.hcl`, dbPath: `${d}/plumbum.db` };
}

/** Load the workspace's config; config errors become usage errors (exit 1). */
export async function workspaceConfig(ws: Workspace): Promise<PlumbumConfig> {
  try {
    return await loadConfig(ws.configPath);
  } catch (e) {
    if (e instanceof ConfigError) throw new UsageError(e.message);
    throw e;
  }
}

/** The C2 suffixes (the command line's beside config.hcl's) and DNS ports (the command line's, else config.hcl's) of a run. */
export function runSettings(
  cfg: PlumbumConfig,
  o: { c2Domains?: string[]; dnsPorts?: number[] },
): { c2Domains: string[]; dnsPorts: number[] } {
  return { c2Domains: [...new Set([...(o.c2Domains ?? []), ...cfg.c2Domains])], dnsPorts: o.dnsPorts ?? cfg.dnsPorts };
}

/** Open the workspace's database: upgrading one an older Plumbum wrote is said on stderr first (it takes a while). */
export function openStore(ws: Workspace): Store {
  try {
    return Store.open(ws.dbPath, {
      onMigrate: (from, to) =>
        err(
          `Upgrading ${
            escapeTerminal(ws.dbPath)
          } from schema ${from} to ${to} (once; a large workspace takes a while) …`,
        ),
    });
  } catch (e) {
    if (e instanceof StoreError) throw new UsageError(escapeTerminal(e.message));
    throw e;
  }
}

/**
 * Open the workspace's results read-only (no write permission needed); a
 * clear error when there are none. A file an older Plumbum wrote is
 * upgraded first, through a writer, when the file can be written.
 */
export function openResults(ws: Workspace): ResultsReader {
  try {
    Deno.statSync(ws.dbPath);
  } catch {
    throw new UsageError(
      `no results in ${ws.dir}/ yet: run \`plumbum apply CAPTURE\` first (or point --dir at another workspace)`,
    );
  }
  try {
    return ResultsReader.open(ws.dbPath);
  } catch (e) {
    if (e instanceof SchemaTooOldError) {
      openStore(ws).close();
      return openResults(ws);
    }
    if (e instanceof StoreError) throw new UsageError(escapeTerminal(e.message));
    throw e;
  }
}

/** The run to read: `--run N`, or the latest complete one. */
export function selectRun(store: ResultsReader, runId?: number): RunRecord {
  const run = store.run(runId);
  if (run === null) {
    if (runId !== undefined) throw new UsageError(`there is no run #${runId}; \`plumbum runs\` lists them`);
    throw new UsageError(
      "no complete run yet: run `plumbum apply CAPTURE` first (`plumbum runs` shows interrupted ones)",
    );
  }
  // A live run's closed windows are committed as it goes: readable while it runs, and after it failed.
  if (run.status !== "complete" && !isLiveConfig(run.config)) {
    throw new UsageError(
      `run #${run.id} is ${run.status}${run.error ? ` (${run.error})` : ""}; pick a complete one from \`plumbum runs\``,
    );
  }
  return run;
}
