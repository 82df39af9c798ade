/**
 * The read side of a workspace's database: runs, findings, evidence and
 * stored transactions, through a read-only connection. `show`, `explain`,
 * `export`, `runs`, the MCP server and the dashboard all read through a
 * {@link ResultsReader}; it needs no write permission on the file or its
 * folder, checks the schema version first, and never blocks a writer nor
 * waits for one (WAL: each read sees the last commit).
 *
 * @module
 */

import { DatabaseSync } from "node:sqlite";
import { DatabaseUnreadableError, SchemaTooNewError, SchemaTooOldError } from "./errors.ts";
import { INDEXED_PER_DOMAIN, READ_TRANSACTIONS, runIds, SCHEMA_VERSION } from "./schema.ts";
import type { RunRecord, StoredFinding, StoredTransaction } from "./types.ts";
import type { Severity } from "../analysis/model.ts";
import type { PayloadSummary } from "../analysis/types.ts";
import { fileIdentity } from "../files.ts";
import { interruptedReason, runIsDead } from "./liveness.ts";

/** Reads a workspace's results. */
export class ResultsReader {
  /** The connection (read-only for a reader opened with {@link ResultsReader.open}). */
  readonly db: DatabaseSync;
  /** The database file. */
  readonly path: string;
  #dataVersion = -1;
  /** The file's device and inode when it was opened (null: unknown). */
  readonly #identity: { dev: number; ino: number } | null;

  /** A reader over an open connection (see {@link ResultsReader.open}), to the file `identity` names (seen before it was opened). */
  protected constructor(
    db: DatabaseSync,
    path: string,
    identity: { dev: number; ino: number } | null = fileIdentity(path),
  ) {
    this.db = db;
    this.path = path;
    this.#identity = identity;
  }

  /**
   * Whether the file at {@link path} is no longer the one this reader
   * opened: deleted, or replaced by another (a new workspace made in its
   * place). A reader kept open (the MCP server, the dashboard) asks before
   * it answers, and opens the new file.
   */
  replaced(): boolean {
    const now = fileIdentity(this.path);
    return now === null || this.#identity === null || now.dev !== this.#identity.dev ||
      now.ino !== this.#identity.ino;
  }

  /**
   * Open `path` read-only. Throws {@link DatabaseUnreadableError} when it is
   * missing or not a Plumbum database, {@link SchemaTooNewError} when a
   * newer Plumbum wrote it and {@link SchemaTooOldError} when an older one
   * did (a writer upgrades it).
   */
  static open(path: string): ResultsReader {
    // Seen before it is opened: a file replaced in between is noticed by the first replaced().
    const identity = fileIdentity(path);
    const db = openReadOnly(path);
    try {
      const v = readSchemaVersion(db, path);
      if (v > SCHEMA_VERSION) throw new SchemaTooNewError(path, v, SCHEMA_VERSION);
      if (v < SCHEMA_VERSION) {
        if (v === 0) throw new DatabaseUnreadableError(path, `${path} holds no Plumbum results (an empty database)`);
        throw new SchemaTooOldError(path, v, SCHEMA_VERSION);
      }
      db.exec("PRAGMA busy_timeout = 5000");
    } catch (e) {
      if (db.isOpen) db.close();
      throw e;
    }
    return new ResultsReader(db, path, identity);
  }

  /** Close the connection. */
  close(): void {
    this.db.close();
  }

  /**
   * Whether another connection committed since the last call (the first
   * call says true): a reader that stays open asks this to notice new runs.
   */
  changed(): boolean {
    const v = (this.db.prepare("PRAGMA data_version").get() as { data_version: number }).data_version;
    const changed = v !== this.#dataVersion;
    this.#dataVersion = v;
    return changed;
  }

  /** The latest complete run's id, or null when there is none. */
  latestRunId(): number | null {
    const row = this.db.prepare("SELECT max(id) AS id FROM runs WHERE status = 'complete'").get() as {
      id: number | null;
    };
    return row.id;
  }

