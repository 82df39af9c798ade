/**
 * A carving as its outputs write it: `carve.json` (the contract of
 * DESIGN.md: domain, run, sources, and per client its sessions with
 * direction, encoding, framing, bytes, decoded share, SHA-256, what it
 * looks like and the file holding it) and the one-line summary `carve`
 * prints and `explain` can show.
 *
 * @module
 */

import type { Carving } from "../evidence/carve.ts";
import type { PayloadStream, PayloadSummary } from "../analysis/types.ts";
import { displayText } from "./escape.ts";
import { formatBytes } from "./progress.ts";

/** The key of a stream in the map of files written: client, direction and session. */
export function streamKey(client: string, s: { direction: string; session: string | null }): string {
  return `${client} ${s.direction} ${s.session ?? ""}`;
}

/** The `carve.json` document; `files` maps each stream's {@link streamKey} to the file written, `pcap` the capture (or null). */
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
        session: s.session,
        encoding: s.encoding,
        framing: s.framing,
        bytes: s.bytes.length,
        decoded_share: s.decoded_share,
        items: s.items,
        sha256: s.sha256,
        looks_like: s.looks_like,
        note: s.note,
        file: files[streamKey(cl.client, s)] === undefined ? null : displayText(files[streamKey(cl.client, s)]),
      })),
    })),
  };
}

/** One stream in a line: `up 40 KB, base32, 99 % decoded, gzip "passwords.xlsx"`. */
export function streamLine(
  s: Omit<PayloadStream, "client" | "sha256" | "session"> & { session?: string | null },
): string {
  const dir = `${s.direction === "upstream" ? "up" : "down"}${s.session ? ` (session ${s.session})` : ""}`;
  if (s.bytes === 0) return `${dir} nothing decoded`;
  return `${dir} ${formatBytes(s.bytes)}, ${s.encoding}${s.framing === "none" ? "" : ` (${s.framing})`}, ${
    Math.round(100 * s.decoded_share)
  } % decoded, ${displayText(s.looks_like)}`;
}

/** A carving in one evidence line: the busiest client's streams (and how many clients more). */
export function payloadEvidence(p: PayloadSummary): string {
  const first = p.streams[0]?.client;
  const own = p.streams.filter((s) => s.client === first);
  const others = new Set(p.streams.map((s) => s.client)).size - 1;
  return `${own.map(streamLine).join("; ")}${first === undefined ? "nothing carved" : ` (from ${displayText(first)})`}${
    others > 0 ? `, and ${others} client${others === 1 ? "" : "s"} more` : ""
  }: carved ${p.carved_at.slice(0, 19).replace("T", " ")} UTC (plumbum carve)`;
}
