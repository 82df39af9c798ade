/**
 * A thread of {@link validateInThreads}: reads the files it is handed, one
 * at a time, and replies with each one's counters (or why it could not be
 * read).
 *
 * @module
 */

import { workerScope } from "../thread.ts";
import { ingestFile, InputError } from "./source.ts";
import type { ValidateReply, ValidateRequest } from "./parallel.ts";

const scope = workerScope<ValidateRequest>();

scope.onmessage = async (e: MessageEvent<ValidateRequest>) => {
  const { index, path, dnsPorts } = e.data;
  let reply: ValidateReply;
  try {
    reply = { index, stats: await ingestFile(path, { dnsPorts }) };
  } catch (err) {
    reply = { index, error: (err as Error).message, input: err instanceof InputError };
  }
  scope.postMessage(reply);
};