  /** A run from its row in the runs table. */
  protected runFromRow(row: Record<string, unknown>): RunRecord {
    // A reader writes nothing: a run whose process is gone reads as failed until a writer marks it so.
    const dead = row.status === "running" &&
      runIsDead(
        this.path,
        { id: row.id as number, pid: row.pid as number | null, heartbeat: row.heartbeat as number | null },
        true,
      );
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
      status: dead ? "failed" : row.status as RunRecord["status"],
      pid: row.pid as number | null,
      started_at: row.started_at as string,
      finished_at: row.finished_at as string | null,
      config: JSON.parse(row.config as string),
      transactions: row.transactions as number,
      domains: row.domains as number,
      error: dead ? interruptedReason(row.pid as number | null) : row.error as string | null,
      timings: row.timings === null ? null : JSON.parse(row.timings as string),
      sources,
    };
  }

  /** A run by id, or the latest complete run when `id` is undefined. */
  run(id?: number): RunRecord | null {
    const want = id ?? this.latestRunId();
    if (want === null) return null;
    const row = this.db.prepare("SELECT * FROM runs WHERE id = ?").get(want);
    return row === undefined ? null : this.runFromRow(row as Record<string, unknown>);
  }

  /** Every run, newest first. */
  runs(): RunRecord[] {
    return (this.db.prepare("SELECT * FROM runs ORDER BY id DESC").all() as Record<string, unknown>[]).map((r) =>
      this.runFromRow(r)
    );
  }

  /** Findings of a run, highest score first. */
  findings(runId: number, options: { withEvidence?: boolean } = {}): StoredFinding[] {
    const rows = this.db.prepare(
      `SELECT s.domain, s.score, s.severity, s.is_c2, s.features, s.components, s.tool, s.suppressed, ${
        options.withEvidence ? "e.evidence" : "NULL AS evidence"
      }
       FROM domain_scores s LEFT JOIN evidence e ON e.run_id = s.run_id AND e.domain = s.domain
       WHERE s.run_id = ? ORDER BY s.score DESC, s.domain ASC`,
    ).all(runId) as Record<string, unknown>[];
    return rows.map(toFinding);
  }

  /**
   * A page of a run's findings (without evidence) that match `q`, in its
   * order, and how many match: filtered, sorted and cut by SQLite, so a run
   * of 100 000 domains answers without reading them all.
   */
  findingsPage(runId: number, q: FindingsQuery): { total: number; findings: StoredFinding[] } {
    const { where, params } = findingsWhere(runId, q);
    const total = (this.db.prepare(`SELECT count(*) AS n FROM domain_scores WHERE ${where}`).get(...params) as {
      n: number;
    }).n;
    const rows = this.db.prepare(
      `SELECT domain, score, severity, is_c2, features, components, tool, suppressed, NULL AS evidence FROM domain_scores
       WHERE ${where} ORDER BY ${ORDERS[q.sort ?? "score"]} LIMIT ? OFFSET ?`,
    ).all(...params, q.limit, q.offset) as Record<string, unknown>[];
    return { total, findings: rows.map(toFinding) };
  }

  /**
   * A run's domains in the order `q` sorts them, filtered as it says (its
   * limit and offset are not used), as row numbers for
   * {@link ResultsReader.tableRows}: what a navigable table pages through.
   * Numbers, not names: 100 000 of them are 0.8 MB. By score or name it
   * reads an index alone.
   */
  domainOrder(runId: number, q: Omit<FindingsQuery, "limit" | "offset">): number[] {
    const { where, params } = findingsWhere(runId, q);
    const st = this.db.prepare(`SELECT rowid FROM domain_scores WHERE ${where} ORDER BY ${ORDERS[q.sort ?? "score"]}`);
    (st as unknown as { setReturnArrays(on: boolean): void }).setReturnArrays(true);
    const ids: number[] = [];
    for (const row of st.iterate(...params) as unknown as Iterable<[number]>) ids.push(row[0]);
    return ids;
  }

  /** Table rows of a run's domains by their row numbers (see {@link ResultsReader.domainOrder}), in no particular order. */
  tableRows(runId: number, ids: number[]): TableRow[] {
    if (ids.length === 0) return [];
    return this.#tableRows(`AND s.rowid IN (${ids.map(() => "?").join(", ")})`, runId, ...ids);
  }

  /** Every table row of a run, highest score first (then by name). */
  allTableRows(runId: number): TableRow[] {
    return this.#tableRows("ORDER BY s.score DESC, s.domain", runId);
  }

  #tableRows(tail: string, ...params: number[]): TableRow[] {
    return this.db.prepare(
      `SELECT s.rowid AS id, s.domain, s.score, s.severity, s.is_c2,
         json_extract(s.features, '$.query_count') AS queries,
         json_extract(s.features, '$.client_count') AS clients,
         json_extract(s.features, '$.subdomain_count') AS names,
         json_extract(s.features, '$.upstream_capacity') + json_extract(s.features, '$.downstream_capacity') AS capacity,
         json_extract(e.evidence, '$.first_seen') AS first_seen, json_extract(e.evidence, '$.last_seen') AS last_seen
       FROM domain_scores s LEFT JOIN evidence e ON e.run_id = s.run_id AND e.domain = s.domain
       WHERE s.run_id = ? ${tail}`,
    ).all(...params).map((r) => ({ ...(r as unknown as TableRow), is_c2: (r as { is_c2: number }).is_c2 === 1 }));
  }

  /** A run's domains by severity. */
  severityCounts(runId: number): Record<Severity, number> {
    // One pass over the rank index (a GROUP BY sorted it again: 5x slower on 100 000 domains).
    const row = this.db.prepare(
      `SELECT coalesce(sum(severity = 'LOW'), 0) AS LOW, coalesce(sum(severity = 'MEDIUM'), 0) AS MEDIUM,
              coalesce(sum(severity = 'HIGH'), 0) AS HIGH, coalesce(sum(severity = 'CRITICAL'), 0) AS CRITICAL
       FROM domain_scores WHERE run_id = ?`,
    ).get(runId) as Record<Severity, number>;
    return { LOW: row.LOW, MEDIUM: row.MEDIUM, HIGH: row.HIGH, CRITICAL: row.CRITICAL };
  }

  /** Up to `limit` of a run's scored names that start with `prefix`, in order (through the key). */
  domainNamesFrom(runId: number, prefix: string, limit: number): string[] {
    const rows = this.db.prepare(
      "SELECT domain FROM domain_scores WHERE run_id = ? AND domain >= ? ORDER BY domain LIMIT ?",
    ).all(runId, prefix, limit) as { domain: string }[];
    const out: string[] = [];
    for (const r of rows) {
      if (!r.domain.startsWith(prefix)) break;
      out.push(r.domain);
    }
    return out;
  }

  /** One domain's finding (with evidence), or null. */
  finding(runId: number, domain: string): StoredFinding | null {
    const row = this.db.prepare(
      `SELECT s.domain, s.score, s.severity, s.is_c2, s.features, s.components, s.tool, s.suppressed, e.evidence, c.payload
       FROM domain_scores s LEFT JOIN evidence e ON e.run_id = s.run_id AND e.domain = s.domain
         LEFT JOIN carvings c ON c.run_id = s.run_id AND c.domain = s.domain
       WHERE s.run_id = ? AND s.domain = ?`,
    ).get(runId, domain) as Record<string, unknown> | undefined;
    if (row === undefined) return null;
    const f = toFinding(row);
    if (typeof row.payload === "string" && f.evidence !== undefined) f.evidence.payload = JSON.parse(row.payload);
    return f;
  }

  /** What carvings found, by domain, for a run's carved domains. */
  carvings(runId: number): Map<string, PayloadSummary> {
    const rows = this.db.prepare("SELECT domain, payload FROM carvings WHERE run_id = ?").all(runId) as {
      domain: string;
      payload: string;
    }[];
    return new Map(rows.map((r) => [r.domain, JSON.parse(r.payload)]));
  }

  /** All scored domain names of a run. */
  domainNames(runId: number): string[] {
    return (this.db.prepare("SELECT domain FROM domain_scores WHERE run_id = ?").all(runId) as { domain: string }[])
      .map((r) => r.domain);
  }

  /**
   * Stored transactions of one domain in a run (time order), `limit` of
   * them from the `offset`th: through the index within the domain's first
   * {@link INDEXED_PER_DOMAIN} rows, by a scan of the run's rows beyond.
   */
  transactions(
    runId: number,
    domain: string,
    limit = INDEXED_PER_DOMAIN,
    offset = 0,
  ): StoredTransaction[] {
    const sql = offset + limit <= INDEXED_PER_DOMAIN ? READ_TRANSACTIONS.indexed : READ_TRANSACTIONS.scan;
    return this.db.prepare(sql).all(...runIds(runId), domain, limit, offset) as unknown as StoredTransaction[];
  }

  /**
   * A run's stored transactions counted per bucket of capture time (a
   * minute, longer when the run spans more than {@link ACTIVITY_BUCKETS}
   * minutes): the first bucket's start and every bucket's count; null when
   * the run stored none.
   */
  activity(runId: number): { start: number; bucket_secs: number; counts: number[] } | null {
    const [lo, hi] = runIds(runId);
    const span = this.db.prepare("SELECT min(ts) AS a, max(ts) AS b FROM transactions WHERE id >= ? AND id < ?")
      .get(lo, hi) as { a: number | null; b: number | null };
    if (span.a === null || span.b === null) return null;
    const bucket = 60 * Math.max(1, Math.ceil((span.b - span.a) / 60 / ACTIVITY_BUCKETS));
    const first = Math.floor(span.a / bucket);
    const counts = new Array<number>(Math.floor(span.b / bucket) - first + 1).fill(0);
    const rows = this.db.prepare(
      "SELECT CAST(ts / ? AS INTEGER) AS k, count(*) AS n FROM transactions WHERE id >= ? AND id < ? GROUP BY k",
    ).all(bucket, lo, hi) as { k: number; n: number }[];
    for (const r of rows) if (r.k - first >= 0 && r.k - first < counts.length) counts[r.k - first] += r.n;
    return { start: first * bucket, bucket_secs: bucket, counts };
  }

  /** `PRAGMA integrity_check` result ("ok" when sound). */
  integrityCheck(): string {
    const rows = this.db.prepare("PRAGMA integrity_check").all() as { integrity_check: string }[];
    return rows.map((r) => r.integrity_check).join("; ");
  }

  /** Current schema version of the file. */
  schemaVersion(): number {
    return (this.db.prepare("PRAGMA user_version").get() as { user_version: number }).user_version;
  }
}

