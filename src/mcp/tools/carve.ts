/**
 * What left through a tunnel: a domain's traffic read again from its run's sources under the root, decoded.
 *
 * @module
 */

import { z } from "npm:zod@4.6.7";
import { carve } from "../../evidence/carve.ts";
import { keepCarving } from "../../workspace/carving.ts";
import { carveDocument, streamLine } from "../../present/carve.ts";
import { isWithin } from "../../files.ts";
import { Answer, answerAsync, MAX_CARVE_BYTES, q, runArg, TRAFFIC_NOTE } from "../answer.ts";
import { defineTool, type Tool } from "../tool.ts";

const carveInput = {
  domain: z.string().min(1).max(1024).describe("a scored domain (as Plumbum shows it)"),
  client: z.string().max(64).optional().describe("only this client"),
  bytes: z.object({
    client: z.string().max(64),
    direction: z.enum(["upstream", "downstream"]),
    offset: z.number().int().min(0).default(0),
    length: z.number().int().min(1).max(MAX_CARVE_BYTES).default(4096),
  }).optional().describe(`a range of one decoded stream to return as base64 (at most ${MAX_CARVE_BYTES} bytes)`),
  run: runArg,
};

/** `plumbum_carve`, over `root`. */
export function carveTool(root: string): Tool {
  return defineTool({
    name: "plumbum_carve",
    title: "What left through a tunnel",
    description:
      "Read a domain's traffic again from its run's sources (under the server's root folder) and decode what its query names carried up and its answers carried down, per client: encoding, framing, size, SHA-256 and what the bytes look like (file type, text, entropy); optionally a range of the decoded bytes as base64. As `plumbum carve` does; the summary is kept with the run.",
    input: carveInput,
    output: {
      domain: z.string(),
      run: z.number(),
      sources: z.array(z.looseObject({ path: z.string(), status: z.string() })),
      clients: z.array(z.looseObject({ client: z.string() })),
      bytes: z.looseObject({ base64: z.string(), offset: z.number(), total: z.number() }).optional(),
    },
    run: (ws, a) =>
      answerAsync(async () => {
        const run = ws.run(a.run);
        const f = ws.finding(run, a.domain);
        const rootReal = Deno.realPathSync(root);
        for (const s of run.sources) {
          let real = "";
          try {
            real = Deno.realPathSync(s.path);
          } catch {
            // Said by the carving (missing).
            continue;
          }
          if (!isWithin(real, rootReal)) {
            throw new Answer(
              `run #${run.id} read ${q(s.path)}, outside the server's root folder: carve it with plumbum carve`,
            );
          }
        }
        const c = await carve(run, f.domain, { pcap: null, client: a.client });
        if (c.sources.some((s) => s.status === "read")) keepCarving(ws.dbPath, c);
        const doc = carveDocument(c, {}, null);
        let bytes;
        if (a.bytes !== undefined) {
          const want = a.bytes;
          const st = c.clients.find((x) => x.client === want.client)?.streams.find((x) =>
            x.direction === want.direction
          );
          if (st === undefined) {
            throw new Answer(`no ${want.direction} stream of client ${q(want.client)} in the carving`);
          }
          const slice = st.bytes.subarray(want.offset, want.offset + want.length);
          let text = "";
          for (let i = 0; i < slice.length; i += 8192) text += String.fromCharCode(...slice.subarray(i, i + 8192));
          bytes = { base64: btoa(text), offset: want.offset, total: st.bytes.length };
        }
        const lines = c.clients.flatMap((cl) =>
          cl.streams.map((s) => `  ${q(cl.client)} ${streamLine({ ...s, bytes: s.bytes.length })}`)
        );
        const said = c.sources.filter((s) => s.status !== "read").map((s) => `  source ${q(s.path)}: ${s.status}`);
        return {
          data: { ...doc, ...(bytes === undefined ? {} : { bytes }) },
          text: [
            `${q(f.domain)} in run #${run.id}: ${c.frames} packets, data under ${q(c.zone)}.`,
            TRAFFIC_NOTE,
            ...said,
            ...lines,
          ]
            .join("\n"),
        };
      }),
  });
}
