/**
 * Where a workspace is: the folder a front-end names, else `PLUMBUM_DIR`,
 * else `.plumbum`, and the files in it. Nothing is opened here, so a
 * read-only front-end (the MCP server) takes its paths without loading the
 * writer's side.
 *
 * @module
 */

import { envVar } from "../env.ts";

/** Paths of a workspace. */
export interface Workspace {
  dir: string;
  configPath: string;
  dbPath: string;
}

/** The paths of the workspace at `dir`, else `PLUMBUM_DIR`, else `.plumbum` (trailing slashes dropped). */
export function workspacePaths(dir?: string): Workspace {
  const d = (dir ?? envVar("PLUMBUM_DIR") ?? ".plumbum").replace(/\/+$/, "") || "/";
  return { dir: d, configPath: `${d}/config.hcl`, dbPath: `${d}/plumbum.db` };
}
