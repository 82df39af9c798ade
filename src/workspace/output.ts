/**
 * Files a command writes at a user's word (`export -o`, `stream --save`):
 * opened first, then proved by what was opened — the open handle's device
 * and inode — to be none of the files it must not touch (the workspace's
 * database, SQLite's side files, its config). No symlink, `..`, hard link or
 * rename between a check and the write gets round it: nothing is truncated
 * until the opened file is known.
 *
 * @module
 */

import { fileIdentity } from "../files.ts";

/** The files of the workspace in `dir` that no output may land on: the database, SQLite's side files, the config. */
export function workspaceFiles(dir: string): string[] {
  const db = `${dir}/plumbum.db`;
  return [db, `${db}-wal`, `${db}-shm`, `${db}-journal`, `${dir}/config.hcl`];
}

/** A file a command may not write; the message is one sentence for the user. */
export class OutputRefused extends Error {
  /** Why `path` cannot be written. */
  constructor(message: string) {
    super(message);
    this.name = "OutputRefused";
  }
}

/** Throws {@link OutputRefused} when `id` is one of `protect`'s files. */
function refuse(
  id: { dev: number; ino: number } | null,
  protect: readonly { path: string; id: { dev: number; ino: number } | null }[],
  o: { option: string; what: string; shown: string },
): void {
  const own = id === null ? undefined : protect.find((p) => p.id?.dev === id.dev && p.id.ino === id.ino);
  if (own === undefined) return;
  throw new OutputRefused(
    `${o.option}: ${o.shown} is the workspace's own ${
      own.path.slice(own.path.lastIndexOf("/") + 1)
    }; writing ${o.what} there would destroy it: pick another file`,
  );
}

const identities = (protect: readonly string[]) => protect.map((p) => ({ path: p, id: fileIdentity(p) }));

/**
 * Refuse `path` now when it names one of `protect` (through any symlink or
 * hard link) or a folder: a command says so before it starts work. Only a
 * first answer: {@link openOutput} proves it again on what it opens.
 */
export function checkOutput(
  path: string,
  protect: readonly string[],
  o: { option: string; what: string; shown: string },
): void {
  refuse(fileIdentity(path), identities(protect), o);
  let folder = false;
  try {
    folder = Deno.statSync(path).isDirectory;
  } catch {
    // Absent (it will be made) or unreadable (the open says why).
  }
  if (folder) throw new OutputRefused(`${o.option}: ${o.shown} ${IS_FOLDER}`);
}

const IS_FOLDER = "is a folder; give a file name in it";

/**
 * Open `path` for writing from its start: created when absent, emptied only
 * once the opened file is proved to be none of `protect` (compared by device
 * and inode). `option` (`-o`, `--save`) and `what` ("the export") name it in
 * messages; `shown` is the path as it may be printed (escaped by the caller).
 * Devices and pipes (`/dev/stdout`) are written as they are.
 */
export function openOutput(
  path: string,
  protect: readonly string[],
  o: { option: string; what: string; shown: string },
): Deno.FsFile {
  const ids = identities(protect);
  // Refused by name first, so that a protected file is not even opened (closing any handle on a database
  // drops the POSIX locks SQLite holds on it in this process); then proved on the handle.
  refuse(fileIdentity(path), ids, o);
  let f: Deno.FsFile;
  try {
    f = Deno.openSync(path, { write: true, create: true });
  } catch (e) {
    const why = e instanceof Deno.errors.IsADirectory
      ? IS_FOLDER
      : e instanceof Deno.errors.NotFound
      ? "is in a folder that does not exist; make it first or pick another"
      : e instanceof Deno.errors.NotCapable
      ? "cannot be written without Deno's write permission: run with --allow-write"
      : e instanceof Deno.errors.PermissionDenied
      ? `cannot be written (${(e as Error).message}): pick a file you may write`
      : `cannot be opened (${(e as Error).message})`;
    throw new OutputRefused(`${o.option}: ${o.shown} ${why}`);
  }
  try {
    const info = f.statSync();
    refuse(info.ino === null ? null : { dev: info.dev, ino: info.ino }, ids, o);
    if (info.isFile) f.truncateSync(0);
    return f;
  } catch (e) {
    f.close();
    if (e instanceof OutputRefused) throw e;
    throw new OutputRefused(`${o.option}: ${o.shown} cannot be written: ${(e as Error).message}`);
  }
}
