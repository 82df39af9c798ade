/**
 * A thread of `eval --jobs` and `tune --jobs`: summarizes each capture it
 * is handed ({@link summarizeCapture}), one at a time.
 *
 * @module
 */

import { answerRequests } from "../thread.ts";
import { summarizeCapture, type SummarizeReply, type SummarizeRequest } from "./evaluate.ts";

answerRequests<SummarizeRequest, SummarizeReply>((request) => summarizeCapture(request));
