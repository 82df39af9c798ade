/**
 * The only module that speaks SQL. Results persist in `.plumbum/plumbum.db`
 * (`node:sqlite`, WAL mode, versioned schema with forward migrations).
 *
 * A run is written in steps: its row is committed as `running` first,
 * transactions follow in batched commits, and scores, evidence and the
 * `complete` status land together in one final commit. A run killed at any
 * point therefore never becomes the latest result; the next writer marks it
 * `failed`. Readers see the latest `complete` run and never block the
 * writer (WAL).
 *
 * @module
 */

import { DatabaseSync, type StatementSync } from "node:sqlite";
import type { DomainFinding } from "../analysis/analyze.ts";
import type { Transaction } from "../ingest/types.ts";
import { ByNameRef, queryRefOf } from "../ingest/name_ref.ts";

/** Migrations, in order; the schema version is their count. */
export const MIGRATIONS: readonly string[] = [
  `CREATE TABLE runs (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     status TEXT NOT NULL CHECK (status IN ('running', 'complete', 'failed')),
     pid INTEGER,
     started_at TEXT NOT NULL,
     finished_at TEXT,
     config TEXT NOT NULL,
     transactions INTEGER NOT NULL DEFAULT 0,
     domains INTEGER NOT NULL DEFAULT 0,
     error TEXT,
     timings TEXT
   );
   CREATE TABLE sources (
     run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
     path TEXT NOT NULL,
     size INTEGER,
     sha256 TEXT,
     format TEXT,
     stats TEXT
   );
   CREATE TABLE transactions (
     run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
     ts REAL NOT NULL,
     client TEXT NOT NULL,
     server TEXT NOT NULL,
     query TEXT NOT NULL,
     qtype INTEGER NOT NULL,
     rcode INTEGER,
     answers INTEGER NOT NULL,
     domain TEXT NOT NULL
   );
   CREATE INDEX transactions_run_domain ON transactions (run_id, domain);
   CREATE TABLE domain_scores (
     run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
     domain TEXT NOT NULL,
     score REAL NOT NULL,
     severity TEXT NOT NULL,
     is_c2 INTEGER NOT NULL,
     features TEXT NOT NULL,
     components TEXT NOT NULL,
     PRIMARY KEY (run_id, domain)
   );
   CREATE TABLE evidence (
     run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
     domain TEXT NOT NULL,
     evidence TEXT NOT NULL,
     PRIMARY KEY (run_id, domain)
   );`,
  // 2: transactions name their domain by number. The text index and the
  // per-row foreign-key check on runs cost ~4 µs of every insert; rows of a
  // failed run are deleted explicitly (failRun, #recoverInterrupted).
  `CREATE TABLE domains (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
   INSERT INTO domains (name) SELECT DISTINCT domain FROM transactions;
   CREATE TABLE transactions_v2 (
     run_id INTEGER NOT NULL,
     ts REAL NOT NULL,
     client TEXT NOT NULL,
     server TEXT NOT NULL,
     query TEXT NOT NULL,
     qtype INTEGER NOT NULL,
     rcode INTEGER,
     answers INTEGER NOT NULL,
     domain_id INTEGER NOT NULL
   );
   INSERT INTO transactions_v2
     SELECT t.run_id, t.ts, t.client, t.server, t.query, t.qtype, t.rcode, t.answers, d.id
     FROM transactions t JOIN domains d ON d.name = t.domain ORDER BY t.rowid;
   DROP TABLE transactions;
   ALTER TABLE transactions_v2 RENAME TO transactions;
   CREATE INDEX transactions_run_domain ON transactions (run_id, domain_id);`,
  // 3: a transaction's id is its run's id times 2^32 plus its place in the
  // run, so a run's rows are one key range (appended in order, deleted as a
  // range). Only the first 200 rows of each domain in a run are indexed
  // (a partial index): maintaining a full (run, domain) index was two thirds
  // of the cost of storing a row, and readers ask for a domain's first rows.
  `CREATE TABLE transactions_v3 (
     id INTEGER PRIMARY KEY,
     run_id INTEGER NOT NULL,
     ts REAL NOT NULL,
     client TEXT NOT NULL,
     server TEXT NOT NULL,
     query TEXT NOT NULL,
     qtype INTEGER NOT NULL,
     rcode INTEGER,
     answers INTEGER NOT NULL,
     domain_id INTEGER NOT NULL,
     sampled INTEGER NOT NULL
   );
   INSERT INTO transactions_v3
     SELECT run_id * 4294967296 + ROW_NUMBER() OVER (PARTITION BY run_id ORDER BY rowid) - 1,
            run_id, ts, client, server, query, qtype, rcode, answers, domain_id,
            ROW_NUMBER() OVER (PARTITION BY run_id, domain_id ORDER BY rowid) <= 200
     FROM transactions ORDER BY rowid;
   DROP TABLE transactions;
   ALTER TABLE transactions_v3 RENAME TO transactions;
   CREATE INDEX transactions_sampled ON transactions (run_id, domain_id, ts) WHERE sampled = 1;`,
  // 4: a transaction names its client and server by number (a table of
  // hosts, as of domains): binding the two addresses as text was ~13 % of
  // the cost of storing a row, and a capture repeats a few addresses.
  `CREATE TABLE hosts (id INTEGER PRIMARY KEY, address TEXT NOT NULL UNIQUE);
   INSERT INTO hosts (address) SELECT client FROM transactions UNION SELECT server FROM transactions;
   CREATE TABLE transactions_v4 (
     id INTEGER PRIMARY KEY,
     run_id INTEGER NOT NULL,
     ts REAL NOT NULL,
     client_id INTEGER NOT NULL,
     server_id INTEGER NOT NULL,
     query TEXT NOT NULL,
     qtype INTEGER NOT NULL,
     rcode INTEGER,
     answers INTEGER NOT NULL,
     domain_id INTEGER NOT NULL,
     sampled INTEGER NOT NULL
   );
   INSERT INTO transactions_v4
     SELECT t.id, t.run_id, t.ts, c.id, s.id, t.query, t.qtype, t.rcode, t.answers, t.domain_id, t.sampled
     FROM transactions t JOIN hosts c ON c.address = t.client JOIN hosts s ON s.address = t.server ORDER BY t.id;
   DROP TABLE transactions;
   ALTER TABLE transactions_v4 RENAME TO transactions;
   CREATE INDEX transactions_sampled ON transactions (run_id, domain_id, ts) WHERE sampled = 1;`,
  // 5: a transaction names its query by number (a table of names). Traffic
  // asks the same names again and again, and the text was most of a row's
  // bytes. A run keeps its own names: a name's id is the id of the run's
  // transaction that first asked it (since the writer's text table last
  // started over), so a run's names are in its key range and go with it.
  // Rows already stored get the same: each of a run's names once, under the
  // first id that asked it. The view reads transactions with their texts
  // (for the reader below, and for anyone who opens the file with sqlite3).
  `CREATE TABLE names (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
   INSERT INTO names (id, name) SELECT min(id), query FROM transactions GROUP BY run_id, query;
   CREATE INDEX names_migrating ON names (name);
   ALTER TABLE transactions ADD COLUMN query_id INTEGER NOT NULL DEFAULT 0;
   UPDATE transactions SET query_id = (
     SELECT n.id FROM names n WHERE n.name = transactions.query
       AND n.id >= transactions.run_id * 4294967296 AND n.id < (transactions.run_id + 1) * 4294967296);
   DROP INDEX names_migrating;
   ALTER TABLE transactions DROP COLUMN query;
   CREATE VIEW transactions_readable AS
     SELECT t.id, t.run_id, t.ts, c.address AS client, s.address AS server, n.name AS query, t.qtype, t.rcode,
            t.answers, d.name AS domain, t.sampled
     FROM transactions t JOIN hosts c ON c.id = t.client_id JOIN hosts s ON s.id = t.server_id
       JOIN names n ON n.id = t.query_id JOIN domains d ON d.id = t.domain_id;`,
  // 6: narrower rows. A row's run is implied by its id (the run's key
  // range), and record type, rcode, answer count and the sampled flag share
  // one integer (see packCode). Binding 7 values a row instead of 11 took
  // 16-25 % off the writer thread's CPU. The partial index goes
  // by domain and id (a run is an id range in it); the view gives the same
  // columns as before.
  `CREATE TABLE transactions_v6 (
     id INTEGER PRIMARY KEY,
     ts REAL NOT NULL,
     client_id INTEGER NOT NULL,
     server_id INTEGER NOT NULL,
     query_id INTEGER NOT NULL,
     domain_id INTEGER NOT NULL,
     code INTEGER NOT NULL
   );
   INSERT INTO transactions_v6
     SELECT id, ts, client_id, server_id, query_id, domain_id,
            sampled + (qtype & 65535) * 2 + ((COALESCE(rcode, -1) + 1) & 8191) * 131072
              + min(answers, 8388607) * 1073741824
     FROM transactions ORDER BY id;
   DROP VIEW transactions_readable;
   DROP TABLE transactions;
   ALTER TABLE transactions_v6 RENAME TO transactions;
   CREATE INDEX transactions_sampled ON transactions (domain_id, id) WHERE code & 1 = 1;
   CREATE VIEW transactions_readable AS
     SELECT t.id, t.id >> 32 AS run_id, t.ts, c.address AS client, s.address AS server, n.name AS query,
            (t.code >> 1) & 65535 AS qtype, NULLIF((t.code >> 17) & 8191, 0) - 1 AS rcode, t.code >> 30 AS answers,
            d.name AS domain, t.code & 1 AS sampled
     FROM transactions t JOIN hosts c ON c.id = t.client_id JOIN hosts s ON s.id = t.server_id
       JOIN names n ON n.id = t.query_id JOIN domains d ON d.id = t.domain_id;`,
];

