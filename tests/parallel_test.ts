import assert from "node:assert/strict";
import { runCli } from "./helpers/cli.ts";
import { fromFileUrl } from "./helpers/paths.ts";
import { validateInThreads } from "../src/ingest/parallel.ts";

const fixture = (p: string) => fromFileUrl(new URL(`../fixtures/${p}`, import.meta.url));

Deno.test("validate --jobs 2: every file read on a thread of its own gives the one-thread report byte for byte", async () => {
  const files = [
    fixture("sample.pcap"),
    fixture("lab/lab-tools.pcap"),
    "/nonexistent/plumbum/none.pcap",
    fixture("hostile-names.pcap"),
    fixture("lab/lab-short.pcap"),
  ];
  const one = await runCli(["validate", "--json", "--jobs", "1", ...files]);
  const two = await runCli(["validate", "--json", "--jobs", "2", ...files]);
  assert.equal(one.code, 1);
  assert.equal(two.code, one.code);
  assert.equal(two.stdout, one.stdout);
  assert.equal(two.stderr, one.stderr);
  const text1 = await runCli(["validate", "--jobs", "1", ...files]);
  const text3 = await runCli(["validate", "--jobs", "3", ...files]);
  assert.equal(text3.stdout, text1.stdout);
  // Each file once, in the order given, on up to two threads.
  const seen: number[] = [];
  const out = await validateInThreads(files, { jobs: 2, onDone: (done) => seen.push(done) });
  assert.deepEqual(out.map((o) => o.path), files);
  assert.deepEqual(seen, [1, 2, 3, 4, 5]);
  assert.ok("error" in out[2] && /no such file/.test(out[2].error.message));
});
