/**
 * Every capture of the shared corpus decodes to exactly as many DNS queries
 * and responses as tshark finds, with nothing malformed.
 */
import assert from "node:assert/strict";
import { ingestFile } from "../src/ingest/source.ts";
import { readTsharkTsv } from "./helpers/tshark.ts";
import { sharedDir } from "./helpers/shared.ts";

const corpus = sharedDir("corpus");

function tsharkAvailable(): boolean {
  try {
    return new Deno.Command("tshark", { args: ["--version"], stdout: "null", stderr: "null" }).outputSync().success;
  } catch {
    return false;
  }
}

/** Query/response counts from a tshark TSV, or by running tshark. */
function tsharkCounts(capture: string): { queries: number; responses: number } | null {
  const candidates = [capture.replace(/\.pcap(ng)?$/, ".tsv"), capture.replace(/\.pcap(ng)?$/, ".tshark.tsv")];
  let rows: Record<string, string>[] | null = null;
  for (const c of candidates) {
    try {
      Deno.statSync(c);
      rows = readTsharkTsv(c);
      break;
    } catch {
      // try the next
    }
  }
  if (rows === null) {
    if (!tsharkAvailable()) return null;
    const out = new Deno.Command("tshark", {
      args: [
        "-r",
        capture,
        "-Y",
        "dns || mdns || llmnr",
        "-T",
        "fields",
        "-E",
        "header=y",
        "-e",
        "frame.number",
        "-e",
        "dns.flags.response",
      ],
      stdout: "piped",
      stderr: "null",
    }).outputSync();
    const tmp = Deno.makeTempFileSync();
    Deno.writeFileSync(tmp, out.stdout);
    rows = readTsharkTsv(tmp);
    Deno.removeSync(tmp);
  }
  let queries = 0, responses = 0;
  for (const r of rows) {
    for (const f of r["dns.flags.response"].split(",")) {
      if (f === "0" || f === "False") queries++;
      else if (f === "1" || f === "True") responses++;
    }
  }
  return { queries, responses };
}

const captures = corpus === null ? [] : [
  ...[...Deno.readDirSync(corpus)].map((e) => `${corpus}/${e.name}`),
  ...[...Deno.readDirSync(`${corpus}/public`)].map((e) => `${corpus}/public/${e.name}`),
].filter((p) => /\.pcap(ng)?$/.test(p)).sort();

for (const capture of captures) {
  const short = capture.slice(corpus!.length + 1);
  Deno.test({
    name: `corpus: ${short} has tshark's query and response counts, nothing malformed`,
    async fn(t) {
      const expected = tsharkCounts(capture);
      if (expected === null) {
        console.warn(`SKIP: no tshark dump beside ${short} and no tshark installed`);
        await t.step({ name: "needs tshark", ignore: true, fn() {} });
        return;
      }
      const stats = await ingestFile(capture);
      assert.equal(stats.malformed, 0, JSON.stringify(stats.malformed_reasons));
      assert.deepEqual({ queries: stats.queries, responses: stats.responses }, expected);
    },
  });
}