/**
 * A transaction's `code` column: bit 0 the sampled flag (the row is one of
 * its domain's first {@link INDEXED_PER_DOMAIN} in the run), bits 1-16 the
 * record type, bits 17-29 the rcode plus one (0: no response), bits 30-52
 * the answer count. Decoders and the Zeek reader keep record types to 16
 * bits, rcodes to 12 and answers far below 2^23 (a Zeek line is at most
 * 1 MB); the masks only keep a value from spilling into its neighbour.
 */
export function packCode(sampled: boolean, qtype: number, rcode: number | null, answers: number): number {
  return (sampled ? 1 : 0) + (qtype & 0xffff) * 2 + ((rcode === null ? 0 : rcode + 1) & 0x1fff) * 0x20000 +
    Math.min(answers, 0x7fffff) * 0x40000000;
}

/**
 * How {@link Store.transactions} reads a domain's rows of a run: `indexed`
 * (first id, end id, domain, limit) takes the first ones through the partial index,
 * `scan` (first id, end id, domain, limit) goes through the run's key range.
 */
export const READ_TRANSACTIONS = {
  // The sampled flag is a bit of the code column: the partial index is found for a term on the table
  // itself, not for the view's column made from it, so the ids come from the table.
  indexed: `SELECT ts, client, server, query, qtype, rcode, answers FROM transactions_readable
    WHERE id IN (SELECT id FROM transactions WHERE id >= ? AND id < ?
      AND domain_id = (SELECT id FROM domains WHERE name = ?) AND code & 1 = 1)
    ORDER BY ts LIMIT ?`,
  scan: `SELECT ts, client, server, query, qtype, rcode, answers FROM transactions_readable
    WHERE id >= ? AND id < ? AND domain = ? ORDER BY ts LIMIT ?`,
};

