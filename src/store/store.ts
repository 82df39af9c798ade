/**
 * The write side of a workspace's database (`node:sqlite`, WAL mode,
 * versioned schema with forward migrations); the only code besides the
 * reader and the writer thread that speaks SQL.
 *
 * A run is written in steps: its row is committed as `running` first,
 * transactions follow in batched commits, and scores, evidence and the
 * `complete` status land together in one final commit. A run killed at any
 * point therefore never becomes the latest result; the next writer marks it
 * `failed`. A live run (`stream`) also commits its results so far at each
 * window's close, and keeps them when it fails. Readers see the latest `complete` run and never block the
 * writer (WAL).
 *
 * @module
 */

import type { PayloadSummary } from "../analysis/types.ts";
import { DatabaseSync } from "node:sqlite";
import { DatabaseUnreadableError, SchemaTooNewError, StoreError } from "./errors.ts";
import { ResultsReader } from "./reader.ts";
import { interruptedReason, LEASE_RENEW_SECS, runIsDead } from "./liveness.ts";
import { RunLock, runLockPath } from "./run_lock.ts";
import { MIGRATIONS, runIds, SCHEMA_VERSION } from "./schema.ts";
import { isLiveConfig, type RunResults } from "./types.ts";
import { TransactionWriter } from "./writer.ts";
import { SqliteSeedSpill } from "./seed_spill.ts";

/** The Plumbum database, opened to write runs (and read them back). */
export class Store extends ResultsReader {
  /**
   * Open for writing (creating and migrating when needed). `onMigrate`
   * hears of an existing file about to be upgraded (it can take a while:
   * ~7 s for a run of 1.4 million transactions), before the work starts.
   */
  static override open(
    path: string,
    options: { onMigrate?: (from: number, to: number) => void } = {},
  ): Store {
    // An emptied file is refused, never made a new workspace in silence.
    try {
      if (Deno.statSync(path).size === 0) {
        throw new DatabaseUnreadableError(
          path,
          `${path} is empty (0 bytes): it holds no results; move it away to start over`,
        );
      }
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    let db: DatabaseSync;
    try {
      db = new DatabaseSync(path);
    } catch (e) {
      throw new DatabaseUnreadableError(path, `cannot open ${path}: ${(e as Error).message}`);
    }
    const s = new Store(db, path);
    try {
      db.exec("PRAGMA busy_timeout = 5000");
      db.exec("PRAGMA journal_mode = WAL");
      db.exec("PRAGMA synchronous = NORMAL");
      db.exec("PRAGMA foreign_keys = ON");
    } catch (e) {
      db.close();
      throw new DatabaseUnreadableError(
        path,
        `${path} is not a Plumbum database (${
          (e as Error).message
        }); point --dir at a workspace, or move the file away`,
      );
    }
    try {
      s.#migrate(options.onMigrate);
      s.#recoverInterrupted();
    } catch (e) {
      db.close();
      throw e;
    }
    return s;
  }

  #migrate(onMigrate?: (from: number, to: number) => void): void {
    const v = this.schemaVersion();
    if (v > SCHEMA_VERSION) {
      throw new SchemaTooNewError(this.path, v, SCHEMA_VERSION);
    }
    if (v > 0 && v < SCHEMA_VERSION) onMigrate?.(v, SCHEMA_VERSION);
    for (let i = v; i < MIGRATIONS.length; i++) {
      this.db.exec("BEGIN IMMEDIATE");
      try {
        this.db.exec(MIGRATIONS[i]);
        this.db.exec(`PRAGMA user_version = ${i + 1}`);
        this.db.exec("COMMIT");
      } catch (e) {
        if (this.db.isTransaction) this.db.exec("ROLLBACK");
        throw e;
      }
    }
  }

  /** Runs left `running` by a process that is gone were interrupted: mark them failed. */
  #recoverInterrupted(): void {
    const rows = this.db.prepare("SELECT id, pid, config, heartbeat FROM runs WHERE status = 'running'").all() as {
      id: number;
      pid: number | null;
      config: string;
      heartbeat: number | null;
    }[];
    for (const r of rows) {
      if (this.#locks.has(r.id) || !runIsDead(this.path, r)) continue;
      this.db.prepare(
        "UPDATE runs SET status = 'failed', error = ?, finished_at = COALESCE(finished_at, ?) WHERE id = ?",
      )
        .run(interruptedReason(r.pid), new Date().toISOString(), r.id);
      // A live run keeps what its closed windows committed.
      if (!isLiveConfig(r.config)) this.#deleteTransactions(r.id);
      try {
        Deno.removeSync(runLockPath(this.path, r.id));
      } catch { /* none */ }
    }
  }

