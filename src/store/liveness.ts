/**
 * Whether a run left `running` is still alive: the rules every reader and
 * writer of a workspace judge a run by. A run's lock says it when there is
 * one (held: its process lives); else its lease (renewed by its writer);
 * else, for a run from before leases, its process's PID on this machine.
 *
 * @module
 */

import { runLockHeld } from "./run_lock.ts";

/**
 * Whether a run left `running` by process `pid` was interrupted: its process
 * is gone from this machine. A writer opening the file takes a run of its
 * own pid for a leftover (a restarted container reuses pids); a reader, for
 * its own process's run in progress (`ownIsAlive`).
 */
export function interrupted(pid: number | null, ownIsAlive = false): boolean {
  if (pid === null) return true;
  if (pid === Deno.pid) return !ownIsAlive;
  try {
    Deno.statSync(`/proc/${pid}`);
    return false;
  } catch {
    return true;
  }
}

/** Seconds a running run's lease lasts without renewal (its writer renews it every {@link LEASE_RENEW_SECS}). */
const LEASE_SECS = 30;
/** How often a writer renews its run's lease. */
export const LEASE_RENEW_SECS = 5;

/**
 * Whether run `row` (left `running` in the database at `dbPath`) is dead.
 * Its lock says when it has one (see run_lock.ts): held, the process lives;
 * free, it is gone. Without one, a run that renews its lease is alive until
 * the lease lapses ({@link LEASE_SECS}), and a run from before leases is
 * judged by its PID ({@link interrupted}).
 */
export function runIsDead(
  dbPath: string,
  row: { id: number; pid: number | null; heartbeat?: number | null },
  ownIsAlive = false,
): boolean {
  const held = runLockHeld(dbPath, row.id);
  if (held !== null) return !held;
  if (row.heartbeat !== null && row.heartbeat !== undefined) {
    return Date.now() / 1000 - row.heartbeat > LEASE_SECS;
  }
  return interrupted(row.pid, ownIsAlive);
}

/** The error a run interrupted by its process's end is stored (and shown) with. */
export function interruptedReason(pid: number | null): string {
  return `interrupted: process ${pid ?? "?"} stopped before the run completed`;
}
