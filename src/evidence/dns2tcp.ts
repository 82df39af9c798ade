/**
 * dns2tcp's framing (its source: common/includes/packet.h, server/rr.c): a
 * query name is standard base64 of a 7-byte header — session id, ack,
 * sequence number (2 bytes each), type — and, when the type has DATA
 * (0x08), the bytes of the TCP stream it carries; `=auth` and `=connect`
 * names set a session up. An answer's records each begin with a letter
 * giving their order ('A', 'B', …) before their piece of the base64 reply,
 * which holds the same header and data. Decoded here back to the stream,
 * each (session, sequence) once, in the order they first appear.
 *
 * @module
 */

import { BySession, concat, type Decoded, radix } from "./codec.ts";

const B64 = radix("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", 6, false);
const DATA = 0x08;

/** Packets to the stream they carry: DATA packets' bytes, each (session, sequence) once. */
function stream(packets: Uint8Array[], items: number, direction: string): Decoded {
  const seen = new Set<string>();
  const data: Uint8Array[] = [];
  const sessions = new Set<number>();
  const bySession = new BySession();
  let framed = 0;
  for (const p of packets) {
    if (p.length < 7) continue;
    framed++;
    const session = (p[0] << 8) | p[1];
    sessions.add(session);
    if ((p[6] & DATA) === 0 || p.length === 7) continue;
    const key = `${session}:${(p[4] << 8) | p[5]}`;
    if (seen.has(key)) continue;
    seen.add(key);
    data.push(p.subarray(7));
    bySession.add(session.toString(16).padStart(4, "0"), p.subarray(7));
  }
  return {
    encoding: "base64",
    framing: "dns2tcp",
    bytes: concat(data),
    decodedShare: items === 0 ? 0 : framed / items,
    items,
    note: `${seen.size} ${direction} DATA packets in ${sessions.size} session${sessions.size === 1 ? "" : "s"}`,
    sessions: bySession.sessions,
  };
}

/**
 * dns2tcp's upstream from the names' labels under the zone, in query order;
 * null unless the session setup (`=auth`, `=connect`) is among them.
 */
export function dns2tcpUpstream(parts: string[][]): Decoded | null {
  if (!parts.some((p) => p.some((l) => l === "=auth" || l === "=connect"))) return null;
  const packets = parts.filter((p) => !p.some((l) => l.startsWith("=")))
    .map((p) => B64(p.join("")))
    .filter((b): b is Uint8Array => b !== null);
  return stream(packets, parts.length, "upstream");
}

/** dns2tcp's downstream: each response's TXT strings, ordered by their leading letter, joined and decoded. */
export function dns2tcpDownstream(responses: string[][]): Decoded {
  const packets: Uint8Array[] = [];
  for (const texts of responses) {
    if (texts.length === 0) continue;
    const joined = texts.filter((t) => t.length > 1).sort((a, b) => a.charCodeAt(0) - b.charCodeAt(0))
      .map((t) => t.slice(1)).join("");
    const b = B64(joined);
    if (b !== null) packets.push(b);
  }
  return stream(packets, responses.length, "downstream");
}
