/**
 * Carving: a finding's traffic read again from its run's sources — every
 * packet of the domain into a capture of its own, and per client the data
 * its query names carried up and its answers carried down, decoded. It
 * never changes a score. A source that is gone or changed since the run is
 * said, never guessed at.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { asciiLower, DnsDecoder } from "../ingest/dns/mod.ts";
import { addressBytes } from "../ingest/dns/addresses.ts";
import type { FrameSink } from "../ingest/frames.ts";
import { PacketDecoder } from "../ingest/packet.ts";
import { PcapWriter } from "../ingest/pcap_writer.ts";
import { captureFrames, InputError, openInput } from "../ingest/source.ts";
import type { DnsMessage, Frame, RData } from "../ingest/types.ts";
import type { RunRecord } from "../store/types.ts";
import type { PayloadSummary } from "../analysis/types.ts";
import { iodineDownstream } from "./iodine.ts";
import { dns2tcpDownstream } from "./dns2tcp.ts";
import { bestEncoding, decodeUpstream, looksLike } from "./payload.ts";
import { concat, type Decoded, latin1 } from "./codec.ts";

/** Queries and answers of a domain kept for decoding at most (a few hundred MB of names and answers). */
const MAX_MESSAGES = 1_000_000;

/** What happened to one of the run's sources. */
export interface CarvedSource {
  path: string;
  /** `read`, or why not: `missing`, `changed` (size or SHA-256 differ from the run's), `unreadable`. */
  status: "read" | "missing" | "changed" | "unreadable";
  detail: string | null;
  /** Frames of the domain taken from it. */
  frames: number;
}

/** One direction of one client's traffic (of one session, when the tool's framing tells them apart), decoded. */
export interface CarvedStream {
  direction: "upstream" | "downstream";
  /** The tool's session id (hex), or null when there is one stream for the direction. */
  session: string | null;
  encoding: string;
  framing: string;
  bytes: Uint8Array;
  decoded_share: number;
  items: number;
  note: string | null;
  sha256: string;
  looks_like: string;
}

/** One client of the domain and what it sent and received. */
export interface CarvedClient {
  client: string;
  queries: number;
  streams: CarvedStream[];
}

/** A domain carved from a run. */
export interface Carving {
  domain: string;
  run: number;
  sources: CarvedSource[];
  /** The zone the data labels sit under (the domain, or a fixed sub-zone of it such as `t.example.com`). */
  zone: string;
  clients: CarvedClient[];
  /** Frames written to the capture. */
  frames: number;
}

interface Asked {
  client: string;
  name: string;
}

interface Answered {
  client: string;
  name: string;
  answers: RData[];
}

/** Whether `key` (a lower-cased name) is `domain` or under it. */
const under = (key: string, domain: string) => key === domain || key.endsWith("." + domain);

/**
 * Frames of one source: each decoded for DNS, and when a message's question
 * is under the domain, its queries and answers remembered and the frame
 * handed to `keep` (which says whether it took it: a capture holds one
 * link type).
 */
class CarveSink implements FrameSink {
  readonly #packets: PacketDecoder;
  #match = false;
  frames = 0;
  otherLink = 0;
  /** Messages past {@link MAX_MESSAGES}, not decoded. */
  dropped = 0;

  constructor(
    readonly domain: string,
    readonly asked: Asked[],
    readonly answered: Answered[],
    readonly keep: (linkType: number, ts: number, bytes: Uint8Array, wireLen: number) => boolean,
    dns: DnsDecoder,
    dnsPorts: number[],
  ) {
    this.#packets = new PacketDecoder((m, meta) => this.#message(m, meta), () => {}, { dns, dnsPorts });
  }

  #message(m: DnsMessage, meta: { src: string; dst: string }): void {
    const q = m.questions[0];
    if (q === undefined || !under(asciiLower(q.name).replace(/\.$/, ""), this.domain)) return;
    this.#match = true;
    // Bounded: past the cap the frames still go to the capture, the messages are counted, not kept.
    if (this.asked.length + this.answered.length >= MAX_MESSAGES) {
      this.dropped++;
      return;
    }
    if (!m.qr) this.asked.push({ client: meta.src, name: q.name });
    else this.answered.push({ client: meta.dst, name: q.name, answers: m.answers.map((r) => r.data) });
  }

  frame(f: Frame): void {
    this.#match = false;
    this.#packets.frame(f);
    if (!this.#match) return;
    if (this.keep(f.linkType, f.ts, f.data.subarray(f.start, f.end), f.origLen)) this.frames++;
    else this.otherLink++;
  }

  problem(): void {}
  linkType(): void {}
  end(): void {}
}

/** The labels of `name` left of `zone`. */
function labelsUnder(name: string, zone: string): string[] {
  const n = name.replace(/\.$/, "");
  const rest = asciiLower(n) === zone ? "" : n.slice(0, n.length - zone.length - 1);
  return rest === "" ? [] : rest.split(".");
}

