/**
 * The DNS decoder against two oracles: tshark's field dumps of every trace in
 * `../shared/conformance/zeek/`, and Zeek's own dns.log baselines. Each
 * deliberate difference is listed below with its reason.
 */
import assert from "node:assert/strict";
import { typeName } from "../src/ingest/dns/mod.ts";
import { ingestFile } from "../src/ingest/source.ts";
import type { Transaction } from "../src/ingest/types.ts";
import { decodeCapture, readTsharkTsv } from "./helpers/tshark.ts";
import { sharedDir } from "./helpers/shared.ts";

const dir = sharedDir("conformance/zeek");

/** Frames tshark reports as DNS that Plumbum deliberately does not. */
const TSHARK_NOT_DNS: Record<string, { frames: number[]; why: string }> = {
  gre: {
    frames: [34, 36],
    why: "ICMP port-unreachable errors quoting a DNS query are not DNS messages; counting them would double the query",
  },
};

/** Fields of a frame where Plumbum deliberately differs from tshark. */
const TSHARK_FIELD_DIFFS: Record<string, { frame: number; field: string; why: string }[]> = {
  "dns-invalid-names": [
    { frame: 2, field: "name", why: "a question name with a compression-pointer loop is rejected, not rendered" },
    { frame: 2, field: "qtype", why: "the question is dropped with its broken name" },
  ],
};

/** Escape a byte-string name the way tshark prints it (octal escapes). */
function tsharkName(n: string): string {
  return n.replace(/[^\x20-\x7e]/g, (c) => "\\" + c.charCodeAt(0).toString(8).padStart(3, "0"));
}

/** Is `sub` a subsequence of `all`? */
function subsequence(sub: string[], all: string[]): boolean {
  let i = 0;
  for (const x of all) if (i < sub.length && sub[i] === x) i++;
  return i === sub.length;
}

const traces = dir === null
  ? []
  : [...Deno.readDirSync(dir)].filter((e) => e.name.endsWith(".pcap")).map((e) => e.name.slice(0, -5)).sort();

Deno.test({
  name: "conformance: every Zeek trace decodes as tshark does",
  ignore: dir === null,
  async fn() {
    assert.ok(traces.length >= 60, `expected the 62 traces, found ${traces.length}`);
    let matched = 0;
    const failures: string[] = [];
    for (const name of traces) {
      const rows = readTsharkTsv(`${dir}/${name}.tshark.tsv`);
      const { messages } = await decodeCapture(`${dir}/${name}.pcap`);
      const byFrame = new Map<number, typeof messages>();
      for (const m of messages) byFrame.set(m.frame, [...(byFrame.get(m.frame) ?? []), m]);
      const notDns = TSHARK_NOT_DNS[name]?.frames ?? [];
      const fieldDiffs = TSHARK_FIELD_DIFFS[name] ?? [];
      const problems: string[] = [];
      const seen = new Set<number>();
      for (const r of rows) {
        const frame = Number(r["frame.number"]);
        if (notDns.includes(frame)) {
          if (byFrame.has(frame)) problems.push(`frame ${frame} decoded though listed as not DNS`);
          continue;
        }
        const ms = byFrame.get(frame);
        if (ms === undefined) {
          problems.push(`frame ${frame}: no message`);
          continue;
        }
        seen.add(frame);
        const m = ms[0].message;
        const all = [...m.answers, ...m.authorities, ...m.additionals];
        const got: Record<string, string> = {
          id: "0x" + m.id.toString(16).padStart(4, "0"),
          qr: m.qr ? "1" : "0",
          rcode: m.qr ? String(m.rcode & 15) : "",
          name: m.questions.map((q) => tsharkName(q.name)).join(","),
          qtype: m.questions.map((q) => q.type).join(","),
          // tshark leaves ANCOUNT empty for UPDATE (it has zone/prereq/update counts).
          an: m.opcode === 5 ? "" : String(m.counts[1]),
          txt: all.flatMap((x) => x.type === 16 && x.data.kind === "txt" ? x.data.strings : []).join(","),
          ttl: all.filter((x) => x.type !== 41).map((x) => x.ttl).join(","),
        };
        const expected: Record<string, string> = {
          id: r["dns.id"],
          qr: r["dns.flags.response"],
          rcode: r["dns.flags.rcode"],
          name: r["dns.qry.name"],
          qtype: r["dns.qry.type"],
          an: r["dns.count.answers"],
          txt: r["dns.txt"],
          ttl: r["dns.resp.ttl"],
        };
        for (const k of Object.keys(expected)) {
          if (fieldDiffs.some((d) => d.frame === frame && d.field === k)) continue;
          // TTLs: tshark lists only what it decoded; a malformed message may stop early.
          if (k === "ttl" && m.malformed !== null) continue;
          if (expected[k] !== got[k]) {
            problems.push(`frame ${frame} ${k}: tshark ${JSON.stringify(expected[k])} ours ${JSON.stringify(got[k])}`);
          }
        }
        // Record types: tshark's dns.resp.type also lists the types named in
        // NSEC/NSEC3 type bitmaps, so ours must be that list minus those.
        const ours = all.map((x) => String(x.type));
        const theirs = r["dns.resp.type"] === "" ? [] : r["dns.resp.type"].split(",");
        const hasBitmaps = all.some((x) => x.type === 47 || x.type === 50);
        const typesOk = hasBitmaps || m.malformed !== null
          ? subsequence(ours, theirs)
          : ours.join(",") === theirs.join(",");
        if (!typesOk) problems.push(`frame ${frame} types: tshark ${theirs} ours ${ours}`);
      }
      for (const f of byFrame.keys()) if (!seen.has(f)) problems.push(`frame ${f}: decoded but tshark has no row`);
      if (problems.length === 0) matched++;
      else failures.push(`${name}:\n  ${problems.slice(0, 5).join("\n  ")}`);
    }
    console.log(`tshark conformance: ${matched}/${traces.length} traces matched`);
    assert.deepEqual(failures, []);
  },
});