/** A run's transactions have ids from `runId * RUN_SPAN` on. */
const RUN_SPAN = 2 ** 32;

/** The ids of a run's transactions: from the first (inclusive) to the next run's first (exclusive). */
function runIds(runId: number): [number, number] {
  return [runId * RUN_SPAN, (runId + 1) * RUN_SPAN];
}
/**
 * Rows of each domain in a run that the (partial) index covers: what
 * `explain --feature` lists. Each indexed row costs ~30 % more to store.
 */
export const INDEXED_PER_DOMAIN = 200;

/** The schema version this build writes. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/** A run as stored. */
export interface RunRecord {
  id: number;
  status: "running" | "complete" | "failed";
  pid: number | null;
  started_at: string;
  finished_at: string | null;
  config: Record<string, unknown>;
  transactions: number;
  domains: number;
  error: string | null;
  timings: Record<string, number> | null;
  sources: SourceRecord[];
}

/** One input of a run. */
export interface SourceRecord {
  path: string;
  size: number | null;
  sha256: string | null;
  format: string | null;
  stats: Record<string, unknown> | null;
}

/** One stored transaction, as `explain --feature --json` lists them. */
export interface StoredTransaction {
  ts: number;
  client: string;
  server: string;
  query: string;
  qtype: number;
  rcode: number | null;
  answers: number;
}

/** A stored domain score with its evidence. */
export type StoredFinding = DomainFinding;

/** Whether a process id is alive on this machine. */
function alive(pid: number): boolean {
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}

/** The Plumbum database. */
export class Store {
  readonly db: DatabaseSync;
  readonly path: string;

  private constructor(db: DatabaseSync, path: string) {
    this.db = db;
    this.path = path;
  }

  /**
   * Open (creating and migrating when needed). `onMigrate` hears of an
   * existing file about to be upgraded (it can take a while: ~7 s for a
   * run of 1.4 million transactions), before the work starts.
   */
  static open(
    path: string,
    options: { readOnly?: boolean; onMigrate?: (from: number, to: number) => void } = {},
  ): Store {
    const db = new DatabaseSync(path, { readOnly: options.readOnly ?? false });
    db.exec("PRAGMA busy_timeout = 5000");
    const s = new Store(db, path);
    if (!options.readOnly) {
      db.exec("PRAGMA journal_mode = WAL");
      db.exec("PRAGMA synchronous = NORMAL");
      db.exec("PRAGMA foreign_keys = ON");
      s.#migrate(options.onMigrate);
      s.#recoverInterrupted();
    }
    return s;
  }

  close(): void {
    this.db.close();
  }

  /** Current schema version of the file. */
  schemaVersion(): number {
    return (this.db.prepare("PRAGMA user_version").get() as { user_version: number }).user_version;
  }

