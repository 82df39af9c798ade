/**
 * A carving as its outputs write it: `carve.json` (the contract of
 * DESIGN.md: domain, run, sources, and per client its sessions with
 * direction, encoding, framing, bytes, decoded share, SHA-256, what it
 * looks like and the file holding it) and the one-line summary `carve`
 * prints and `explain` can show.
 *
 * @module
 */

import type { CarvedStream, Carving } from "../evidence/carve.ts";
import { displayText } from "./escape.ts";
import { formatBytes } from "./progress.ts";

/** The `carve.json` document; `files` maps "CLIENT DIRECTION" to the file written, `pcap` the capture (or null). */
export function carveDocument(c: Carving, files: Record<string, string>, pcap: string | null): Record<string, unknown> {
  return {
    domain: displayText(c.domain),
    run: c.run,
    zone: displayText(c.zone),
    pcap: pcap === null ? null : { file: displayText(pcap), packets: c.frames },
    sources: c.sources.map((s) => ({
      path: displayText(s.path),
      status: s.status,
      detail: s.detail,
      packets: s.frames,
    })),
    clients: c.clients.map((cl) => ({
      client: displayText(cl.client),
      queries: cl.queries,
      sessions: cl.streams.map((s) => ({
        direction: s.direction,
        encoding: s.encoding,
        framing: s.framing,
        bytes: s.bytes.length,
        decoded_share: s.decoded_share,
        items: s.items,
        sha256: s.sha256,
        looks_like: s.looks_like,
        note: s.note,
        file: files[`${cl.client} ${s.direction}`] === undefined
          ? null
          : displayText(files[`${cl.client} ${s.direction}`]),
      })),
    })),
  };
}

/** One stream in a line: `up ≈ 40 KB, base32, 99 % decoded, gzip "passwords.xlsx"`. */
export function payloadLine(s: CarvedStream): string {
  const dir = s.direction === "upstream" ? "up  " : "down";
  if (s.bytes.length === 0) {
    return `${dir} nothing decoded (${s.items} ${s.direction === "upstream" ? "names" : "answers"})`;
  }
  return `${dir} ${formatBytes(s.bytes.length)}, ${s.encoding}${s.framing === "none" ? "" : ` (${s.framing})`}, ${
    Math.round(100 * s.decoded_share)
  } % decoded, ${displayText(s.looks_like)}`;
}
