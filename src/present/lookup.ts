/**
 * Finding what a user (or an assistant) named: a scored domain as typed or
 * as Plumbum displayed it, the scored domain above a query name, or the
 * nearest scored names; and whether a feature belongs to a finding.
 *
 * @module
 */

import type { DomainFinding } from "../analysis/analyze.ts";
import { FEATURES } from "../analysis/model.ts";
import { closest } from "../config/config.ts";
import { asciiLower } from "../ingest/dns/mod.ts";
import type { ResultsReader } from "../store/reader.ts";
import { isReadableRun, type RunRecord } from "../store/types.ts";
import { fromDisplayText } from "./escape.ts";

/** What a name found in a run. */
export type Lookup =
  | { kind: "found"; finding: DomainFinding }
  /** Not scored itself: a name under this scored domain. */
  | { kind: "under"; parent: string }
  /** Not there: the nearest scored names (maybe none). */
  | { kind: "unknown"; closest: string[] }
  /** No domain name at all: longer than {@link MAX_NAME_LENGTH} (nothing was searched). */
  | { kind: "too-long"; length: number };

/** The longest domain name in text form (RFC 1035: 255 bytes on the wire). */
export const MAX_NAME_LENGTH = 253;

/** What a reader says of a name over {@link MAX_NAME_LENGTH}. */
export function nameTooLong(length: number): string {
  return `a domain name is at most ${MAX_NAME_LENGTH} characters; that one has ${length}`;
}

/** Which run a reader should read (see {@link lookupRun}). */
export type RunLookup =
  | { kind: "found"; run: RunRecord }
  /** No run was named and none is complete yet. */
  | { kind: "none" }
  /** The named run does not exist. */
  | { kind: "missing"; id: number }
  /** The named run exists but cannot be read: interrupted, failed or running, and not a live run. */
  | { kind: "unreadable"; run: RunRecord };

/** Run `id`, or the latest complete one: the rule every reader (CLI, MCP server) applies, each with its own words. */
export function lookupRun(reader: ResultsReader, id?: number): RunLookup {
  const run = reader.run(id);
  if (run === null) return id === undefined ? { kind: "none" } : { kind: "missing", id };
  return isReadableRun(run) ? { kind: "found", run } : { kind: "unreadable", run };
}

/**
 * Look `name` up in run `runId` (as typed, or as displayed: `\xHH`
 * escapes, a trailing dot). Not found, the scored domain above it and the
 * nearest names are searched (bounded: see {@link closest}) unless `near`
 * is false; a name over {@link MAX_NAME_LENGTH} bytes is no name, and
 * nothing is searched for it.
 */
export function lookupDomain(reader: ResultsReader, runId: number, name: string, near = true): Lookup {
  const d = asciiLower(fromDisplayText(name)).replace(/\.$/, "");
  if (d.length > MAX_NAME_LENGTH) return { kind: "too-long", length: d.length };
  const f = reader.finding(runId, d);
  if (f !== null) return { kind: "found", finding: f };
  if (!near) return { kind: "unknown", closest: [] };
  const names = reader.domainNames(runId);
  const parent = names.filter((n) => d.endsWith("." + n)).sort((a, b) => b.length - a.length)[0];
  if (parent !== undefined) return { kind: "under", parent };
  return { kind: "unknown", closest: closest(d, names, 3) };
}

/** Why `feature` cannot be explained for `f` (null: it can): not a feature of its run, with the likely intent. */
export function featureProblem(f: DomainFinding, feature: string): string | null {
  const known = f.components.map((c) => c.feature);
  if (known.includes(feature)) return null;
  // A feature of another preset is named as such; so is a typo's nearest name.
  const other = "scored only under another weight preset: apply with --weights to see it";
  const near = closest(feature, Object.keys(FEATURES), 1)[0];
  const hint = Object.hasOwn(FEATURES, feature)
    ? ` (${other})`
    : near === undefined
    ? ""
    : ` (did you mean "${near}"?${known.includes(near) ? "" : ` It is ${other}.`})`;
  return `is not a feature of this run${hint}; features: ${known.join(", ")}`;
}