  #migrate(onMigrate?: (from: number, to: number) => void): void {
    const v = this.schemaVersion();
    if (v > SCHEMA_VERSION) {
      throw new Error(
        `${this.path} has schema version ${v}, newer than this Plumbum (${SCHEMA_VERSION}); upgrade Plumbum or use another --dir`,
      );
    }
    if (v > 0 && v < SCHEMA_VERSION) onMigrate?.(v, SCHEMA_VERSION);
    for (let i = v; i < MIGRATIONS.length; i++) {
      this.db.exec("BEGIN IMMEDIATE");
      try {
        this.db.exec(MIGRATIONS[i]);
        this.db.exec(`PRAGMA user_version = ${i + 1}`);
        this.db.exec("COMMIT");
      } catch (e) {
        this.db.exec("ROLLBACK");
        throw e;
      }
    }
  }

  /** Runs left `running` by a process that is gone were interrupted: mark them failed. */
  #recoverInterrupted(): void {
    const rows = this.db.prepare("SELECT id, pid FROM runs WHERE status = 'running'").all() as {
      id: number;
      pid: number | null;
    }[];
    for (const r of rows) {
      if (r.pid !== null && r.pid !== Deno.pid && alive(r.pid)) continue;
      this.db.prepare(
        "UPDATE runs SET status = 'failed', error = ?, finished_at = COALESCE(finished_at, ?) WHERE id = ?",
      )
        .run(`interrupted: process ${r.pid ?? "?"} stopped before the run completed`, new Date().toISOString(), r.id);
      this.#deleteTransactions(r.id);
    }
  }

  /** Start a run: its row is committed at once as `running`. */
  startRun(config: Record<string, unknown>): number {
    const r = this.db.prepare("INSERT INTO runs (status, pid, started_at, config) VALUES ('running', ?, ?, ?)")
      .run(Deno.pid, new Date().toISOString(), JSON.stringify(config));
    return Number(r.lastInsertRowid);
  }

  /**
   * A writer of the run's transactions. It inserts on a worker thread with
   * its own connection, so ingest and analysis go on while SQLite works.
   */
  transactionWriter(runId: number): TransactionWriter {
    return new TransactionWriter(this.path, runId);
  }

  /**
   * Finish a run: sources, scores, evidence and the `complete` status in one
   * commit. The run's timings get `store_secs`: the time taken to store them.
   */
  completeRun(
    runId: number,
    o: { sources: SourceRecord[]; findings: DomainFinding[]; transactions: number; timings: Record<string, number> },
  ): void {
    const t0 = performance.now();
    this.db.exec("BEGIN IMMEDIATE");
    try {
      const src = this.db.prepare(
        "INSERT INTO sources (run_id, path, size, sha256, format, stats) VALUES (?, ?, ?, ?, ?, ?)",
      );
      for (const s of o.sources) src.run(runId, s.path, s.size, s.sha256, s.format, JSON.stringify(s.stats));
      const sc = this.db.prepare(
        "INSERT INTO domain_scores (run_id, domain, score, severity, is_c2, features, components) VALUES (?, ?, ?, ?, ?, ?, ?)",
      );
      const ev = this.db.prepare("INSERT INTO evidence (run_id, domain, evidence) VALUES (?, ?, ?)");
      for (const f of o.findings) {
        sc.run(
          runId,
          f.domain,
          f.score,
          f.severity,
          f.is_c2 ? 1 : 0,
          JSON.stringify(f.features),
          JSON.stringify(f.components),
        );
        ev.run(runId, f.domain, JSON.stringify(f.evidence));
      }
      this.db.prepare(
        "UPDATE runs SET status = 'complete', finished_at = ?, transactions = ?, domains = ?, timings = ? WHERE id = ?",
      )
        .run(
          new Date().toISOString(),
          o.transactions,
          o.findings.length,
          JSON.stringify({ ...o.timings, store_secs: (performance.now() - t0) / 1000 }),
          runId,
        );
      this.db.exec("COMMIT");
    } catch (e) {
      this.db.exec("ROLLBACK");
      throw e;
    }
  }

  /** Delete a run's transactions and the names they asked (one key range each). */
  #deleteTransactions(runId: number): void {
    for (const table of ["transactions", "names"]) {
      this.db.prepare(`DELETE FROM ${table} WHERE id >= ? AND id < ?`).run(...runIds(runId));
    }
  }

  /** Mark a run failed (with the reason). */
  failRun(runId: number, error: string): void {
    this.db.prepare("UPDATE runs SET status = 'failed', finished_at = ?, error = ? WHERE id = ?").run(
      new Date().toISOString(),
      error,
      runId,
    );
    this.#deleteTransactions(runId);
  }

  #runFromRow(row: Record<string, unknown>): RunRecord {
    const sources =
      (this.db.prepare("SELECT path, size, sha256, format, stats FROM sources WHERE run_id = ? ORDER BY rowid").all(
        row.id as number,
      ) as Record<string, unknown>[])
        .map((s) => ({
          path: s.path as string,
          size: s.size as number | null,
          sha256: s.sha256 as string | null,
          format: s.format as string | null,
          stats: s.stats === null ? null : JSON.parse(s.stats as string),
        }));
    return {
      id: row.id as number,
      status: row.status as RunRecord["status"],
      pid: row.pid as number | null,
      started_at: row.started_at as string,
      finished_at: row.finished_at as string | null,
      config: JSON.parse(row.config as string),
      transactions: row.transactions as number,
      domains: row.domains as number,
      error: row.error as string | null,
      timings: row.timings === null ? null : JSON.parse(row.timings as string),
      sources,
    };
  }

  /** A run by id, or the latest complete run when `id` is undefined. */
  run(id?: number): RunRecord | null {
    const row = id === undefined
      ? this.db.prepare("SELECT * FROM runs WHERE status = 'complete' ORDER BY id DESC LIMIT 1").get()
      : this.db.prepare("SELECT * FROM runs WHERE id = ?").get(id);
    return row === undefined ? null : this.#runFromRow(row as Record<string, unknown>);
  }

  /** Every run, newest first. */
  runs(): RunRecord[] {
    return (this.db.prepare("SELECT * FROM runs ORDER BY id DESC").all() as Record<string, unknown>[]).map((r) =>
      this.#runFromRow(r)
    );
  }

  /** Findings of a run, highest score first. */
  findings(runId: number, options: { withEvidence?: boolean } = {}): StoredFinding[] {
    const rows = this.db.prepare(
      `SELECT s.domain, s.score, s.severity, s.is_c2, s.features, s.components, ${
        options.withEvidence ? "e.evidence" : "NULL AS evidence"
      }
       FROM domain_scores s LEFT JOIN evidence e ON e.run_id = s.run_id AND e.domain = s.domain
       WHERE s.run_id = ? ORDER BY s.score DESC, s.domain ASC`,
    ).all(runId) as Record<string, unknown>[];
    return rows.map(toFinding);
  }

  /** One domain's finding (with evidence), or null. */
  finding(runId: number, domain: string): StoredFinding | null {
    const row = this.db.prepare(
      `SELECT s.domain, s.score, s.severity, s.is_c2, s.features, s.components, e.evidence
       FROM domain_scores s LEFT JOIN evidence e ON e.run_id = s.run_id AND e.domain = s.domain
       WHERE s.run_id = ? AND s.domain = ?`,
    ).get(runId, domain);
    return row === undefined ? null : toFinding(row as Record<string, unknown>);
  }

  /** All scored domain names of a run. */
  domainNames(runId: number): string[] {
    return (this.db.prepare("SELECT domain FROM domain_scores WHERE run_id = ?").all(runId) as { domain: string }[])
      .map((r) => r.domain);
  }

  /**
   * Stored transactions of one domain in a run (time order), up to `limit`:
   * through the index for the domain's first {@link INDEXED_PER_DOMAIN}
   * rows, by a scan of the run's rows beyond that.
   */
  transactions(
    runId: number,
    domain: string,
    limit = INDEXED_PER_DOMAIN,
  ): StoredTransaction[] {
    const sql = limit <= INDEXED_PER_DOMAIN ? READ_TRANSACTIONS.indexed : READ_TRANSACTIONS.scan;
    return this.db.prepare(sql).all(...runIds(runId), domain, limit) as unknown as StoredTransaction[];
  }

  /** `PRAGMA integrity_check` result ("ok" when sound). */
  integrityCheck(): string {
    const rows = this.db.prepare("PRAGMA integrity_check").all() as { integrity_check: string }[];
    return rows.map((r) => r.integrity_check).join("; ");
  }
}