/** The longest run of labels every name ends with, at least `domain`: the zone the data sits under. */
function commonZone(names: string[], domain: string): string {
  let zone = domain.split(".");
  const lists = names.map((n) => asciiLower(n).replace(/\.$/, "").split("."));
  for (;;) {
    const next = lists[0]?.[lists[0].length - zone.length - 1];
    // A zone label is no data: the names must have labels left under it.
    if (
      next === undefined || !lists.every((l) => l.length > zone.length + 1 && l[l.length - zone.length - 1] === next)
    ) break;
    zone = [next, ...zone];
  }
  return zone.join(".");
}

/** What one answer carried, as bytes (null when nothing: an empty or unknown record). */
function answerBytes(a: RData, zone: string): Uint8Array | null {
  switch (a.kind) {
    case "address":
      return addressBytes(a.address);
    case "raw":
      return a.bytes;
    case "txt": {
      const text = a.strings.join("");
      const enc = bestEncoding([text]);
      return (enc === null ? null : enc.decode(text)) ?? latin1(text);
    }
    case "name":
    case "mx": {
      const labels = labelsUnder(a.name, zone).join("");
      const enc = bestEncoding([labels]);
      return enc === null ? null : enc.decode(labels);
    }
    default:
      return null;
  }
}

/** The downstream of a client: in its tool's framing when its upstream had one (iodine, dns2tcp), else the answers' data in order. */
function downstreamOf(up: Decoded, rows: Answered[], zone: string): Decoded {
  if (up.framing === "dns2tcp") {
    return dns2tcpDownstream(
      rows.map((r) =>
        r.answers.flatMap((a) =>
          a.kind === "txt" ? [a.strings.join("")] : a.kind === "raw" ? [String.fromCharCode(...a.bytes)] : []
        )
      ),
    );
  }
  if (up.framing !== "iodine") return downstream(rows, zone);
  const answers: ({ raw: Uint8Array } | { text: string } | { names: string[] })[] = [];
  for (const r of rows) {
    // Host names (CNAME, MX, SRV) carry data each, a response's MX in order of preference.
    const names = r.answers.filter((a) => a.kind === "name" || a.kind === "mx")
      .sort((a, b) => (a.kind === "mx" ? a.preference : 0) - (b.kind === "mx" ? b.preference : 0))
      .map((a) => (a as { name: string }).name);
    if (names.length > 0) answers.push({ names });
    for (const a of r.answers) {
      if (a.kind === "raw") answers.push({ raw: a.bytes });
      else if (a.kind === "txt") answers.push({ text: a.strings.join("") });
    }
  }
  return iodineDownstream(answers);
}

function downstream(rows: Answered[], zone: string): Decoded {
  const seen = new Set<string>();
  const parts: Uint8Array[] = [];
  let items = 0, decoded = 0;
  const kinds = new Set<string>();
  for (const r of rows) {
    for (const a of r.answers) {
      const key = `${r.name}\u0000${JSON.stringify(a)}`;
      if (seen.has(key)) continue;
      seen.add(key);
      items++;
      const b = answerBytes(a, zone);
      if (b === null) continue;
      decoded++;
      kinds.add(a.kind);
      parts.push(b);
    }
  }
  return {
    encoding: kinds.size === 0 ? "none" : [...kinds].join("+"),
    framing: "none",
    bytes: concat(parts),
    decodedShare: items === 0 ? 0 : decoded / items,
    items,
    note: items === 0 ? "no answers" : "distinct answers' data in order (TXT decoded when it is hex or base32/64)",
  };
}

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

/** A direction's streams: one per session when the framing told more than one apart, else one. */
function streams(direction: CarvedStream["direction"], d: Decoded): CarvedStream[] {
  const one = (session: string | null, bytes: Uint8Array): CarvedStream => ({
    direction,
    session,
    encoding: d.encoding,
    framing: d.framing,
    bytes,
    decoded_share: Math.round(d.decodedShare * 1000) / 1000,
    items: d.items,
    note: d.note,
    sha256: sha256(bytes),
    looks_like: looksLike(bytes),
  });
  return d.sessions !== undefined && d.sessions.length > 1
    ? d.sessions.map((s) => one(s.id, s.bytes))
    : [one(d.sessions?.[0]?.id ?? null, d.bytes)];
}

/** Whether a source is still the file the run read (its size and SHA-256). */
async function checkSource(path: string, size: number | null, digest: string | null): Promise<CarvedSource | null> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return { path, status: "missing", detail: "no longer there", frames: 0 };
    return { path, status: "unreadable", detail: (e as Error).message, frames: 0 };
  }
  if (size !== null && info.size !== size) {
    return { path, status: "changed", detail: `${info.size} bytes now, ${size} when the run read it`, frames: 0 };
  }
  if (digest !== null) {
    const h = createHash("sha256");
    const f = await Deno.open(path);
    try {
      for await (const chunk of f.readable) h.update(chunk);
    } catch (e) {
      return { path, status: "unreadable", detail: (e as Error).message, frames: 0 };
    }
    const now = h.digest("hex");
    if (now !== digest) {
      return { path, status: "changed", detail: `SHA-256 ${now}, not the run's ${digest}`, frames: 0 };
    }
  }
  return null;
}

