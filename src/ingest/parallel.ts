/**
 * Files read side by side, one thread a file at a time (`validate
 * --jobs N`): each file's counters are its own, so nothing is merged, and
 * the results come back in the order the files were given, as one thread
 * reading them in turn gives them.
 *
 * @module
 */

import { spawnWorker } from "../thread.ts";
import { ingestFile, InputError } from "./source.ts";
import type { FileStats } from "./types.ts";

/** What a validate thread is asked. */
export interface ValidateRequest {
  index: number;
  path: string;
  dnsPorts?: number[];
}

/** What a validate thread answers: the file's counters, or why it could not be read (`input`: an InputError's). */
export type ValidateReply =
  | { index: number; stats: FileStats }
  | { index: number; error: string; input: boolean };

/** One file's outcome: its counters, or the error that stopped it. */
export type FileOutcome = { path: string; stats: FileStats } | { path: string; error: Error };

/**
 * Read `paths` with up to `jobs` threads (1: in this thread), each file
 * whole on one thread; the outcomes in the order of `paths`. `onDone` is
 * told of each file as it is read.
 */
export async function validateInThreads(
  paths: string[],
  o: { jobs: number; dnsPorts?: number[]; onDone?: (done: number, of: number) => void },
): Promise<FileOutcome[]> {
  const out: FileOutcome[] = new Array(paths.length);
  let done = 0;
  const finish = (i: number, r: FileOutcome) => {
    out[i] = r;
    o.onDone?.(++done, paths.length);
  };
  const threads = Math.max(1, Math.min(o.jobs, paths.length));
  if (threads === 1 || paths.includes("-")) {
    // Standard input is this process's: read here, in order.
    for (const [i, path] of paths.entries()) {
      try {
        finish(i, { path, stats: await ingestFile(path, { dnsPorts: o.dnsPorts }) });
      } catch (e) {
        finish(i, { path, error: e as Error });
      }
    }
    return out;
  }
  let next = 0;
  const workers = Array.from(
    { length: threads },
    () => spawnWorker({ role: "plumbum:validate", url: new URL("./validate_worker.ts", import.meta.url) }),
  );
  try {
    await Promise.all(workers.map((w) =>
      new Promise<void>((resolve, reject) => {
        const give = () => {
          if (next >= paths.length) return resolve();
          const index = next++;
          w.postMessage({ index, path: paths[index], dnsPorts: o.dnsPorts } satisfies ValidateRequest);
        };
        w.onmessage = (e: MessageEvent<ValidateReply>) => {
          const r = e.data, path = paths[r.index];
          finish(
            r.index,
            "stats" in r
              ? { path, stats: r.stats }
              : { path, error: r.input ? new InputError(path, r.error.replace(`${path}: `, "")) : new Error(r.error) },
          );
          give();
        };
        w.onerror = (e) => {
          e.preventDefault();
          reject(new Error(`a validate thread failed: ${e.message}`));
        };
        give();
      })
    ));
  } finally {
    for (const w of workers) w.terminate();
  }
  return out;
}