function toFinding(r: Record<string, unknown>): StoredFinding {
  return {
    domain: r.domain as string,
    score: r.score as number,
    severity: r.severity as StoredFinding["severity"],
    is_c2: r.is_c2 === 1,
    features: JSON.parse(r.features as string),
    components: JSON.parse(r.components as string),
    evidence: r.evidence === null || r.evidence === undefined
      ? (undefined as unknown as StoredFinding["evidence"])
      : JSON.parse(r.evidence as string),
  };
}

/** Rows per INSERT statement: one call binds many rows (measured ~40 % faster than one row a call). */
const ROWS_PER_INSERT = 64;
/** Rows handed to the writer thread at once (each batch is one SQLite transaction). */
const BATCH_ROWS = 8192;
/**
 * Batches in flight before ingest is held back (bounds the memory rows wait
 * in: ~300 KB a batch, and its new texts). The writer works in bursts (a
 * WAL checkpoint, its collector); with 4 the decoder waited through them,
 * 0.3-1.0 s of an `apply` of the bench capture; with 16 `apply` took 0.89
 * of the time (median of 10 alternating pairs, 8 faster), peak RSS the same.
 */
const MAX_IN_FLIGHT = 16;
/**
 * Characters of new texts in flight before ingest is held back, whatever
 * the batches: where every name is new (tunnels), a batch brings 8192 names
 * of up to 255 characters, and 16 such batches could hold ~32 MB of them.
 */
const MAX_TEXT_IN_FLIGHT = 4 << 20;

/** Host numbers the writer thread keeps by address before it starts over (bounds its memory). */
const HOSTS_KEPT = 1 << 16;
/** Texts the writer side remembers before both sides start their table over (bounds its memory). */
const TEXT_LIMIT = 1 << 16;

/**
 * Transactions in columns, as they travel to the writer thread. Texts
 * (addresses, names, domains) travel once: rows carry their numbers in a
 * table both sides keep, and a batch brings the texts first seen in it.
 */
