/**
 * What can be wrong with a workspace's database that the user can fix: a
 * file from a newer Plumbum, a file that is not Plumbum's, a missing or
 * unreadable one. Commands report these as input errors (exit 1), never as
 * bugs.
 *
 * @module
 */

/** A problem with the database file the user can fix; the message says how. */
export class StoreError extends Error {
  /** The database file. */
  readonly path: string;

  /** A store problem with the database at `path`, said in `message`. */
  constructor(path: string, message: string) {
    super(message);
    this.name = "StoreError";
    this.path = path;
  }
}

/** The file's schema version is not the one this build reads. */
export class SchemaVersionError extends StoreError {
  /** The file's schema version, and the one this build reads. */
  readonly found: number;
  /** The schema version this Plumbum reads and writes. */
  readonly supported: number;

  /** A file at schema version `found` where this Plumbum has `supported`. */
  constructor(path: string, found: number, supported: number, message: string) {
    super(path, message);
    this.name = "SchemaVersionError";
    this.found = found;
    this.supported = supported;
  }
}

/** The file was written by a newer Plumbum (its schema version is past this build's). */
export class SchemaTooNewError extends SchemaVersionError {
  /** A file a newer Plumbum wrote. */
  constructor(path: string, found: number, supported: number) {
    super(
      path,
      found,
      supported,
      `${path} has schema version ${found}, newer than this Plumbum (${supported}); upgrade Plumbum or use another --dir`,
    );
    this.name = "SchemaTooNewError";
  }
}

/** The file was written by an older Plumbum and must be upgraded by a writer before it can be read. */
export class SchemaTooOldError extends SchemaVersionError {
  /** A file an older Plumbum wrote (a writer upgrades it). */
  constructor(path: string, found: number, supported: number) {
    super(
      path,
      found,
      supported,
      `${path} has schema version ${found}, older than this Plumbum's (${supported}); open it once with write access (plumbum runs) to upgrade it`,
    );
    this.name = "SchemaTooOldError";
  }
}

/** The file is missing, unreadable, or not a Plumbum database. */
export class DatabaseUnreadableError extends StoreError {
  /** A file that is not a readable Plumbum database. */
  constructor(path: string, message: string) {
    super(path, message);
    this.name = "DatabaseUnreadableError";
  }
}
