/**
 * A capture under the server's root analyzed into a new run (the one tool that writes a run).
 *
 * @module
 */

import { z } from "npm:zod@4.6.7";
import { domainObject, runRecordObject } from "../../present/export.ts";
import { isWithin } from "../../files.ts";
import { Answer, answerAsync, line, q, TRAFFIC_NOTE } from "../answer.ts";
import { defineTool, type Tool } from "../tool.ts";
import type { OpenedInput } from "../../ingest/source.ts";

const applyInput = {
  path: z.string().min(1).max(4096).describe("the file, relative to the root folder (or absolute, under it)"),
};

/** What `plumbum_apply` needs: the root its files must lie under, and the apply itself. */
export interface ApplyOption {
  /** Only files under this folder are read. */
  root: string;
  /**
   * Run an `apply` of `input` (opened, and proved to be a file under
   * root; read through its handle only, which the run closes); resolves
   * with the new run's id, rejects with an error whose message the client
   * is told.
   */
  run: (input: OpenedInput) => Promise<number>;
}

/** `plumbum_apply`, over `apply`. */
export function applyTool(apply: ApplyOption): Tool {
  return defineTool({
    name: "plumbum_apply",
    title: "Analyze a capture",
    description:
      "Analyze a capture or Zeek dns.log found under the server's root folder into a new run of the workspace, as `plumbum apply` does; answers with the run and its top domains.",
    input: applyInput,
    output: {
      run: z.looseObject({ id: z.number(), status: z.string() }),
      counts: z.record(z.string(), z.number()),
      domains: z.array(z.looseObject({ domain: z.string(), score: z.number() })),
    },
    run: (ws, a) =>
      answerAsync(async () => {
        const input = openUnderRoot(apply.root, a.path);
        let id: number;
        try {
          id = await apply.run(input);
        } catch (e) {
          throw new Answer(`apply failed: ${(e as Error).message}`);
        }
        const run = ws.run(id);
        const { total, findings: top } = ws.reader().findingsPage(run.id, { limit: 20, offset: 0 });
        const text = [`Run #${run.id} of ${q(a.path)}: ${total} domains.`, TRAFFIC_NOTE, ...top.map(line)].join("\n");
        const counts = ws.reader().severityCounts(run.id);
        return { data: { run: runRecordObject(run), counts, domains: top.map(domainObject) }, text };
      }),
  });
}

/**
 * `path` (relative to `root`, or absolute) opened, then proved to be a file
 * inside `root`: the real path of the name must lie under the root's and be
 * the very file the handle holds (same device and inode), so a folder
 * swapped for a symlink between the open and the check is caught, and only
 * the handle is read. An {@link Answer} when it is not.
 */
function openUnderRoot(root: string, path: string): OpenedInput {
  const rootReal = Deno.realPathSync(root);
  const named = path.startsWith("/") ? path : `${rootReal}/${path}`;
  let file: Deno.FsFile;
  try {
    // Not opened when it is no file (a FIFO would hold the open until some writer came).
    if (!Deno.statSync(named).isFile) throw new Answer(`${q(path)} is not a file`);
    file = Deno.openSync(named, { read: true });
  } catch (e) {
    if (e instanceof Answer) throw e;
    if (e instanceof Deno.errors.NotFound) throw new Answer(`${q(path)} does not exist under the server's root folder`);
    throw new Answer(`${q(path)} cannot be opened: ${(e as Error).message}`);
  }
  try {
    const held = file.statSync();
    let real: string, info: Deno.FileInfo;
    try {
      real = Deno.realPathSync(named);
      info = Deno.statSync(real);
    } catch {
      throw new Answer(`${q(path)} changed while it was opened; try again`);
    }
    if (!isWithin(real, rootReal)) {
      throw new Answer(`${q(path)} is outside the server's root folder; only files under it can be analyzed`);
    }
    if (info.dev !== held.dev || info.ino !== held.ino || held.ino === null) {
      throw new Answer(`${q(path)} is not the file that was opened (it was moved or replaced); try again`);
    }
    if (!held.isFile) throw new Answer(`${q(path)} is not a file`);
    return { path: real, file };
  } catch (e) {
    file.close();
    throw e;
  }
}