  /**
   * Close the database. When no one else has it open, the file is left out
   * of WAL mode (the next writer turns it back on), so a reader on a
   * read-only filesystem, or in a folder it may not write, needs no WAL
   * index beside it.
   */
  override close(): void {
    for (const id of [...this.#locks.keys()]) this.#release(id);
    try {
      this.db.exec("PRAGMA busy_timeout = 0");
      this.db.exec("PRAGMA journal_mode = DELETE");
    } catch {
      // Another connection has it open: it stays in WAL mode.
    }
    super.close();
  }

  /**
   * Start a run: its row is committed at once as `running`, with where its
   * process lives and a lease that {@link Store.holdLease} keeps renewed.
   */
  startRun(config: Record<string, unknown>): number {
    const r = this.db.prepare(
      "INSERT INTO runs (status, pid, started_at, config, heartbeat) VALUES ('running', ?, ?, ?, ?)",
    ).run(Deno.pid, new Date().toISOString(), JSON.stringify(config), Date.now() / 1000);
    const id = Number(r.lastInsertRowid);
    try {
      this.#locks.set(id, RunLock.acquire(this.path, id));
    } catch {
      // No lock (a folder that takes no new file): the lease alone says the run lives.
    }
    return id;
  }

  /** Locks of the runs this store started and has not finished. */
  readonly #locks = new Map<number, RunLock>();

  #release(runId: number): void {
    this.#locks.get(runId)?.release();
    this.#locks.delete(runId);
  }

  /**
   * Keep run `runId`'s lease renewed (every few seconds) until the returned
   * function is called: from another machine or PID namespace the lease is
   * all that says the run is alive.
   */
  holdLease(runId: number): () => void {
    const renew = this.db.prepare("UPDATE runs SET heartbeat = ? WHERE id = ? AND status = 'running'");
    const timer = setInterval(() => {
      try {
        renew.run(Date.now() / 1000, runId);
      } catch {
        // Busy or full: the next renewal tries again, well inside the lease.
      }
    }, LEASE_RENEW_SECS * 1000);
    return () => clearInterval(timer);
  }

  /**
   * A writer of the run's transactions. It inserts on a worker thread with
   * its own connection, so ingest and analysis go on while SQLite works.
   */
  transactionWriter(runId: number): TransactionWriter {
    return new TransactionWriter(this.path, runId);
  }

  /**
   * Where run `runId`'s analyzer puts the seeds of domains asked a few times
   * (see seed_spill.ts): a file beside the database, gone from the directory
   * once open. Close it when the run's findings are stored.
   */
  seedSpill(runId: number): SqliteSeedSpill {
    return new SqliteSeedSpill(`${this.path}-spill-${runId}-${Deno.pid}`);
  }

  /**
   * Finish a run: sources, scores, evidence and the `complete` status in one
   * commit. The run's timings get `store_secs`: the time taken to store them;
   * and `analysis_secs`, the time taken scoring them, when the findings are
   * an iterator that scores each as it is written.
   */
  completeRun(runId: number, o: RunResults): void {
    this.#writeResults(runId, o, true);
    this.#release(runId);
  }

  /**
   * Store a running run's results so far (a live run, at each window's
   * close), in place of the ones stored before; it stays `running`. With
   * `changedOnly`, the findings are those of the domains that changed since
   * the last checkpoint, and the others stay as stored.
   */
  checkpointRun(runId: number, o: RunResults, options: { changedOnly?: boolean } = {}): void {
    this.#writeResults(runId, o, false, options.changedOnly ?? false);
  }

  /** `changedOnly`: the findings given replace those of their domains, and the other domains' stay. */
  #writeResults(runId: number, o: RunResults, complete: boolean, changedOnly = false): void {
    const t0 = performance.now();
    this.db.exec("BEGIN IMMEDIATE");
    try {
      for (const table of changedOnly ? ["sources"] : ["sources", "domain_scores", "evidence"]) {
        this.db.prepare(`DELETE FROM ${table} WHERE run_id = ?`).run(runId);
      }
      const src = this.db.prepare(
        "INSERT INTO sources (run_id, path, size, sha256, format, stats) VALUES (?, ?, ?, ?, ?, ?)",
      );
      for (const s of o.sources) src.run(runId, s.path, s.size, s.sha256, s.format, JSON.stringify(s.stats));
      const sc = this.db.prepare(
        "INSERT OR REPLACE INTO domain_scores (run_id, domain, score, severity, is_c2, features, components, tool, suppressed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
      );
      const ev = this.db.prepare("INSERT OR REPLACE INTO evidence (run_id, domain, evidence) VALUES (?, ?, ?)");
      // Findings may be scored as they are written (an iterator): the time taken pulling them is the analysis's.
      let count = 0, scoring = 0;
      const findings = o.findings[Symbol.iterator]();
      for (;;) {
        const t = performance.now();
        const next = findings.next();
        scoring += performance.now() - t;
        if (next.done) break;
        const f = next.value;
        count++;
        sc.run(
          runId,
          f.domain,
          f.score,
          f.severity,
          f.is_c2 ? 1 : 0,
          JSON.stringify(f.features),
          JSON.stringify(f.components),
          f.tool ? JSON.stringify(f.tool) : null,
          f.suppressed ? JSON.stringify(f.suppressed) : null,
        );
        ev.run(runId, f.domain, JSON.stringify(f.evidence));
      }
      if (changedOnly) {
        count =
          (this.db.prepare("SELECT count(*) AS n FROM domain_scores WHERE run_id = ?").get(runId) as { n: number }).n;
      }
      const timings = Array.isArray(o.findings) ? { ...o.timings } : { ...o.timings, analysis_secs: scoring / 1000 };
      const changed = this.db.prepare(
        "UPDATE runs SET status = ?, finished_at = ?, transactions = ?, domains = ?, timings = ? WHERE id = ? AND status = 'running'",
      )
        .run(
          complete ? "complete" : "running",
          complete ? new Date().toISOString() : null,
          o.transactions,
          count,
          JSON.stringify({ ...timings, store_secs: (performance.now() - t0 - scoring) / 1000 }),
          runId,
        );
      // Another process took the run for dead and removed its rows: it must never read as complete.
      if (Number(changed.changes) !== 1) {
        throw new StoreError(
          this.path,
          `run #${runId} was marked failed by another Plumbum while it ran (its rows were removed); run it again`,
        );
      }
      this.db.exec("COMMIT");
    } catch (e) {
      // SQLite rolls back by itself on some failures (a full disk): roll back only what is still open.
      if (this.db.isTransaction) this.db.exec("ROLLBACK");
      throw e;
    }
  }

