/**
 * Zeek `dns.log` readers: the ASCII (TSV) writer with its `#separator`,
 * `#set_separator`, `#empty_field`, `#unset_field` and `#fields` headers (any
 * column order, extra columns ignored), and the JSON writer (one object per
 * line). Each row already is a transaction.
 *
 * @module
 */

import type { ByteStream } from "./bytes.ts";
import { asciiLower, bytesToByteString } from "./dns/mod.ts";
import type { ResourceRecord, Transaction } from "./types.ts";

/** Longest line accepted; longer lines are counted as malformed and skipped. */
const MAX_LINE = 1 << 20;

/** Callbacks of a Zeek reader. */
export interface ZeekSink {
  /** One line's transaction (recycled after the call, as everywhere). */
  transaction(tx: Transaction): void;
  /** `line` is 1-based. */
  problem(reason: string, line: number): void;
  /** A line that carried no DNS row (header, comment, blank). */
  skipped(): void;
}

/** Read lines from the stream as byte strings (one byte a character), calling `each` for every line. */
export async function forEachLine(
  s: ByteStream,
  each: (line: string, lineNo: number) => void,
  tooLong: (lineNo: number) => void,
): Promise<void> {
  let lineNo = 0;
  while (true) {
    let nl = s.buf.indexOf(10, s.start);
    if (nl < 0 || nl >= s.end) {
      // Need more bytes: read on until a newline appears or the line is too long. One byte more is asked for at a
      // time (a file's read fills what room there is; a followed log hands over each line as it is written).
      let want = s.available + 1;
      while (true) {
        if (want > MAX_LINE + 1) {
          lineNo++;
          tooLong(lineNo);
          // Skip to the next newline.
          while (true) {
            const k = s.buf.indexOf(10, s.start);
            if (k >= 0 && k < s.end) {
              s.start = k + 1;
              break;
            }
            s.start = s.end;
            if (!(await s.fill(1))) return;
          }
          nl = -2;
          break;
        }
        const more = await s.fill(want);
        nl = s.buf.indexOf(10, s.start);
        if (nl >= 0 && nl < s.end) break;
        if (!more) {
          nl = -1;
          break;
        }
        want = s.available + 1;
      }
      if (nl === -2) continue;
      if (nl === -1) {
        if (s.available > 0) {
          lineNo++;
          each(trimCr(bytesToByteString(s.buf, s.start, s.end)), lineNo);
          s.start = s.end;
        }
        return;
      }
    }
    lineNo++;
    each(trimCr(bytesToByteString(s.buf, s.start, nl)), lineNo);
    s.start = nl + 1;
  }
}

function trimCr(line: string): string {
  return line.endsWith("\r") ? line.slice(0, -1) : line;
}

/** Undo Zeek's `\xHH` escapes (and `\\`) in a byte string. */
function unescapeZeek(s: string): string {
  if (s.indexOf("\\") < 0) return s;
  return s.replace(
    /\\x([0-9a-fA-F]{2})|\\\\/g,
    (_m, hex) => hex === undefined ? "\\" : String.fromCharCode(parseInt(hex, 16)),
  );
}