/** What a carving found, as the store keeps it and every output shows it (streams with data, busiest client first). */
export function payloadSummary(c: Carving, at: Date = new Date()): PayloadSummary {
  return {
    carved_at: at.toISOString(),
    streams: c.clients.flatMap((cl) =>
      cl.streams.map((s) => ({
        client: cl.client,
        direction: s.direction,
        ...(s.session === null ? {} : { session: s.session }),
        encoding: s.encoding,
        framing: s.framing,
        bytes: s.bytes.length,
        decoded_share: s.decoded_share,
        sha256: s.sha256,
        looks_like: s.looks_like,
      }))
    ),
  };
}

/**
 * Carve `domain` of `run`: its frames into `pcapFile` (opened by the caller,
 * null: none written), and per client (only `client` when given) the
 * decoded upstream and downstream.
 */
export async function carve(
  run: RunRecord,
  domain: string,
  o: { pcap: (() => Deno.FsFile) | null; client?: string; dnsPorts?: number[] },
): Promise<Carving> {
  const asked: Asked[] = [], answered: Answered[] = [];
  const sources: CarvedSource[] = [];
  let out: { writer: PcapWriter; linkType: number } | null = null;
  const keep = (linkType: number, ts: number, bytes: Uint8Array, wireLen: number): boolean => {
    if (o.pcap === null) return true;
    out ??= { writer: new PcapWriter(o.pcap(), linkType, 262144), linkType };
    if (out.linkType !== linkType) return false;
    out.writer.add(ts, bytes, wireLen);
    return true;
  };
  const dns = new DnsDecoder();
  dns.rdata.rawKeys = true;
  const dnsPorts = o.dnsPorts ?? (run.config.dns_ports as number[] | undefined) ?? [53];
  let frames = 0;
  try {
    for (const recorded of run.sources) {
      // A live capture is read again from where `stream --save` put its packets.
      const saved = typeof run.config.save === "string" && recorded.path.startsWith("interface:")
        ? run.config.save
        : null;
      if (recorded.path.startsWith("interface:") && saved === null) {
        sources.push({
          path: recorded.path,
          status: "missing",
          detail: "a live capture keeps no packets unless stream --save wrote them",
          frames: 0,
        });
        continue;
      }
      const s = saved === null ? recorded : { ...recorded, path: saved, size: null, sha256: null };
      const problem = await checkSource(s.path, s.size, s.sha256);
      if (problem !== null) {
        sources.push(problem);
        continue;
      }
      const sink = new CarveSink(domain, asked, answered, keep, dns, dnsPorts);
      try {
        const input = await openInput(s.path);
        try {
          await captureFrames(input, "carving reads the packets a run read")(sink);
        } finally {
          await input.close();
        }
        sources.push({
          path: s.path,
          status: "read",
          detail: [
            sink.otherLink > 0 ? `${sink.otherLink} frames of another link type not written` : "",
            sink.dropped > 0 ? `${sink.dropped} messages past ${MAX_MESSAGES} not decoded` : "",
          ].filter((x) => x !== "").join("; ") || null,
          frames: sink.frames,
        });
        frames += sink.frames;
      } catch (e) {
        if (!(e instanceof InputError)) throw e;
        sources.push({ path: s.path, status: "unreadable", detail: e.message, frames: 0 });
      }
    }
  } finally {
    (out as { writer: PcapWriter } | null)?.writer.close();
  }
  const zone = commonZone(asked.map((a) => a.name), domain);
  const clients = [...new Set(asked.map((a) => a.client).concat(answered.map((a) => a.client)))]
    .filter((c) => o.client === undefined || c === o.client)
    .map((client) => {
      // iodine's names repeat (its CMC counter cycles): every query in order, its retransmissions dropped by framing.
      const names = asked.filter((a) => a.client === client).map((a) => a.name);
      const distinct = [...new Set(names)];
      let up = decodeUpstream(distinct.map((n) => labelsUnder(n, zone)));
      if (up.framing === "iodine") up = decodeUpstream(names.map((n) => labelsUnder(n, zone)));
      return {
        client,
        queries: names.length,
        streams: [
          ...streams("upstream", up),
          ...streams("downstream", downstreamOf(up, answered.filter((a) => a.client === client), zone)),
        ],
      };
    })
    .sort((a, b) => b.queries - a.queries);
  return { domain, run: run.id, sources, zone, clients, frames };
}
