/**
 * Whether a run's process is alive, proved by a lock it holds: a small
 * SQLite file beside the database (`plumbum.db-run-N.lock`) on which the
 * running process keeps an exclusive lock. The kernel drops the lock when
 * the process ends however it ends, in any PID namespace of the machine,
 * and asking needs only read access (Deno allows no look at /proc without
 * --allow-all, so a PID alone proves nothing here).
 *
 * @module
 */

import { DatabaseSync } from "node:sqlite";

/** The lock file of run `runId` of the database at `dbPath`. */
export function runLockPath(dbPath: string, runId: number): string {
  return `${dbPath}-run-${runId}.lock`;
}

/** A run's lock, held until {@link RunLock.release}. */
export class RunLock {
  readonly #db: DatabaseSync;
  readonly #path: string;

  private constructor(db: DatabaseSync, path: string) {
    this.#db = db;
    this.#path = path;
  }

  /**
   * Take run `runId`'s lock. The file is made and locked under another
   * name, then renamed into place (the lock stays with the file): no one
   * ever finds it there unlocked while its process lives.
   */
  static acquire(dbPath: string, runId: number): RunLock {
    const path = runLockPath(dbPath, runId);
    const made = `${path}.${Deno.pid}.new`;
    const db = new DatabaseSync(made);
    try {
      db.exec("PRAGMA busy_timeout = 0");
      db.exec("CREATE TABLE IF NOT EXISTS held (pid INTEGER)");
      db.prepare("INSERT INTO held (pid) VALUES (?)").run(Deno.pid);
      db.exec("PRAGMA locking_mode = EXCLUSIVE");
      db.exec("BEGIN EXCLUSIVE");
      Deno.renameSync(made, path);
    } catch (e) {
      db.close();
      try {
        Deno.removeSync(made);
      } catch { /* never made */ }
      throw e;
    }
    return new RunLock(db, path);
  }

  /** Let go (the run is over) and remove the file. */
  release(): void {
    try {
      if (this.#db.isTransaction) this.#db.exec("ROLLBACK");
      this.#db.close();
    } catch { /* closed already */ }
    try {
      Deno.removeSync(this.#path);
    } catch { /* gone, or a read-only folder */ }
  }
}

/**
 * Whether run `runId`'s lock is held right now: true (its process lives),
 * false (the file is there and free: the process is gone), or null (no
 * lock file: a run from before locks, or one that never took it).
 */
export function runLockHeld(dbPath: string, runId: number): boolean | null {
  const path = runLockPath(dbPath, runId);
  let db: DatabaseSync;
  try {
    Deno.statSync(path);
    db = new DatabaseSync(path, { readOnly: true });
  } catch {
    return null;
  }
  try {
    db.exec("PRAGMA busy_timeout = 0");
    db.prepare("SELECT count(*) FROM sqlite_master").get();
    return false;
  } catch (e) {
    return /locked|busy/i.test((e as Error).message) ? true : null;
  } finally {
    db.close();
  }
}
