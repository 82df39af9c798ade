/**
 * Files read side by side, one thread a file at a time (`validate
 * --jobs N`): each file's counters are its own, so nothing is merged, and
 * the results come back in the order the files were given, as one thread
 * reading them in turn gives them.
 *
 * @module
 */

import { mapInThreads } from "../thread.ts";
import { InputError } from "./source.ts";
import type { FileStats } from "./types.ts";

/** What a validate thread is asked. */
export interface ValidateRequest {
  path: string;
  dnsPorts?: number[];
}

/** What a validate thread answers: the file's counters, or why it could not be read (`input`: an InputError's). */
export type ValidateReply = { stats: FileStats } | { error: string; input: boolean };

/** One file's outcome: its counters, or the error that stopped it. */
export type FileOutcome = { path: string; stats: FileStats } | { path: string; error: Error };

/**
 * Read `paths` with up to `jobs` threads, each file whole on one thread;
 * the outcomes in the order of `paths`. `onDone` is told of each file as it
 * is read. Standard input ("-") is this process's: its caller reads it
 * (`validate` reads every file in its own thread when one of them is "-",
 * or when there is one file or one job).
 */
export async function validateInThreads(
  paths: string[],
  o: { jobs: number; dnsPorts?: number[]; onDone?: (done: number, of: number) => void },
): Promise<FileOutcome[]> {
  const replies = await mapInThreads<ValidateRequest, ValidateReply>(
    { role: "plumbum:validate", url: new URL("./validate_worker.ts", import.meta.url) },
    paths.map((path) => ({ path, dnsPorts: o.dnsPorts })),
    o.jobs,
    o.onDone,
  );
  return replies.map((r, i) => {
    const path = paths[i];
    if ("stats" in r) return { path, stats: r.stats };
    return { path, error: r.input ? InputError.fromThread(path, r.error) : new Error(r.error) };
  });
}
