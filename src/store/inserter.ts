/**
 * The writer thread's side: batches of transactions inserted through the
 * thread's own connection, many rows a statement, one SQLite transaction a
 * batch.
 *
 * @module
 */

import { DatabaseSync, type StatementSync } from "node:sqlite";
import type { TransactionBatch } from "./batch.ts";
import { INDEXED_PER_DOMAIN, packCode, RUN_SPAN } from "./schema.ts";

/** Rows per INSERT statement: one call binds many rows (measured ~40 % faster than one row a call). */
const ROWS_PER_INSERT = 64;
/** Host numbers the writer thread keeps by address before it starts over (bounds its memory). */
const HOSTS_KEPT = 1 << 16;
/**
 * Domains the writer thread keeps (id, and rows stored in this run) before it starts over at the next batch: a
 * million domains asked once held 100 MB here. A domain met again after that has its indexed rows counted.
 */
const DOMAINS_KEPT = 1 << 16;

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
  /** Per domain: its id and the rows stored so far in this run (up to {@link DOMAINS_KEPT} domains). */
  readonly #domains = new Map<string, { id: number; rows: number }>();
  readonly #domainsKept: number;
  /** The run whose rows this inserter writes, once a batch said (the range of its row ids). */
  #runId = -1;
  /** Whether domains were let go (one met again may have rows stored). */
  #forgot = false;
  readonly #indexedRows: StatementSync;
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

  /** `domainsKept`: as {@link DOMAINS_KEPT} (smaller in tests). */
  constructor(path: string, domainsKept = DOMAINS_KEPT) {
    this.#domainsKept = domainsKept;
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
    // Through the partial index of the indexed rows (its WHERE as written in the schema).
    this.#indexedRows = this.#db.prepare(
      `SELECT count(*) AS n FROM (SELECT 1 FROM transactions WHERE domain_id = ? AND id >= ? AND id < ? AND code & 1 = 1 LIMIT ${INDEXED_PER_DOMAIN})`,
    );
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
      const id = tableId(this.#addDomain, this.#domainId, domain);
      // Only the indexed rows matter (the first INDEXED_PER_DOMAIN of the run): they are all stored by now.
      const lo = this.#runId * RUN_SPAN;
      const rows = this.#forgot ? (this.#indexedRows.get(id, lo, lo + RUN_SPAN) as { n: number }).n : 0;
      d = { id, rows };
      this.#domains.set(domain, d);
    }
    return d;
  }

  /** Insert one batch in one SQLite transaction. */
  insert(b: TransactionBatch): void {
    const t = this.#texts;
    if (b.reset) t.length = this.#textHosts.length = this.#textNames.length = 0;
    if (t.length !== b.textBase) throw new Error(`text table out of step (${t.length}, batch starts at ${b.textBase})`);
    this.#runId = b.runId;
    // Between batches, when every row before is in the table.
    if (this.#domains.size >= this.#domainsKept) {
      this.#domains.clear();
      this.#forgot = true;
    }
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
      if (this.#db.isTransaction) this.#db.exec("ROLLBACK");
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
