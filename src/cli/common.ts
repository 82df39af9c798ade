/**
 * Shared pieces of the command line: exit codes, errors that say what to do
 * next, writing to stdout/stderr, and file ingestion with progress.
 *
 * @module
 */
import { writeAll } from "../files.ts";
import { InputError } from "../ingest/source.ts";
import { ingestSources, type SourcesOptions, type SourcesProgress } from "../run/ingest.ts";
import type { FileStats } from "../ingest/types.ts";
import { escapeTerminal } from "../present/escape.ts";
import { formatBytes, progressLine } from "../present/progress.ts";

/** Exit codes: 0 success, 1 bad usage or input, 2 internal error. */
export const Exit = { OK: 0, USAGE: 1, INTERNAL: 2 } as const;

/** An error the user can fix (bad usage or input): exit 1 with this message. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

const enc = new TextEncoder();

/**
 * Write text to stdout (no newline added). A reader that went away is a
 * `BrokenPipe` (the command stops quietly); any other failure (a full
 * disk, `/dev/full`) is the user's to fix.
 */
export function out(text: string): void {
  try {
    writeAll(Deno.stdout, enc.encode(text));
  } catch (e) {
    if (e instanceof Deno.errors.BrokenPipe) throw e;
    throw new UsageError(`cannot write to standard output: ${(e as Error).message}`);
  }
}

/** Write a line to stderr. */
export function err(text: string): void {
  writeAll(Deno.stderr, enc.encode(text + "\n"));
}

/** Parse a comma-separated list of ports. */
export function parsePorts(v: string): number[] {
  const ports = v.split(",").map((s) => s.trim()).filter((s) => s !== "").map(Number);
  for (const p of ports) {
    if (!Number.isInteger(p) || p < 1 || p > 65535) {
      throw new UsageError(`--dns-ports: "${v}" is not a list of ports 1-65535 (e.g. 53,5300)`);
    }
  }
  return ports;
}

/**
 * Read inputs with a progress line on stderr: `work` is given the progress
 * callback to hand a pipeline. An input that cannot be read at all becomes
 * a {@link UsageError} naming it.
 */
export async function withSourcesProgress<T>(
  work: (onSourcesProgress: (p: SourcesProgress) => void) => Promise<T>,
): Promise<T> {
  const progress = progressLine();
  try {
    return await work((p) => {
      const pct = p.totalBytes > 0 ? ` (${Math.min(100, Math.round(100 * p.bytes / p.totalBytes))}%)` : "";
      progress.update(
        `reading ${escapeTerminal(p.path)}: ${formatBytes(p.bytes)}${pct}, ${p.transactions} transactions`,
      );
    });
  } catch (e) {
    if (e instanceof InputError) throw new UsageError(e.message);
    throw e;
  } finally {
    progress.done();
  }
}

/** Ingest several files with a progress line on stderr (see {@link withSourcesProgress}). */
export function ingestWithProgress(paths: string[], options: SourcesOptions): Promise<FileStats[]> {
  return withSourcesProgress((onSourcesProgress) => ingestSources(paths, { ...options, onSourcesProgress }));
}
