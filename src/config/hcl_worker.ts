/**
 * The HCL thread of {@link parseHcl}: parses one config.hcl text with
 * `@cdktf/hcl2json` and replies with the document (or the parser's
 * message). The parser is a large WebAssembly module: kept in a thread that
 * ends after one parse, it never weighs on the isolate that does the work.
 *
 * @module
 */

import { parse } from "npm:@cdktf/hcl2json@0.21.0";
import { workerScope } from "../thread.ts";

const scope = workerScope<{ file: string; text: string }>();

scope.onmessage = async (e: MessageEvent<{ file: string; text: string }>) => {
  try {
    scope.postMessage({ doc: await parse(e.data.file, e.data.text) });
  } catch (err) {
    scope.postMessage({ error: String((err as Error).message ?? err) });
  }
};