export interface TransactionBatch {
  runId: number;
  rows: number;
  ts: Float64Array;
  qtype: Int32Array;
  /** -1 when no response was seen. */
  rcode: Int32Array;
  answers: Int32Array;
  client: Int32Array;
  server: Int32Array;
  query: Int32Array;
  domain: Int32Array;
  /** The table starts over (at number 0) with this batch. */
  reset: boolean;
  /** Texts new in this batch, numbered on from `textBase`. */
  texts: string[];
  textBase: number;
}

function newBatch(runId: number, reset: boolean, textBase: number): TransactionBatch {
  return {
    runId,
    rows: 0,
    ts: new Float64Array(BATCH_ROWS),
    qtype: new Int32Array(BATCH_ROWS),
    rcode: new Int32Array(BATCH_ROWS),
    answers: new Int32Array(BATCH_ROWS),
    client: new Int32Array(BATCH_ROWS),
    server: new Int32Array(BATCH_ROWS),
    query: new Int32Array(BATCH_ROWS),
    domain: new Int32Array(BATCH_ROWS),
    reset,
    texts: [],
    textBase,
  };
}

/** The id of `value` in a shared lookup table (domains, hosts): `add` inserts it unless present, `get` reads its id. */
function tableId(add: StatementSync, get: StatementSync, value: string): number {
  add.run(value);
  return (get.get(value) as { id: number }).id;
}

/**
 * Rows of one table on their way in: a row's values are written into
 * `args` from the index {@link row} gives, and every
 * {@link ROWS_PER_INSERT} rows go in with one statement. The array is
 * written in place, never grown or emptied (refilling an emptied array
 * grew it again for every statement: the writer thread's collector ran
 * twice as often as the decoder's).
 */
class RowInserter {
  readonly args: (string | number | null)[];
  /** Values written since the last statement. */
  #n = 0;
  readonly #columns: number;
  readonly #many: StatementSync;
  readonly #one: StatementSync;

  constructor(db: DatabaseSync, table: string, columns: string[]) {
    this.#columns = columns.length;
    this.args = new Array(ROWS_PER_INSERT * columns.length).fill(null);
    const sql = `INSERT INTO ${table} (${columns.join(", ")}) VALUES `;
    const row = `(${columns.map(() => "?").join(", ")})`;
    this.#many = db.prepare(sql + Array(ROWS_PER_INSERT).fill(row).join(", "));
    this.#one = db.prepare(sql + row);
  }

  /** Where the next row's values go in `args` (a full statement's worth goes in first). */
  row(): number {
    if (this.#n === this.args.length) {
      this.#many.run(...this.args);
      this.#n = 0;
    }
    const at = this.#n;
    this.#n += this.#columns;
    return at;
  }

  /** Insert the rows written since the last statement (a full statement's worth at once, else one a statement). */
  finish(): void {
    const a = this.args;
    if (this.#n === a.length) this.#many.run(...a);
    else for (let i = 0; i < this.#n; i += this.#columns) this.#one.run(...a.slice(i, i + this.#columns));
    this.#n = 0;
  }

  /** Drop the rows waiting (their transaction is rolled back). */
  discard(): void {
    this.#n = 0;
  }
}

/**
 * Inserts batches of transactions through its own connection: many rows a
 * statement, one SQLite transaction a batch. Runs on the writer thread.
 */
export class TransactionInserter {
  readonly #db: DatabaseSync;
  readonly #rows: RowInserter;
  /** Per domain: its id and the rows stored so far in this run. */
  readonly #domains = new Map<string, { id: number; rows: number }>();
  /** Rows of the run stored so far (the next id is runId * 2^32 + this). */
  #seq = 0;
  readonly #addDomain: StatementSync;
  readonly #domainId: StatementSync;
  readonly #addHost: StatementSync;
  readonly #hostIdOf: StatementSync;
  /** Host numbers by address (a bounded cache of the hosts table). */
  readonly #hosts = new Map<string, number>();
  /** The texts rows refer to by number (see {@link TransactionBatch}). */
  readonly #texts: string[] = [];
  /** Per text: its host number once a row used it as an address, else -1. */
  readonly #textHosts: number[] = [];
  /** Per text: its id in the names table once a row asked it, else -1. */
  readonly #textNames: number[] = [];
  readonly #names: RowInserter;
  written = 0;

  constructor(path: string) {
    this.#db = new DatabaseSync(path);
    this.#db.exec("PRAGMA busy_timeout = 5000");
    this.#db.exec("PRAGMA synchronous = NORMAL");
    // Checkpoint every ~40 MB of WAL instead of every 4 MB: pages written again and again (the
    // index's, the table's last) are copied to the database once per checkpoint (~10 % faster).
    this.#db.exec("PRAGMA wal_autocheckpoint = 10000");
    this.#rows = new RowInserter(this.#db, "transactions", [
      "id",
      "ts",
      "client_id",
      "server_id",
      "query_id",
      "domain_id",
      "code",
    ]);
    this.#names = new RowInserter(this.#db, "names", ["id", "name"]);
    this.#addDomain = this.#db.prepare("INSERT OR IGNORE INTO domains (name) VALUES (?)");
    this.#domainId = this.#db.prepare("SELECT id FROM domains WHERE name = ?");
    this.#addHost = this.#db.prepare("INSERT OR IGNORE INTO hosts (address) VALUES (?)");
    this.#hostIdOf = this.#db.prepare("SELECT id FROM hosts WHERE address = ?");
  }