/** Buckets of {@link ResultsReader.activity} at most (a minute each up to this many minutes). */
const ACTIVITY_BUCKETS = 2000;

/** One row of a findings table (see {@link ResultsReader.tableRows}). */
export interface TableRow {
  /** The row's number (see {@link ResultsReader.domainOrder}). */
  id: number;
  /** The parent domain. */
  domain: string;
  /** Its score, 0 to 100. */
  score: number;
  /** Its severity. */
  severity: Severity;
  /** Whether it is under a named C2 suffix. */
  is_c2: boolean;
  /** Its transactions. */
  queries: number;
  /** Its distinct clients. */
  clients: number;
  /** Distinct names under the domain. */
  names: number;
  /** Bytes that could have moved (up in distinct names, down in distinct answers). */
  capacity: number;
  /** Time of its first query (seconds since the epoch), or null. */
  first_seen: number | null;
  /** Time of its last query (seconds since the epoch), or null. */
  last_seen: number | null;
}

const ORDERS = {
  score: "score DESC, domain ASC",
  queries: "json_extract(features, '$.query_count') DESC, domain ASC",
  capacity:
    "json_extract(features, '$.upstream_capacity') + json_extract(features, '$.downstream_capacity') DESC, domain ASC",
  name: "domain ASC",
} as const;

