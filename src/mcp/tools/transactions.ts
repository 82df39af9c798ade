/**
 * A domain's stored transactions, paged.
 *
 * @module
 */

import { z } from "npm:zod@4.6.7";
import { displayText } from "../../present/escape.ts";
import { transactionObject } from "../../present/export.ts";
import { answer, MAX_TRANSACTIONS, q, runArg, TRAFFIC_NOTE } from "../answer.ts";
import { defineTool, type Tool } from "../tool.ts";

const transactionsInput = {
  domain: z.string().min(1).max(1024).describe("a scored parent domain"),
  limit: z.number().int().min(1).max(MAX_TRANSACTIONS).default(50).describe(
    `transactions per page (at most ${MAX_TRANSACTIONS})`,
  ),
  offset: z.number().int().min(0).default(0).describe("transactions to skip (paging)"),
  run: runArg,
};

/** `plumbum_transactions`. */
export const transactionsTool: Tool = defineTool({
  name: "plumbum_transactions",
  title: "A domain's transactions",
  description:
    "A domain's stored DNS transactions in time order, paged: time, client, server, query name, type, response code, answer count.",
  input: transactionsInput,
  output: {
    run: z.number(),
    domain: z.string(),
    query_count: z.number().describe("the domain's transactions in the run (stored or not)"),
    offset: z.number(),
    transactions: z.array(
      z.object({
        ts: z.number(),
        client: z.string(),
        server: z.string(),
        query: z.string(),
        qtype: z.number(),
        rcode: z.number().nullable(),
        answers: z.number(),
      }),
    ),
  },
  run: (ws, a) =>
    answer(() => {
      const run = ws.run(a.run);
      const f = ws.finding(run, a.domain);
      const rows = ws.reader().transactions(run.id, f.domain, a.limit, a.offset).map(transactionObject);
      const text = [
        `Run #${run.id}: ${rows.length} transactions of ${
          q(f.domain)
        } from ${a.offset} (of ${f.features.query_count}).`,
        TRAFFIC_NOTE,
        ...rows.map((t) =>
          `  ${new Date(t.ts * 1000).toISOString()}  ${q(t.client)}  type ${t.qtype}  rcode ${
            t.rcode ?? "-"
          }  ${t.answers} answers  ${q(t.query)}`
        ),
      ].join("\n");
      return {
        data: {
          run: run.id,
          domain: displayText(f.domain),
          query_count: f.features.query_count,
          offset: a.offset,
          transactions: rows,
        },
        text,
      };
    }),
});