  /**
   * Delete a run's first `rows` transactions (a live run's `--retain`: its
   * rows are stored in order, so a window's rows are one key range). The
   * names they asked stay: later rows may ask them again.
   */
  dropTransactions(runId: number, rows: number): void {
    const [from] = runIds(runId);
    this.db.prepare("DELETE FROM transactions WHERE id >= ? AND id < ?").run(from, from + rows);
  }

  /** Delete a run's transactions and the names they asked (one key range each). */
  #deleteTransactions(runId: number): void {
    for (const table of ["transactions", "names"]) {
      this.db.prepare(`DELETE FROM ${table} WHERE id >= ? AND id < ?`).run(...runIds(runId));
    }
  }

  /** Keep what a carving of `domain` in run `runId` found (replacing an earlier one). */
  saveCarving(runId: number, domain: string, payload: PayloadSummary): void {
    this.db.prepare("INSERT OR REPLACE INTO carvings (run_id, domain, payload) VALUES (?, ?, ?)").run(
      runId,
      domain,
      JSON.stringify(payload),
    );
  }

  /**
   * Mark a run failed (with the reason). Its transactions are removed, unless
   * `keepRows` (a live run keeps what its closed windows committed).
   */
  failRun(runId: number, error: string, keepRows = false): void {
    this.#release(runId);
    this.db.prepare("UPDATE runs SET status = 'failed', finished_at = ?, error = ? WHERE id = ?").run(
      new Date().toISOString(),
      error,
      runId,
    );
    if (!keepRows) this.#deleteTransactions(runId);
  }
}
