/**
 * The analyzer's spill (see {@link SeedSpill}): seeds in a SQLite file of
 * their own beside the workspace's database, removed from the directory as
 * soon as it is open (the file lives while the run holds it, and nothing is
 * left behind when the process ends, however it ends). SQLite keeps a few
 * MB of pages in memory; the rest is on the disk the user chose for the
 * store, never in a memory-backed /tmp.
 *
 * A seed's characters are 0–255 where the input's were (see seed.ts): such a
 * seed is kept as one byte a character, any other as UTF-16, so every seed
 * comes back exactly as it went in.
 *
 * @module
 */

import { DatabaseSync, type StatementSync } from "node:sqlite";
import type { SeedSpill } from "../analysis/seed.ts";

/** A {@link SeedSpill} in a SQLite file at `path` (created, and unlinked once open). */
export class SqliteSeedSpill implements SeedSpill {
  readonly #db: DatabaseSync;
  readonly #put: StatementSync;
  readonly #get: StatementSync;
  readonly #forget: StatementSync;
  readonly #all: StatementSync;
  /** The number of the next {@link put} (a domain's seeds are joined in this order). */
  #batch = 0;
  /** The file's path while it could not be unlinked. */
  #leftAt: string | null = null;

  /** A new spill file at `path` (which must not be in use), unlinked once open. */
  constructor(path: string) {
    // Not defensive: a private file may go without a journal (a defensive connection keeps one). Node's option,
    // which Deno's types do not list yet.
    const options: ConstructorParameters<typeof DatabaseSync>[1] & { defensive: boolean } = { defensive: false };
    this.#db = new DatabaseSync(path, options);
    try {
      // Nothing to recover after a crash, and nothing another process reads: no journal, no syncs. The lock is
      // taken once and kept (SQLite refuses to write a file it finds unlinked when it locks it again).
      this.#db.exec("PRAGMA journal_mode = OFF");
      this.#db.exec("PRAGMA synchronous = OFF");
      this.#db.exec("PRAGMA locking_mode = EXCLUSIVE");
      this.#db.exec("PRAGMA cache_size = -4096");
      this.#db.exec("PRAGMA temp_store = FILE");
      this.#db.exec(
        "CREATE TABLE seeds (domain TEXT NOT NULL, batch INTEGER NOT NULL, seed BLOB NOT NULL, PRIMARY KEY (domain, batch)) WITHOUT ROWID",
      );
      try {
        Deno.removeSync(path);
      } catch {
        // A system that keeps an open file from being unlinked (Windows): it goes when the spill is closed.
        this.#leftAt = path;
      }
    } catch (e) {
      this.#db.close();
      throw e;
    }
    this.#put = this.#db.prepare("INSERT INTO seeds (domain, batch, seed) VALUES (?, ?, ?)");
    this.#get = this.#db.prepare("SELECT seed FROM seeds WHERE domain = ? ORDER BY batch");
    this.#forget = this.#db.prepare("DELETE FROM seeds WHERE domain = ?");
    this.#all = this.#db.prepare("SELECT domain, seed FROM seeds ORDER BY domain, batch");
  }

  put(seeds: Iterable<readonly [string, string]>): void {
    const batch = this.#batch++;
    // In the order of the key: the table's pages fill one after another instead of splitting at random.
    const sorted = [...seeds].sort((a, b) => a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);
    this.#db.exec("BEGIN");
    try {
      for (const [domain, seed] of sorted) this.#put.run(domain, batch, seedBytes(seed));
      this.#db.exec("COMMIT");
    } catch (e) {
      if (this.#db.isTransaction) this.#db.exec("ROLLBACK");
      throw e;
    }
  }

  get(domain: string): string {
    let seed = "";
    for (const row of this.#get.iterate(domain)) seed += seedText(row.seed as Uint8Array);
    return seed;
  }

  take(domain: string): string {
    const seed = this.get(domain);
    if (seed !== "") this.#forget.run(domain);
    return seed;
  }

  *entries(): Generator<[string, string]> {
    let domain: string | null = null, seed = "";
    for (const row of this.#all.iterate()) {
      const d = row.domain as string;
      if (d !== domain) {
        if (domain !== null) yield [domain, seed];
        domain = d;
        seed = "";
      }
      seed += seedText(row.seed as Uint8Array);
    }
    if (domain !== null) yield [domain, seed];
  }

  /** Close the file (its space goes back to the disk). */
  close(): void {
    if (this.#db.isOpen) this.#db.close();
    if (this.#leftAt !== null) {
      try {
        Deno.removeSync(this.#leftAt);
      } catch {
        // Gone already.
      }
      this.#leftAt = null;
    }
  }

  /** As {@link close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}

/** One byte a character when every character is 0–255 (a first byte 0), else UTF-16 (a first byte 1). */
function seedBytes(seed: string): Uint8Array {
  let wide = false;
  for (let i = 0; i < seed.length && !wide; i++) wide = seed.charCodeAt(i) > 0xff;
  if (!wide) {
    const out = new Uint8Array(seed.length + 1);
    for (let i = 0; i < seed.length; i++) out[i + 1] = seed.charCodeAt(i);
    return out;
  }
  const out = new Uint8Array(1 + 2 * seed.length);
  out[0] = 1;
  for (let i = 0; i < seed.length; i++) {
    const c = seed.charCodeAt(i);
    out[1 + 2 * i] = c & 0xff;
    out[2 + 2 * i] = c >>> 8;
  }
  return out;
}

/** The seed {@link seedBytes} kept. */
function seedText(bytes: Uint8Array): string {
  const wide = bytes[0] === 1;
  const n = wide ? (bytes.length - 1) >>> 1 : bytes.length - 1;
  const codes = new Uint16Array(n);
  for (let i = 0; i < n; i++) codes[i] = wide ? bytes[1 + 2 * i] | (bytes[2 + 2 * i] << 8) : bytes[1 + i];
  let s = "";
  for (let i = 0; i < n; i += 8192) s += String.fromCharCode(...codes.subarray(i, Math.min(n, i + 8192)));
  return s;
}
