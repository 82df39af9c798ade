/**
 * The database's shape: migrations (the schema version is their count),
 * how a transaction row packs its small fields, how a run's rows are
 * keyed, and the statements that read a domain's rows. Both the main
 * thread and the writer thread load this file.
 *
 * @module
 */

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
  // 7: a run's domains ranked in an index (score, then name, with the
  // severity): a page of the top domains, counts by severity and a score
  // floor read the index alone. Without it a run of 100 000 domains was
  // read whole (features and evidence inline) for each page: 170 ms.
  `CREATE INDEX domain_scores_rank ON domain_scores (run_id, score DESC, domain, severity);`,
  // 8: the lease a running run renews. A PID proves nothing (another PID
  // namespace; Deno lets no reader look at /proc): a live run was taken for
  // dead and its rows deleted. A run's lock file says (run_lock.ts), and the
  // lease covers a run without one.
  `ALTER TABLE runs ADD COLUMN heartbeat REAL;`,
  // 9: the tunnel tool a finding names (JSON {name, evidence}, or NULL), beside its score: listings (export, the
  // MCP server's pages) read it without parsing each domain's evidence document (on 136 000 domains, reading every
  // finding took ~1.4 s with json_extract over the evidence, ~0.76 s without). Runs stored before have NULL.
  `ALTER TABLE domain_scores ADD COLUMN tool TEXT;`,
  // 10: what `plumbum carve` found a domain's traffic carried (JSON: each client's decoded streams, their encoding,
  // framing, size, SHA-256 and what they look like), shown by explain, export, the MCP server and the dashboard.
  `CREATE TABLE carvings (run_id INTEGER NOT NULL, domain TEXT NOT NULL, payload TEXT NOT NULL,
     PRIMARY KEY (run_id, domain));`,
  // 11: a finding the site's allow-list suppressed (JSON {entry, reason, expires}, or NULL): still scored and stored,
  // left out of listings by default and counted there.
  `ALTER TABLE domain_scores ADD COLUMN suppressed TEXT;`,
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
    ORDER BY ts LIMIT ? OFFSET ?`,
  scan: `SELECT ts, client, server, query, qtype, rcode, answers FROM transactions_readable
    WHERE id >= ? AND id < ? AND domain = ? ORDER BY ts LIMIT ? OFFSET ?`,
};

/** A run's transactions have ids from `runId * RUN_SPAN` on. */
export const RUN_SPAN = 2 ** 32;

/** The ids of a run's transactions: from the first (inclusive) to the next run's first (exclusive). */
export function runIds(runId: number): [number, number] {
  return [runId * RUN_SPAN, (runId + 1) * RUN_SPAN];
}
/**
 * Rows of each domain in a run that the (partial) index covers: what
 * `explain --feature` lists. Each indexed row costs ~30 % more to store.
 */
export const INDEXED_PER_DOMAIN = 200;

/** The schema version this build writes. */
export const SCHEMA_VERSION = MIGRATIONS.length;