/** Encode a JS string as a byte string of its UTF-8 bytes. */
function utf8ByteString(s: string): string {
  // deno-lint-ignore no-control-regex
  if (/^[\x00-\x7f]*$/.test(s)) return s;
  const b = new TextEncoder().encode(s);
  return bytesToByteString(b, 0, b.length);
}

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/** Turn Zeek's rendering of answers (and their TTLs) back into records. */
function parseZeekAnswers(answers: string[], ttls: number[], qtype: number): ResourceRecord[] {
  const out: ResourceRecord[] = [];
  for (let i = 0; i < answers.length; i++) {
    const a = answers[i];
    const ttl = ttls[i] ?? 0;
    if (a.startsWith("TXT ")) {
      const strings = parseZeekTxt(a);
      if (strings !== null) {
        let len = 0;
        for (const s of strings) len += s.length + 1;
        out.push({ name: "", type: 16, class: 1, ttl, rdlength: len, data: { kind: "txt", strings } });
        continue;
      }
    }
    const u = unescapeZeek(a);
    if (IPV4.test(u)) {
      out.push({ name: "", type: 1, class: 1, ttl, rdlength: 4, data: { kind: "address", address: u } });
    } else if (u.includes(":") && /^[0-9a-fA-F:.]+$/.test(u)) {
      out.push({ name: "", type: 28, class: 1, ttl, rdlength: 16, data: { kind: "address", address: u } });
    } else {
      const type = qtype === 5 || qtype === 12 || qtype === 2 || qtype === 15 || qtype === 33 || qtype === 39
        ? qtype
        : 0;
      out.push({ name: "", type, class: 1, ttl, rdlength: u.length, data: { kind: "text", text: u } });
    }
  }
  return out;
}

/** Parse "TXT 5 hello TXT 3 abc" (escaped) into its strings. */
function parseZeekTxt(a: string): string[] | null {
  const out: string[] = [];
  let p = 0;
  while (p < a.length) {
    const m = /^TXT (\d+) /.exec(a.slice(p, p + 16));
    if (m === null) return null;
    const want = Number(m[1]);
    p += m[0].length;
    let s = "";
    while (s.length < want && p < a.length) {
      if (a[p] === "\\" && a[p + 1] === "x" && /^[0-9a-fA-F]{2}$/.test(a.slice(p + 2, p + 4))) {
        s += String.fromCharCode(parseInt(a.slice(p + 2, p + 4), 16));
        p += 4;
      } else {
        s += a[p];
        p++;
      }
    }
    out.push(s);
    if (a[p] === " ") p++;
  }
  return out;
}

interface Row {
  get(name: string): string | null;
  list(name: string): string[];
}

function rowToTransaction(r: Row): Transaction | string {
  const rawTs = r.get("ts");
  let ts = rawTs === null || rawTs === "" ? NaN : Number(rawTs);
  // Zeek's JSON writer may be set to ISO 8601 times.
  if (!Number.isFinite(ts) && rawTs !== null) ts = Date.parse(rawTs) / 1000;
  if (!Number.isFinite(ts)) return "ts is missing or not a time";
  const query = unescapeZeek(r.get("query") ?? "");
  const num = (k: string): number | null => {
    const v = r.get(k);
    if (v === null || v === "") return null;
    const n = Number(v);
    return Number.isFinite(n) ? n : null;
  };
  const bool = (k: string): boolean => {
    const v = r.get(k);
    return v === "T" || v === "true";
  };
  const rcode = num("rcode");
  const qtype = num("qtype") ?? 0;
  // What a DNS header can carry: a 16-bit type, a 12-bit rcode (with EDNS's upper bits).
  if (!Number.isInteger(qtype) || qtype < 0 || qtype > 0xffff) return "qtype is not a record type (0-65535)";
  if (rcode !== null && (!Number.isInteger(rcode) || rcode < 0 || rcode > 0xfff)) {
    return "rcode is not a response code (0-4095)";
  }
  const ttls = r.list("TTLs").map(Number);
  const answers = parseZeekAnswers(r.list("answers"), ttls, qtype);
  const proto = r.get("proto");
  const respPort = num("id.resp_p") ?? 53;
  return {
    ts,
    rtt: num("rtt"),
    transport: proto === "tcp" ? "tcp" : "udp",
    service: respPort === 5353 ? "mdns" : respPort === 5355 ? "llmnr" : "dns",
    client: r.get("id.orig_h") ?? "",
    clientPort: num("id.orig_p") ?? 0,
    server: r.get("id.resp_h") ?? "",
    serverPort: respPort,
    id: num("trans_id") ?? 0,
    opcode: num("opcode") ?? 0,
    query,
    queryKey: asciiLower(query),
    queryRef: 0,
    qtype,
    qclass: num("qclass") ?? 1,
    rcode,
    aa: bool("AA"),
    tc: bool("TC"),
    rd: bool("RD"),
    ra: bool("RA"),
    z: num("Z") ?? 0,
    answers,
    hasQuery: true,
    hasResponse: rcode !== null,
    querySize: 0,
    responseSize: 0,
  };
}

