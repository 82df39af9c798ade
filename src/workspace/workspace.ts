/**
 * The workspace (`.plumbum/`, or a folder named by the front-end): where
 * config.hcl and plumbum.db live. What every front-end needs of it — its
 * paths, making it, its config and model, its store — with failures thrown
 * as {@link WorkspaceError} (or the config's and store's own typed errors),
 * never written anywhere: the CLI, the MCP server and the dashboard each say
 * them in their own words.
 *
 * @module
 */

import { type Workspace, workspacePaths } from "./paths.ts";
import { defaultConfigText, loadConfig, type PlumbumConfig, resolveModel } from "../config/config.ts";
import type { ModelConfig } from "../analysis/model.ts";
import { StoreError } from "../store/errors.ts";
import { Store } from "../store/store.ts";
import type { RunSettings } from "../run/pipeline.ts";

export type { Workspace } from "./paths.ts";

/** What went wrong with a workspace, for a front-end to say. */
export type WorkspaceProblem =
  /** The path names a file, not a folder. */
  | "not-a-folder"
  /** The disk holding it is full. */
  | "disk-full"
  /** It cannot be written (a read-only file system or database). */
  | "read-only";

/** A workspace that cannot be used: `problem` says why, `dir` where, `detail` the system's words. */
export class WorkspaceError extends Error {
  /** A workspace problem at `dir`; `detail`: the underlying error's message. */
  constructor(readonly problem: WorkspaceProblem, readonly dir: string, readonly detail = "") {
    super(
      problem === "not-a-folder"
        ? `${dir} is a file, not a workspace folder`
        : problem === "disk-full"
        ? `the disk holding ${dir}/ is full (${detail})`
        : `${dir}/ cannot be written (${detail})`,
    );
    this.name = "WorkspaceError";
  }
}

/** The workspace at `dir`, else `PLUMBUM_DIR`, else `.plumbum` (a folder yet to be made is fine). */
export function resolveWorkspace(dir?: string): Workspace {
  const ws = workspacePaths(dir);
  let isFolder = true;
  try {
    isFolder = Deno.statSync(ws.dir).isDirectory;
  } catch {
    // A folder yet to be made is fine (init and apply make it); one that cannot be looked at is said when opened.
  }
  if (!isFolder) throw new WorkspaceError("not-a-folder", ws.dir);
  return ws;
}

/** A failure to write the workspace that is the environment's (a full disk, a read-only one), or null. */
export function diskProblem(e: unknown, ws: Workspace): WorkspaceError | null {
  const m = (e as Error)?.message ?? "";
  if (/database or disk is full|No space left on device|SQLITE_FULL|os error 28/.test(m)) {
    return new WorkspaceError("disk-full", ws.dir, m);
  }
  if (/read-only file system|readonly database|os error 30/i.test(m)) return new WorkspaceError("read-only", ws.dir, m);
  return null;
}

/**
 * Open the workspace's database for writing; `onMigrate` is told before an
 * older file is upgraded (it takes a while). Throws {@link StoreError} or a
 * {@link WorkspaceError} for a full or read-only disk.
 */
export function openWorkspaceStore(ws: Workspace, onMigrate?: (from: number, to: number) => void): Store {
  try {
    return Store.open(ws.dbPath, { onMigrate });
  } catch (e) {
    if (e instanceof StoreError) throw e;
    throw diskProblem(e, ws) ?? e;
  }
}

/**
 * Make the workspace: its folder, config.hcl with the defaults (unless one
 * is there, or `force`), and the database. Says what it did.
 */
export async function initWorkspace(
  ws: Workspace,
  o: { force?: boolean; onMigrate?: (from: number, to: number) => void } = {},
): Promise<{ wrote: boolean; existed: boolean }> {
  await Deno.mkdir(ws.dir, { recursive: true });
  let existed = false;
  try {
    await Deno.stat(ws.configPath);
    existed = true;
  } catch {
    // absent
  }
  const wrote = !existed || o.force === true;
  if (wrote) await Deno.writeTextFile(ws.configPath, defaultConfigText());
  openWorkspaceStore(ws, o.onMigrate).close();
  return { wrote, existed };
}

/** A run's settings: the given C2 suffixes beside config.hcl's; the given DNS ports, else config.hcl's; its resolvers and allow-list. */
export function runSettings(cfg: PlumbumConfig, o: { c2Domains?: string[]; dnsPorts?: number[] }): RunSettings {
  return {
    c2Domains: [...new Set([...(o.c2Domains ?? []), ...cfg.c2Domains])],
    dnsPorts: o.dnsPorts ?? cfg.dnsPorts,
    resolvers: cfg.resolvers,
    allow: cfg.allow,
  };
}

/** What a command that makes a run needs of the workspace. */
export interface RunWorkspace extends RunSettings {
  ws: Workspace;
  cfg: PlumbumConfig;
  model: ModelConfig;
  /** Whether the workspace was new and has been made with the defaults. */
  initialized: boolean;
}

/**
 * The workspace a run goes into (made with the defaults when it is new),
 * its config, the model
 * (`weights`: a preset named by the user) and the run's settings. A
 * config that cannot be used throws the config's own ConfigError.
 */
export async function prepareWorkspace(
  o: { dir?: string; weights?: string; c2Domains?: string[]; dnsPorts?: number[] },
  onMigrate?: (from: number, to: number) => void,
): Promise<RunWorkspace> {
  const ws = resolveWorkspace(o.dir);
  let initialized = false;
  try {
    await Deno.stat(ws.configPath);
  } catch {
    await initWorkspace(ws, { onMigrate });
    initialized = true;
  }
  const cfg = await loadConfig(ws.configPath);
  const model = resolveModel(cfg, { weights: o.weights });
  return { ws, cfg, model, initialized, ...runSettings(cfg, o) };
}
