/**
 * `deno task bench:ab`: is the working tree faster than a revision?
 *
 * This machine's speed wanders by up to 2× within minutes, so two runs one
 * after the other say little. Here both versions run in one process, turn
 * about (A B, B A, A B …), on the same input in memory or on disk, and each
 * pair gives a ratio B/A taken under the same conditions. With A and B the
 * same code, the median ratio over 40 pairs came within 3 % of 1 (0.972,
 * 1.015 and 1.017 in three tries): smaller differences are not resolved.
 *
 *   deno task bench:ab [--rev REV] [--mode decode|analysis|names] [--file F] [--reps N]
 *
 * A is `src/` as of REV (default HEAD, exported with `git archive`); B is the
 * working tree. Modes: `decode` reads the file to transactions, `analysis`
 * also feeds them to the analyzer (no SQLite), `names` looks up every
 * packet's question name (Ethernet/IPv4/UDP captures).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";

const { values: o } = parseArgs({
  args: Deno.args,
  options: {
    rev: { type: "string", default: "HEAD" },
    mode: { type: "string", default: "decode" },
    file: { type: "string" },
    reps: { type: "string", default: "40" },
  },
});
const root = fileURLToPath(new URL("..", import.meta.url));
const file = o.file ?? `${root}bench/out/bench.pcap`;
const reps = Math.max(1, Number(o.reps));
if (!["decode", "analysis", "names"].includes(o.mode!)) throw new Error(`--mode must be decode, analysis or names`);

// A: the revision's src/; B: a copy of the working tree's. Both sit in
// temporary folders, so that neither is loaded any differently.
const dirA = Deno.makeTempDirSync({ prefix: "plumbum-ab-" });
const dirB = Deno.makeTempDirSync({ prefix: "plumbum-ab-" });
const sh = (script: string, ...args: string[]) => {
  const r = new Deno.Command("sh", { args: ["-c", script, "sh", ...args] }).outputSync();
  if (!r.success) throw new Error(new TextDecoder().decode(r.stderr));
};
sh(`git -C "$1" archive "$2" src | tar -x -C "$3"`, root, o.rev!, dirA);
sh(`cp -R "$1/src" "$2/src"`, root, dirB);

type Run = () => Promise<number>;

async function variant(src: string): Promise<Run> {
  const source = await import(`${src}/ingest/source.ts`);
  const { Analyzer } = await import(`${src}/analysis/analyze.ts`);
  const { presetModel } = await import(`${src}/analysis/model.ts`);
  // The DNS decoder's entry moved from ingest/dns.ts to ingest/dns/mod.ts.
  const dnsEntry = [`${src}/ingest/dns/mod.ts`, `${src}/ingest/dns.ts`].find((p) => {
    try {
      return Deno.statSync(p).isFile;
    } catch {
      return false;
    }
  })!;
  const dns = await import(dnsEntry);
  let sink = 0;
  if (o.mode === "names") {
    const buf = Deno.readFileSync(file);
    const dv = new DataView(buf.buffer);
    const at: number[] = [], end: number[] = [];
    for (let p = 24; p + 16 <= buf.length;) {
      const incl = dv.getUint32(p + 8, true);
      if (p + 16 + incl > buf.length) break;
      const ip = p + 30;
      at.push(ip + (buf[ip] & 15) * 4 + 8);
      end.push(p + 16 + incl);
      p += 16 + incl;
    }
    // A revision before decoders owned their tables exports readName itself.
    const names = dns.DnsDecoder === undefined ? dns : new dns.DnsDecoder();
    return () => {
      const t0 = performance.now();
      for (let i = 0; i < at.length; i++) sink += names.readName(buf, at[i] + 12, at[i], end[i])?.name.length ?? 0;
      return Promise.resolve(performance.now() - t0);
    };
  }
  // Like a revision whose tables were module globals, every rep reuses one decoder's tables.
  const decoder = dns.DnsDecoder === undefined ? undefined : new dns.DnsDecoder();
  return async () => {
    const t0 = performance.now();
    const analyzer = o.mode === "analysis" ? new Analyzer({ model: presetModel("tunnel") }) : null;
    await source.ingestFile(file, {
      dns: decoder,
      onTransaction(tx: { answers: unknown[] }) {
        if (analyzer !== null) analyzer.add(tx);
        else sink += tx.answers.length;
      },
    });
    return performance.now() - t0;
  };
}

try {
  const a = await variant(`${dirA}/src`);
  const b = await variant(`${dirB}/src`);
  const ta: number[] = [], tb: number[] = [];
  for (let r = 0; r < reps; r++) {
    if (r % 2 === 0) {
      ta.push(await a());
      tb.push(await b());
    } else {
      tb.push(await b());
      ta.push(await a());
    }
  }
  const sorted = (x: number[]) => [...x].sort((p, q) => p - q);
  const at = (x: number[], q: number) => sorted(x)[Math.min(x.length - 1, Math.floor(q * x.length))];
  const ratios = ta.map((t, i) => tb[i] / t);
  console.log(`${o.mode}: ${reps} pairs on ${file}`);
  console.log(`A (${o.rev}): median ${at(ta, 0.5).toFixed(1)} ms, fastest ${at(ta, 0).toFixed(1)} ms`);
  console.log(`B (working tree): median ${at(tb, 0.5).toFixed(1)} ms, fastest ${at(tb, 0).toFixed(1)} ms`);
  console.log(
    `B/A per pair: median ${at(ratios, 0.5).toFixed(3)} (10th-90th percentile ${at(ratios, 0.1).toFixed(3)}-${
      at(ratios, 0.9).toFixed(3)
    })`,
  );
} finally {
  Deno.removeSync(dirA, { recursive: true });
  Deno.removeSync(dirB, { recursive: true });
}