/** Names of the traces that have a Zeek dns.log baseline. */
function baselineNames(): string[] {
  return [...Deno.readDirSync(dir!)].filter((e) => e.name.endsWith(".dns.log")).map((e) => e.name.slice(0, -8)).sort();
}

/** Fields where Plumbum deliberately differs from Zeek's dns.log. */
const ZEEK_FIELD_DIFFS: Record<string, { field: string; why: string }[]> = {
  "*": [
    {
      field: "qtype",
      why: "Zeek leaves qtype unset on a response-only row; Plumbum takes it from the response's question",
    },
  ],
  "dynamic-update": [
    {
      field: "query",
      why: "for UPDATE, Plumbum reports the zone section (as tshark does); Zeek logs an update record's name",
    },
    { field: "answers", why: "for UPDATE, Zeek counts the update section; Plumbum the prerequisite section (ANCOUNT)" },
  ],
  notify: [{
    field: "query",
    why: "Zeek logs one NOTIFY's question as unset; Plumbum keeps the zone name from the wire",
  }],
  tkey: [{ field: "answers", why: "Zeek does not log TKEY answer records; Plumbum counts every answer" }],
  wks: [{ field: "answers", why: "Zeek does not log WKS answer records; Plumbum counts every answer" }],
};

/**
 * A multicast mDNS announcement has no asker: Zeek makes the responder the
 * originator; Plumbum never calls the answering host a client, so the
 * multicast group stands as the client and the responder as the server.
 */
const isMdnsAnnouncement = (t: Transaction) => t.service === "mdns" && !t.hasQuery;

/** Zeek rows Plumbum deliberately does not produce. */
const ZEEK_ROWS_NOT_OURS = (r: Record<string, string>): string | null =>
  r["id.resp_p"] === "137" ? "NetBIOS name service (udp/137) is not DNS; tshark agrees (nbns)" : null;