  /** The number of the host whose address is text number `text` of the batch table. */
  #host(text: number): number {
    let id = this.#textHosts[text];
    if (!(id >= 0)) {
      const address = this.#texts[text];
      id = this.#hosts.get(address) ?? -1;
      if (id < 0) {
        id = tableId(this.#addHost, this.#hostIdOf, address);
        // A cache of the hosts table: bounded, whatever the capture's addresses.
        if (this.#hosts.size >= HOSTS_KEPT) this.#hosts.clear();
        this.#hosts.set(address, id);
      }
      this.#textHosts[text] = id;
    }
    return id;
  }

  #domain(domain: string): { id: number; rows: number } {
    let d = this.#domains.get(domain);
    if (d === undefined) {
      d = { id: tableId(this.#addDomain, this.#domainId, domain), rows: 0 };
      this.#domains.set(domain, d);
    }
    return d;
  }

  /** Insert one batch in one SQLite transaction. */
  insert(b: TransactionBatch): void {
    const t = this.#texts;
    if (b.reset) t.length = this.#textHosts.length = this.#textNames.length = 0;
    if (t.length !== b.textBase) throw new Error(`text table out of step (${t.length}, batch starts at ${b.textBase})`);
    for (const x of b.texts) {
      t.push(x);
      this.#textHosts.push(-1);
      this.#textNames.push(-1);
    }
    this.#db.exec("BEGIN IMMEDIATE");
    try {
      this.#insertRows(b, t);
      this.#rows.finish();
      this.#names.finish();
      this.#db.exec("COMMIT");
    } catch (e) {
      this.#rows.discard();
      this.#names.discard();
      this.#db.exec("ROLLBACK");
      throw e;
    }
    this.written += b.rows;
  }

  // The row loop is a function of its own, with nothing after the loop: V8
  // compiles it mid-loop (on-stack replacement) before any code after the
  // loop has run, and such code then threw the compiled loop away at the end
  // of every batch (170 recompilations on the bench capture).
  #insertRows(b: TransactionBatch, t: string[]): void {
    const rows = this.#rows;
    const a = rows.args;
    const names = this.#textNames;
    const nameRows = this.#names;
    const nameArgs = nameRows.args;
    for (let i = 0; i < b.rows; i++) {
      const d = this.#domain(t[b.domain[i]]);
      const id = b.runId * RUN_SPAN + this.#seq++;
      // A name first asked here is stored under this row's id.
      const q = b.query[i];
      let nameId = names[q];
      if (!(nameId >= 0)) {
        nameId = names[q] = id;
        const n = nameRows.row();
        nameArgs[n] = id;
        nameArgs[n + 1] = t[q];
      }
      // In the column order of the inserter.
      const at = rows.row();
      a[at] = id;
      a[at + 1] = b.ts[i];
      a[at + 2] = this.#host(b.client[i]);
      a[at + 3] = this.#host(b.server[i]);
      a[at + 4] = nameId;
      a[at + 5] = d.id;
      a[at + 6] = packCode(d.rows++ < INDEXED_PER_DOMAIN, b.qtype[i], b.rcode[i] < 0 ? null : b.rcode[i], b.answers[i]);
    }
  }

  close(): void {
    this.#db.close();
  }
}

/** Messages between {@link TransactionWriter} and its thread (src/store/writer_worker.ts). */
export type WriterRequest =
  | { kind: "open"; path: string }
  | { kind: "batch"; batch: TransactionBatch }
  | { kind: "close" };
/** Replies of the writer thread: a batch committed, the connection closed, or a failure. */
export type WriterReply =
  | { kind: "ack" }
  | { kind: "done"; written: number }
  | { kind: "error"; message: string };

/**
 * Collects a run's transactions into column batches and hands them to a
 * writer thread. {@link TransactionWriter.ready} holds the producer back
 * while too many batches wait; {@link TransactionWriter.flush} writes the
 * rest and resolves when every row is committed (or rejects with the
 * thread's error).
 */
export class TransactionWriter {
  readonly #worker: Worker;
  readonly #runId: number;
  #batch: TransactionBatch;
  /** Texts sent so far, by number (the writer thread keeps the same table). */
  readonly #textIds = new Map<string, number>();
  /** Per text column (client, server, query, domain): the text of its last row and that text's number. */
  readonly #lastText: (string | undefined)[] = [undefined, undefined, undefined, undefined];
  readonly #lastId = new Int32Array(4);
  /** Query texts' numbers by the query name's number (see {@link Transaction.queryRef}). */
  readonly #byRef = new ByNameRef<number>(16);
  /** Per batch in flight, in the order sent: the characters of its new texts. */
  readonly #inFlight: number[] = [];
  /** Their sum. */
  #textChars = 0;
  /** Characters of the texts of the batch being filled. */
  #batchChars = 0;
  #wake: (() => void) | null = null;
  #closed: ((written: number) => void) | null = null;
  #error: Error | null = null;
  #fail: ((e: Error) => void) | null = null;