/** Read a Zeek TSV dns.log. */
export async function readZeekTsv(s: ByteStream, sink: ZeekSink): Promise<void> {
  let sep = "\t";
  let setSep = ",";
  let empty = "(empty)";
  let unset = "-";
  let index = new Map<string, number>();
  let cols: string[] = [];
  const row: Row = {
    get(name) {
      const i = index.get(name);
      if (i === undefined) return null;
      const v = cols[i];
      if (v === undefined || v === unset) return null;
      return v === empty ? "" : v;
    },
    list(name) {
      const v = row.get(name);
      if (v === null || v === "") return [];
      return v.split(setSep);
    },
  };
  await forEachLine(s, (line, no) => {
    if (line.startsWith("#")) {
      sink.skipped();
      const sp = line.indexOf(line.startsWith("#separator") ? " " : sep);
      const key = sp < 0 ? line : line.slice(0, sp);
      const value = sp < 0 ? "" : line.slice(sp + 1);
      switch (key) {
        case "#separator":
          sep = unescapeZeek(value);
          break;
        case "#set_separator":
          setSep = unescapeZeek(value);
          break;
        case "#empty_field":
          empty = value;
          break;
        case "#unset_field":
          unset = value;
          break;
        case "#fields":
          index = new Map(value.split(sep).map((f, i) => [f, i]));
          break;
      }
      return;
    }
    if (line.length === 0) {
      sink.skipped();
      return;
    }
    if (index.size === 0) {
      sink.problem("data line before any #fields header", no);
      return;
    }
    cols = line.split(sep);
    if (cols.length !== index.size) {
      sink.problem(`line has ${cols.length} fields, the #fields header names ${index.size}`, no);
      return;
    }
    const tx = rowToTransaction(row);
    if (typeof tx === "string") sink.problem(tx, no);
    else sink.transaction(tx);
  }, (no) => sink.problem("line longer than 1 MiB", no));
}

/** Read a Zeek JSON-lines dns.log. */
export async function readZeekJson(s: ByteStream, sink: ZeekSink): Promise<void> {
  const decoder = new TextDecoder();
  let obj: Record<string, unknown> = {};
  const str = (v: unknown): string | null => {
    if (v === null || v === undefined) return null;
    if (typeof v === "string") return utf8ByteString(v);
    if (typeof v === "boolean") return v ? "T" : "F";
    return String(v);
  };
  const row: Row = {
    get: (name) => str(obj[name]),
    list(name) {
      const v = obj[name];
      if (!Array.isArray(v)) return [];
      return v.map((x) => str(x) ?? "");
    },
  };
  await forEachLine(s, (line, no) => {
    const t = line.trim();
    if (t.length === 0 || t.startsWith("#")) {
      sink.skipped();
      return;
    }
    let parsed: unknown;
    try {
      // The line is a byte string; JSON needs the text back.
      const bytes = Uint8Array.from(t, (c) => c.charCodeAt(0));
      parsed = JSON.parse(decoder.decode(bytes));
    } catch {
      sink.problem("not valid JSON", no);
      return;
    }
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
      sink.problem("JSON line is not an object", no);
      return;
    }
    obj = parsed as Record<string, unknown>;
    const tx = rowToTransaction(row);
    if (typeof tx === "string") sink.problem(tx, no);
    else sink.transaction(tx);
  }, (no) => sink.problem("line longer than 1 MiB", no));
}
