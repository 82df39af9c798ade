/**
 * The working directory (`.plumbum/`, or `--dir` / `PLUMBUM_DIR`): where
 * config.hcl and plumbum.db live.
 *
 * @module
 */
import { ConfigError, loadConfig, type PlumbumConfig } from "../config/config.ts";
import { SchemaTooOldError, StoreError } from "../store/errors.ts";
import { ResultsReader } from "../store/reader.ts";
import type { Store } from "../store/store.ts";
import type { RunRecord } from "../store/types.ts";
import {
  diskProblem,
  openWorkspaceStore,
  resolveWorkspace,
  type Workspace,
  WorkspaceError,
} from "../workspace/workspace.ts";
import { lookupRun } from "../present/lookup.ts";
import { escapeTerminal } from "../present/escape.ts";
import { err, UsageError } from "./common.ts";
import { checkOutput, openOutput, OutputRefused, workspaceFiles } from "../workspace/output.ts";

export type { Workspace } from "../workspace/workspace.ts";
export { runSettings } from "../workspace/workspace.ts";

/** A workspace problem in the command line's words (exit 1). */
function workspaceUsage(e: WorkspaceError): UsageError {
  const where = escapeTerminal(e.dir);
  const detail = escapeTerminal(e.detail);
  switch (e.problem) {
    case "not-a-folder":
      return new UsageError(
        `--dir: ${where} is a file, not a workspace folder; name a folder (plumbum init makes one)`,
      );
    case "disk-full":
      return new UsageError(
        `the disk holding ${where}/ is full (${detail}): free some space there and run it again; the runs stored before are still served`,
      );
    case "read-only":
      return new UsageError(
        `${where}/ cannot be written (${detail}): write runs where the workspace is writable; show, explain, export and runs still read it`,
      );
  }
}

/** Resolve the workspace from `--dir`, then PLUMBUM_DIR, then `.plumbum`. */
export function workspace(dir?: string): Workspace {
  try {
    return resolveWorkspace(dir);
  } catch (e) {
    if (e instanceof WorkspaceError) throw workspaceUsage(e);
    throw e;
  }
}

/**
 * A failure to write the workspace that is the environment's, not a bug in
 * Plumbum, as the sentence that says what to do (null when it is not one).
 */
export function storeProblem(e: unknown, ws: Workspace): UsageError | null {
  if (e instanceof WorkspaceError) return workspaceUsage(e);
  const p = diskProblem(e, ws);
  return p === null ? null : workspaceUsage(p);
}

/** Says on stderr that an older database is being upgraded. */
export function sayMigrate(ws: Workspace): (from: number, to: number) => void {
  return (from, to) =>
    err(
      `Upgrading ${escapeTerminal(ws.dbPath)} from schema ${from} to ${to} (once; a large workspace takes a while) …`,
    );
}

/** The files no output may land on: the database, SQLite's side files, the config. */
export function ownFiles(ws: Workspace): string[] {
  return workspaceFiles(ws.dir);
}

/** {@link openOutput} for the workspace `ws`, its refusals said as usage errors (exit 1). */
export function openOutputFile(path: string, ws: Workspace, option: string, what: string): Deno.FsFile {
  return refused(() => openOutput(path, ownFiles(ws), { option, what, shown: escapeTerminal(path) }));
}

/** {@link checkOutput} for the workspace `ws`, its refusals said as usage errors (exit 1). */
export function checkOutputFile(path: string, ws: Workspace, option: string, what: string): void {
  refused(() => checkOutput(path, ownFiles(ws), { option, what, shown: escapeTerminal(path) }));
}

function refused<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof OutputRefused) throw new UsageError(e.message);
    throw e;
  }
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

/**
 * A failure of opening or writing the workspace's store as the command line
 * says it: the store's own error or the environment's (a full or read-only
 * disk) as a usage error, anything else as it is.
 */
export function storeFailure(e: unknown, ws: Workspace): unknown {
  if (e instanceof StoreError) return new UsageError(escapeTerminal(e.message));
  return storeProblem(e, ws) ?? e;
}

/** Open the workspace's database: upgrading one an older Plumbum wrote is said on stderr first (it takes a while). */
export function openStore(ws: Workspace): Store {
  try {
    return openWorkspaceStore(ws, sayMigrate(ws));
  } catch (e) {
    throw storeFailure(e, ws);
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
  } catch (e) {
    // Not seen for want of permission is not "no results": the top level says which flag to add.
    if (e instanceof Deno.errors.NotCapable) throw e;
    throw new UsageError(
      `no results in ${ws.dir}/ yet: run \`plumbum apply CAPTURE\` first (or point --dir at another workspace)`,
    );
  }
  try {
    return ResultsReader.open(ws.dbPath);
  } catch (e) {
    if (e instanceof SchemaTooOldError) {
      // Upgrading writes; without write permission Deno would stop to ask (or refuse): say what to do instead.
      if (Deno.permissions.querySync({ name: "write", path: ws.dir }).state !== "granted") {
        throw new UsageError(
          `${
            escapeTerminal(ws.dbPath)
          } was written by an older Plumbum: run any plumbum command that writes it once (plumbum runs with --allow-write) to upgrade it`,
        );
      }
      openStore(ws).close();
      return openResults(ws);
    }
    if (e instanceof StoreError) throw new UsageError(escapeTerminal(e.message));
    throw e;
  }
}

/** The run to read: `--run N`, or the latest complete one. */
export function selectRun(store: ResultsReader, runId?: number): RunRecord {
  const l = lookupRun(store, runId);
  switch (l.kind) {
    case "found":
      return l.run;
    case "missing":
      throw new UsageError(`there is no run #${l.id}; \`plumbum runs\` lists them`);
    case "none":
      throw new UsageError(
        "no complete run yet: run `plumbum apply CAPTURE` first (`plumbum runs` shows interrupted ones)",
      );
    case "unreadable":
      throw new UsageError(
        `run #${l.run.id} is ${l.run.status}${
          l.run.error ? ` (${l.run.error})` : ""
        }; pick a complete one from \`plumbum runs\``,
      );
  }
}
