/**
 * Several inputs, one after another, into one transaction stream, with one
 * DNS decoder for all of them (a run's files share the names and answers
 * they repeat) and progress over their total size.
 *
 * @module
 */

import { DnsDecoder } from "../ingest/dns/mod.ts";
import { ingestFile, type IngestOptions, type Input, inputPath } from "../ingest/source.ts";
import type { FileStats } from "../ingest/types.ts";

/** Where reading several inputs stands. */
export interface SourcesProgress {
  /** The input being read. */
  path: string;
  /** Bytes read of all inputs so far, and their total (0 when unknown: standard input). */
  bytes: number;
  /** Bytes of all the inputs together (0 when a size is unknown). */
  totalBytes: number;
  /** Transactions of the input being read so far. */
  transactions: number;
}

/** Options of {@link ingestSources}. */
export interface SourcesOptions extends Omit<IngestOptions, "onProgress"> {
  /** Called now and then while reading. */
  onSourcesProgress?: (p: SourcesProgress) => void;
}

/**
 * Read `paths` in order into one stream of transactions; returns each
 * input's stats. Throws {@link InputError} at the first input that cannot
 * be read at all.
 */
export async function ingestSources(inputs: Input[], options: SourcesOptions = {}): Promise<FileStats[]> {
  const paths = inputs.map(inputPath);
  const sizes = inputs.map((p) => {
    try {
      return p === "-" ? 0 : typeof p === "string" ? Deno.statSync(p).size : p.file.statSync().size;
    } catch {
      return 0;
    }
  });
  const totalBytes = sizes.reduce((a, b) => a + b, 0);
  const report = options.onSourcesProgress;
  const dns = options.dns ?? new DnsDecoder();
  let done = 0;
  const all: FileStats[] = [];
  for (let i = 0; i < paths.length; i++) {
    all.push(
      await ingestFile(inputs[i], {
        ...options,
        dns,
        onProgress: report === undefined
          ? undefined
          : (bytes, s) => report({ path: paths[i], bytes: done + bytes, totalBytes, transactions: s.transactions }),
      }),
    );
    done += sizes[i];
  }
  return all;
}
