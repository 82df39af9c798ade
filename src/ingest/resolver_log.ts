/**
 * Resolvers' own query logs, line by line:
 *
 * - BIND 9's query log (`querylog yes;`, the `queries` category), from a
 *   log file (`print-time yes` or `iso8601`, with or without the category
 *   and severity) or syslog:
 *   `07-Dec-2026 23:43:25.342 queries: info: client @0x7f5281352098 10.77.0.1#48237 (www.tun.test): query: www.tun.test IN A +E(0)K (10.77.0.2)`.
 *   A query, no answer: the transaction has no response.
 * - Unbound's `log-queries: yes` and `log-replies: yes` lines:
 *   `[1796687005] unbound[21185:0] info: 10.77.0.1 abc.tun.test. TXT IN` and
 *   `[1796687005] unbound[21185:0] info: 10.77.0.1 abc.tun.test. TXT IN NOERROR 0.002602 0 56`
 *   (client, name, type, class; then rcode, seconds, from cache, bytes). A
 *   reply is paired with its query line (same client, name and type, within
 *   {@link PAIR_SECS}), so an exchange logged both ways counts once.
 *
 * Lines of other kinds (start-up notices, other categories) are skipped and
 * counted; a line that starts as a query line but does not parse is counted
 * as malformed.
 *
 * @module
 */

import type { ByteStream } from "./bytes.ts";
import { asciiLower } from "./dns/mod.ts";
import { rcodeNumber, typeNumber } from "./dns/codes.ts";
import type { Transaction } from "./types.ts";
import { forEachLine, type ZeekSink } from "./zeek.ts";

/** Seconds an Unbound query line waits for its reply line. */
const PAIR_SECS = 30;
/** Query lines waiting for their replies at most (older ones leave unanswered). */
const PENDING_MAX = 100_000;

const MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];

const BIND_QUERY =
  /client (?:@0x[0-9a-f]+ )?([0-9a-fA-F.:]+)#(\d+)(?: \([^)]*\))?: (?:view [^:]*: )?query: (\S+) (\S+) (\S+) ([-+][A-Z()0-9]*) \(([^)]*)\)/;
const UNBOUND_LINE =
  /^(\[(\d+)\]|\w{3} +\d+ \d\d:\d\d:\d\d) unbound\[\d+:\d+\] info: ([0-9a-fA-F.:]+) (\S+) (\S+) (\S+)(?: (\S+) (\S+) (\S+) (\S+))?$/;

/** Whether `text` (a file's first bytes, as text) is a BIND query log. */
export function isBindQueryLog(text: string): boolean {
  return text.split("\n").slice(0, 50).some((l) => BIND_QUERY.test(l) && /^\S/.test(l));
}

/** Whether `text` is Unbound's log with query or reply lines. */
export function isUnboundLog(text: string): boolean {
  return text.split("\n").slice(0, 50).some((l) => /^(\[\d+\]|\w{3} +\d+ \d\d:\d\d:\d\d) unbound\[\d+:\d+\] /.test(l));
}

/**
 * The time at the start of a log line, in seconds: BIND's `07-Dec-2026
 * 23:43:25.342`, ISO 8601, or syslog's `Dec  7 23:43:25` (no year: the
 * current one, or the last if that would be in the future).
 *
 * @internal Exported for its tests.
 */
export function lineTime(line: string, now = new Date()): number | null {
  let m = /^(\d{2})-(\w{3})-(\d{4}) (\d{2}):(\d{2}):(\d{2})(\.\d+)?/.exec(line);
  if (m !== null) {
    const mon = MONTHS.indexOf(m[2].toLowerCase());
    if (mon < 0) return null;
    return Date.UTC(+m[3], mon, +m[1], +m[4], +m[5], +m[6]) / 1000 + (m[7] ? Number(m[7]) : 0);
  }
  m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?)/.exec(line);
  if (m !== null) {
    const t = Date.parse(/[Z+-]\d*:?\d*$/.test(m[1].slice(19)) ? m[1] : m[1] + "Z");
    return Number.isFinite(t) ? t / 1000 : null;
  }
  m = /^(\w{3}) +(\d{1,2}) (\d{2}):(\d{2}):(\d{2})/.exec(line);
  if (m !== null) {
    const mon = MONTHS.indexOf(m[1].toLowerCase());
    if (mon < 0) return null;
    let year = now.getUTCFullYear();
    if (Date.UTC(year, mon, +m[2]) > now.getTime() + 86_400_000) year--;
    return Date.UTC(year, mon, +m[2], +m[3], +m[4], +m[5]) / 1000;
  }
  return null;
}