Deno.test({
  name: "conformance: transactions match Zeek's dns.log baselines",
  ignore: dir === null,
  async fn() {
    const logs = baselineNames();
    let compared = 0, matched = 0;
    const failures: string[] = [];
    for (const name of logs) {
      const lines = Deno.readTextFileSync(`${dir}/${name}.dns.log`).split("\n");
      const header = lines.find((l) => l.startsWith("#fields"));
      if (header === undefined) continue; // zeek-cut subsets (naptr, max-depth, dnssec-*): no #fields
      compared++;
      const fields = header.split("\t").slice(1);
      const rows = lines.filter((l) => l && !l.startsWith("#")).map((l) => {
        const c = l.split("\t");
        return Object.fromEntries(fields.map((k, i) => [k, c[i]]));
      }).filter((r) => ZEEK_ROWS_NOT_OURS(r) === null);
      const txs: Transaction[] = [];
      await ingestFile(`${dir}/${name}.pcap`, { onTransaction: (t) => txs.push({ ...t }) });
      const skip = new Set([...(ZEEK_FIELD_DIFFS["*"] ?? []), ...(ZEEK_FIELD_DIFFS[name] ?? [])].map((d) => d.field));
      const problems: string[] = [];
      if (txs.length !== rows.length) problems.push(`rows: zeek ${rows.length} ours ${txs.length}`);
      const used = new Set<number>();
      for (const r of rows) {
        const i = txs.findIndex((t, j) =>
          !used.has(j) && String(t.id) === r["trans_id"] && t.clientPort === Number(r["id.orig_p"]) &&
          (skip.has("query") || (r["query"] === "-" ? t.query === "" : t.queryKey === r["query"]))
        );
        if (i < 0) {
          problems.push(`no transaction for ${r["id.orig_h"]} ${r["trans_id"]} ${r["query"]}`);
          continue;
        }
        used.add(i);
        const t = txs[i];
        const answers = r["answers"] === "-" ? 0 : r["answers"].split(",").length;
        const got: Record<string, string> = {
          "id.orig_h": t.client,
          "id.resp_h": t.server,
          "id.resp_p": String(t.serverPort),
          proto: t.transport,
          qclass: String(t.qclass),
          qtype: String(t.qtype),
          qtype_name: typeName(t.qtype),
          rcode: t.rcode === null ? "-" : String(t.rcode),
          opcode: String(t.opcode),
          answers: String(t.answers.length),
        };
        for (const k of Object.keys(got)) {
          if (skip.has(k) || r[k] === undefined) continue;
          if ((k === "id.orig_h" || k === "id.resp_h") && isMdnsAnnouncement(t)) continue;
          if (k === "qtype_name" && skip.has("qtype")) continue;
          if ((k === "qtype" || k === "qtype_name" || k === "qclass") && r[k] === "-") continue;
          const want = k === "answers" ? String(answers) : r[k];
          if (want !== got[k]) problems.push(`${r["trans_id"]} ${r["query"]} ${k}: zeek ${want} ours ${got[k]}`);
        }
      }
      if (problems.length === 0) matched++;
      else failures.push(`${name}:\n  ${problems.slice(0, 5).join("\n  ")}`);
    }
    console.log(`Zeek dns.log conformance: ${matched}/${compared} baselines matched`);
    assert.ok(compared >= 25);
    assert.deepEqual(failures, []);
  },
});

Deno.test({
  name: "conformance: Zeek's own dns.log baselines read as Zeek logs give the same transactions as their traces",
  ignore: dir === null,
  async fn() {
    const logs = baselineNames();
    let read = 0;
    for (const name of logs) {
      // btest masks timestamps (XXXXXXXXXX.XXXXXX): a log without times is malformed, so give them one.
      const text = Deno.readTextFileSync(`${dir}/${name}.dns.log`).replaceAll("XXXXXXXXXX.XXXXXX", "1600000000.000000");
      if (!text.includes("\n#fields\t")) continue; // zeek-cut subsets are not dns.log files
      const rows = text.split("\n").filter((l) => l && !l.startsWith("#"));
      const tmp = Deno.makeTempFileSync({ suffix: ".log" });
      Deno.writeTextFileSync(tmp, text);
      const fromLog: Transaction[] = [];
      const st = await ingestFile(tmp, { onTransaction: (t) => fromLog.push({ ...t }) });
      Deno.removeSync(tmp);
      assert.equal(st.format, "zeek-tsv", name);
      assert.equal(st.malformed, 0, `${name}: ${JSON.stringify(st.malformed_reasons)}`);
      assert.equal(fromLog.length, rows.length, name);
      const fromPcap: Transaction[] = [];
      await ingestFile(`${dir}/${name}.pcap`, { onTransaction: (t) => fromPcap.push({ ...t }) });
      // Every non-NetBIOS query name Zeek logged is one Plumbum decoded from the trace.
      const names = new Set(fromPcap.map((t) => t.queryKey));
      for (const t of fromLog) {
        if (t.serverPort === 137 || t.query === "") continue;
        if (ZEEK_FIELD_DIFFS[name]?.some((d) => d.field === "query")) continue;
        assert.ok(names.has(t.queryKey), `${name}: ${t.queryKey}`);
      }
      read++;
    }
    assert.ok(read >= 25, `read ${read} baselines`);
  },
});
