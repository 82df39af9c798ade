/**
 * The workspace as the MCP server reads it: opened on first use (a
 * workspace made later is found), reopened when its database is replaced,
 * and its runs and domains looked up with answers a client can act on.
 *
 * @module
 */

import type { DomainFinding } from "../analysis/analyze.ts";
import { lookupDomain, lookupRun, nameTooLong } from "../present/lookup.ts";
import { SchemaTooOldError, StoreError } from "../store/errors.ts";
import { ResultsReader } from "../store/reader.ts";
import type { RunRecord } from "../store/types.ts";
import { Answer, q, TRAFFIC_NOTE } from "./answer.ts";
import { workspacePaths } from "../workspace/paths.ts";

/** The workspace as the server reads it: opened on first use, so a workspace made later is found. */
export class Workspace {
  readonly dir: string;
  readonly dbPath: string;
  #reader: ResultsReader | null = null;

  constructor(dir: string) {
    ({ dir: this.dir, dbPath: this.dbPath } = workspacePaths(dir));
  }

  /** The reader of the workspace's database: reopened when the file was deleted or replaced since. */
  reader(): ResultsReader {
    if (this.#reader !== null && !this.#reader.replaced()) return this.#reader;
    this.close();
    try {
      Deno.statSync(this.dbPath);
    } catch (e) {
      if (e instanceof Deno.errors.NotCapable) {
        throw new Answer(
          `the server was not given read access to ${this.dir}/: start it with Deno's --allow-read (deno run --allow-read --allow-env mcp.ts …)`,
        );
      }
      throw new Answer(`no results in ${this.dir}/ yet: run \`plumbum apply CAPTURE\` there first`);
    }
    try {
      this.#reader = ResultsReader.open(this.dbPath);
    } catch (e) {
      if (e instanceof SchemaTooOldError) {
        throw new Answer(`${e.message}; run \`plumbum runs --dir ${this.dir}\` once to upgrade it`);
      }
      if (e instanceof StoreError) throw new Answer(e.message);
      throw e;
    }
    return this.#reader;
  }

  /** Run `id`, or the latest complete one; a live run is readable while it runs. */
  run(id?: number): RunRecord {
    const l = lookupRun(this.reader(), id);
    switch (l.kind) {
      case "found":
        return l.run;
      case "none":
        throw new Answer(
          "no complete run yet: run `plumbum apply CAPTURE` first (plumbum_runs lists interrupted ones)",
        );
      case "missing":
        throw new Answer(`there is no run #${l.id}; plumbum_runs lists them`);
      case "unreadable":
        throw new Answer(
          `run #${l.run.id} is ${l.run.status}${l.run.error ? ` (${l.run.error})` : ""}; pick a complete one`,
        );
    }
  }

  finding(run: RunRecord, domain: string): DomainFinding {
    const l = lookupDomain(this.reader(), run.id, domain);
    if (l.kind === "found") return l.finding;
    if (l.kind === "under") {
      throw new Answer(
        `${q(domain)} was not scored itself: it is under ${q(l.parent)}; ask for that domain\n${TRAFFIC_NOTE}`,
      );
    }
    if (l.kind === "too-long") {
      throw new Answer(nameTooLong(l.length));
    }
    throw new Answer(
      `no domain ${q(domain)} in run #${run.id}` +
        (l.closest.length > 0 ? `; closest scored: ${l.closest.map(q).join(", ")}` : "; plumbum_query lists them") +
        `\n${TRAFFIC_NOTE}`,
    );
  }

  close(): void {
    this.#reader?.close();
    this.#reader = null;
  }
}