function transaction(
  ts: number,
  client: string,
  clientPort: number,
  server: string,
  name: string,
  qtype: number,
  o: { rcode?: number | null; rd?: boolean; tcp?: boolean; responseSize?: number; rtt?: number | null } = {},
): Transaction {
  const query = name.endsWith(".") && name.length > 1 ? name.slice(0, -1) : name;
  return {
    ts,
    rtt: o.rtt ?? null,
    transport: o.tcp ? "tcp" : "udp",
    service: "dns",
    client,
    clientPort,
    server,
    serverPort: 53,
    id: 0,
    opcode: 0,
    query,
    queryKey: asciiLower(query),
    queryRef: 0,
    qtype,
    qclass: 1,
    rcode: o.rcode ?? null,
    aa: false,
    tc: false,
    rd: o.rd ?? true,
    ra: false,
    z: 0,
    answers: [],
    hasQuery: true,
    hasResponse: o.rcode !== undefined && o.rcode !== null,
    querySize: 0,
    responseSize: o.responseSize ?? 0,
  };
}

/** Read a BIND 9 query log: one transaction (without a response) per query line. */
export async function readBindQueryLog(s: ByteStream, sink: ZeekSink, now = new Date()): Promise<void> {
  await forEachLine(s, (line, lineNo) => {
    const m = BIND_QUERY.exec(line);
    if (m === null) {
      if (/\bquery: /.test(line) && /\bclient\b/.test(line)) sink.problem("query line that does not parse", lineNo);
      else sink.skipped();
      return;
    }
    const ts = lineTime(line, now);
    if (ts === null) return sink.problem("query line without a time BIND writes (print-time)", lineNo);
    const qtype = typeNumber(m[5]);
    if (qtype === null) return sink.problem(`unknown record type ${m[5].slice(0, 20)}`, lineNo);
    const flags = m[6];
    sink.transaction(
      transaction(ts, m[1], Number(m[2]), m[7], m[3], qtype, { rd: flags.startsWith("+"), tcp: flags.includes("T") }),
    );
  }, (lineNo) => sink.problem("line over 1 MB", lineNo));
}

/** Read Unbound's query and reply lines; a reply takes the query line it answers. */
export async function readUnboundLog(s: ByteStream, sink: ZeekSink, now = new Date()): Promise<void> {
  // Query lines waiting for their reply, oldest first (a Map keeps insertion order).
  const pending = new Map<string, { ts: number; line: number }[]>();
  let waiting = 0;
  const leave = (key: string, q: { ts: number }) => {
    const [client, name, type] = key.split(" ");
    sink.transaction(transaction(q.ts, client, 0, "", name, Number(type)));
  };
  const expire = (before: number) => {
    for (const [key, qs] of pending) {
      while (qs.length > 0 && (qs[0].ts < before || waiting > PENDING_MAX)) {
        leave(key, qs.shift()!);
        waiting--;
      }
      if (qs.length === 0) pending.delete(key);
      else if (qs[0].ts >= before && waiting <= PENDING_MAX) break;
    }
  };
  await forEachLine(s, (line, lineNo) => {
    const m = UNBOUND_LINE.exec(line);
    if (m === null) {
      sink.skipped();
      return;
    }
    const ts = m[2] !== undefined ? Number(m[2]) : lineTime(m[1], now);
    const qtype = typeNumber(m[5]);
    if (ts === null || qtype === null) {
      sink.problem("query or reply line that does not parse", lineNo);
      return;
    }
    expire(ts - PAIR_SECS);
    const key = `${m[3]} ${m[4]} ${qtype}`;
    if (m[7] === undefined) {
      const qs = pending.get(key);
      if (qs === undefined) pending.set(key, [{ ts, line: lineNo }]);
      else qs.push({ ts, line: lineNo });
      waiting++;
      return;
    }
    const rcode = rcodeNumber(m[7]);
    const secs = Number(m[8]), size = Number(m[10]);
    if (rcode === null || !Number.isFinite(secs) || !Number.isFinite(size)) {
      sink.problem("reply line that does not parse", lineNo);
      return;
    }
    const qs = pending.get(key);
    const q = qs?.shift();
    if (q !== undefined) {
      waiting--;
      if (qs!.length === 0) pending.delete(key);
    }
    sink.transaction(
      transaction(q?.ts ?? ts - secs, m[3], 0, "", m[4], qtype, { rcode, responseSize: size, rtt: secs }),
    );
  }, (lineNo) => sink.problem("line over 1 MB", lineNo));
  for (const [key, qs] of pending) for (const q of qs) leave(key, q);
}