/** The WHERE clause (and its parameters) of a findings query. */
function findingsWhere(
  runId: number,
  q: Omit<FindingsQuery, "limit" | "offset">,
): { where: string; params: (number | string)[] } {
  const where = ["run_id = ?"];
  const params: (number | string)[] = [runId];
  if (q.minScore !== undefined) {
    where.push("score >= ?");
    params.push(q.minScore - 1e-9);
  }
  if (q.severities !== undefined) {
    where.push(`severity IN (${q.severities.map(() => "?").join(", ") || "NULL"})`);
    params.push(...q.severities);
  }
  if (q.contains !== undefined && q.contains !== "") {
    where.push("instr(domain, ?) > 0");
    params.push(q.contains);
  }
  return { where: where.join(" AND "), params };
}

/** What {@link ResultsReader.findingsPage} filters and orders by. */
export interface FindingsQuery {
  /** Scores at least this. */
  minScore?: number;
  /** Only these severities. */
  severities?: Severity[];
  /** Names that contain this text. */
  contains?: string;
  /** Highest score first (default), most queries, most capacity, or by name. */
  sort?: "score" | "queries" | "capacity" | "name";
  /** Findings in the page at most. */
  limit: number;
  /** Findings skipped before the page. */
  offset: number;
}

function toFinding(r: Record<string, unknown>): StoredFinding {
  const evidence = r.evidence === null || r.evidence === undefined ? undefined : JSON.parse(r.evidence as string);
  return {
    domain: r.domain as string,
    score: r.score as number,
    severity: r.severity as StoredFinding["severity"],
    is_c2: r.is_c2 === 1,
    features: JSON.parse(r.features as string),
    components: JSON.parse(r.components as string),
    evidence: evidence as StoredFinding["evidence"],
    tool: typeof r.tool === "string" ? JSON.parse(r.tool) : null,
    suppressed: typeof r.suppressed === "string" ? JSON.parse(r.suppressed) : null,
  };
}
/** Open `path` read-only, saying what is wrong when it cannot be. */
function openReadOnly(path: string): DatabaseSync {
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new DatabaseUnreadableError(path, `${path} does not exist`);
    throw new DatabaseUnreadableError(path, `cannot read ${path}: ${(e as Error).message}`);
  }
  if (!info.isFile) throw new DatabaseUnreadableError(path, `${path} is not a file`);
  if (info.size === 0) {
    throw new DatabaseUnreadableError(
      path,
      `${path} is empty (0 bytes): it holds no results; move it away to start over`,
    );
  }
  try {
    return new DatabaseSync(path, { readOnly: true });
  } catch (e) {
    throw new DatabaseUnreadableError(path, `cannot open ${path}: ${(e as Error).message}`);
  }
}

/** The file's schema version; a file that is not SQLite is said to be so. */
function readSchemaVersion(db: DatabaseSync, path: string): number {
  try {
    return (db.prepare("PRAGMA user_version").get() as { user_version: number }).user_version;
  } catch (e) {
    const m = (e as Error).message;
    if (/unable to open/.test(m)) {
      // In WAL mode a reader must open the WAL index beside the file; a writer leaves the file out of WAL mode
      // when it closes, so this is a writer running, or one that was killed, in a folder this reader cannot write.
      throw new DatabaseUnreadableError(
        path,
        `cannot read ${path} (${m}): a Plumbum that writes it is running or was interrupted, and its folder is read-only here; read it where it can be written, or after any plumbum command that writes it has finished there`,
      );
    }
    throw new DatabaseUnreadableError(
      path,
      `${path} is not a Plumbum database (${m}); point --dir at a workspace, or move the file away`,
    );
  }
}
