/**
 * A thread of {@link validateInThreads}: reads the files it is handed, one
 * at a time, and replies with each one's counters (or why it could not be
 * read).
 *
 * @module
 */

import { answerRequests } from "../thread.ts";
import { ingestFile, InputError } from "./source.ts";
import type { ValidateReply, ValidateRequest } from "./parallel.ts";

answerRequests<ValidateRequest, ValidateReply>(async ({ path, dnsPorts }) => {
  try {
    return { stats: await ingestFile(path, { dnsPorts }) };
  } catch (err) {
    return { error: (err as Error).message, input: err instanceof InputError };
  }
});