  constructor(path: string, runId: number) {
    this.#runId = runId;
    this.#batch = newBatch(runId, false, 0);
    this.#worker = new Worker(new URL("./writer_worker.ts", import.meta.url), { type: "module" });
    this.#worker.onmessage = (e: MessageEvent<WriterReply>) => {
      const m = e.data;
      if (m.kind === "ack") {
        this.#textChars -= this.#inFlight.shift()!;
        this.#wakeUp();
      } else if (m.kind === "done") this.#closed?.(m.written);
      else this.#failWith(new Error(`storing transactions failed: ${m.message}`));
    };
    this.#worker.onerror = (e) => {
      e.preventDefault();
      this.#failWith(new Error(`storing transactions failed: ${e.message}`));
    };
    this.#post({ kind: "open", path });
  }

  #failWith(e: Error): void {
    this.#error ??= e;
    this.#fail?.(e);
    this.#wakeUp();
  }

  #wakeUp(): void {
    const w = this.#wake;
    this.#wake = null;
    w?.();
  }

  #post(m: WriterRequest): void {
    if (m.kind === "batch") {
      const b = m.batch;
      this.#inFlight.push(this.#batchChars);
      this.#textChars += this.#batchChars;
      this.#batchChars = 0;
      const columns = [b.ts, b.qtype, b.rcode, b.answers, b.client, b.server, b.query, b.domain];
      this.#worker.postMessage(m, columns.map((c) => c.buffer) as ArrayBuffer[]);
    } else this.#worker.postMessage(m);
  }

  /** Queue one transaction of `domain`. */
  add(tx: Transaction, domain: string): void {
    const b = this.#batch;
    const i = b.rows++;
    b.ts[i] = tx.ts;
    b.qtype[i] = tx.qtype;
    b.rcode[i] = tx.rcode === null ? -1 : tx.rcode;
    b.answers[i] = tx.answers.length;
    b.client[i] = this.#textId(tx.client, 0);
    b.server[i] = this.#textId(tx.server, 1);
    const ref = queryRefOf(tx);
    let query = this.#byRef.get(ref);
    if (query === undefined) {
      query = this.#textId(tx.query, 2);
      this.#byRef.set(ref, query);
    }
    b.query[i] = query;
    b.domain[i] = this.#textId(domain, 3);
    if (b.rows === BATCH_ROWS) {
      this.#post({ kind: "batch", batch: b });
      this.#batch = this.#nextBatch();
    }
  }

  /**
   * The number of a text in the shared table (new ones travel with the
   * batch). A column's rows often repeat the text before (one client's
   * burst, one domain's): that needs no lookup.
   */
  #textId(text: string, column: number): number {
    if (text === this.#lastText[column]) return this.#lastId[column];
    let id = this.#textIds.get(text);
    if (id === undefined) {
      id = this.#textIds.size;
      this.#textIds.set(text, id);
      this.#batch.texts.push(text);
      this.#batchChars += text.length;
    }
    this.#lastText[column] = text;
    this.#lastId[column] = id;
    return id;
  }

  /** A new batch; the table starts over at a batch boundary once it is full. */
  #nextBatch(): TransactionBatch {
    const reset = this.#textIds.size >= TEXT_LIMIT;
    if (reset) {
      this.#textIds.clear();
      this.#lastText.fill(undefined);
      this.#byRef.clear();
    }
    return newBatch(this.#runId, reset, this.#textIds.size);
  }

  /** Ask the thread to close once its batches are in; resolves with the rows it wrote, rejects with its failure. */
  #close(): Promise<number> {
    const done = new Promise<number>((resolve, reject) => {
      this.#closed = resolve;
      this.#fail = reject;
      if (this.#error !== null) reject(this.#error);
    });
    this.#post({ kind: "close" });
    return done;
  }

  /** Resolves once few enough batches wait; rejects when the thread failed. */
  ready(): Promise<void> {
    if (this.#error !== null) return Promise.reject(this.#error);
    const batches = this.#inFlight.length;
    if (batches < MAX_IN_FLIGHT && (this.#textChars < MAX_TEXT_IN_FLIGHT || batches === 0)) {
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => this.#wake = resolve).then(() => this.ready());
  }

  /** Write what is queued; resolves with the rows written once all are committed. */
  flush(): Promise<number> {
    if (this.#batch.rows > 0) this.#post({ kind: "batch", batch: this.#batch });
    this.#batch = this.#nextBatch();
    return this.#close().finally(() => this.#worker.terminate());
  }

  /**
   * The run failed: let the thread finish the batches it has and close its
   * connection (so no write lock outlives it), then stop it. Never rejects.
   */
  async abort(): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<void>((resolve) => timer = setTimeout(resolve, 30_000));
    await Promise.race([this.#close().then(() => {}, () => {}), late]);
    clearTimeout(timer);
    this.#worker.terminate();
  }
}
