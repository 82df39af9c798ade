/**
 * The allow-list: domains a site has looked at and accepts (a CDN's signed
 * names, an antivirus's reputation lookups, a mail server's DNSBL checks),
 * each with its reason. An allowed domain is still scored and stored; its
 * finding is marked `suppressed` with the entry that allowed it, and the
 * listings leave it out by default and say how many they left out. Nothing
 * is dropped silently.
 *
 * An entry names a domain or a suffix (`example.com` allows it and every
 * scored domain under it), optionally the clients it is allowed for (a
 * finding with another client is not suppressed: a new client is news),
 * and optionally the day it expires (from that day on it no longer
 * applies, and the commands say so).
 *
 * @module
 */

import type { DomainEvidence, Suppression } from "./types.ts";

/** What the allow-list looks at in a finding. */
interface Allowable {
  domain: string;
  evidence?: DomainEvidence;
}

/** One `allow "NAME" { … }` block of config.hcl. */
export interface AllowEntry {
  /** The domain or suffix allowed, lower case, without a trailing dot. */
  name: string;
  /** Why (required: an allow-list entry nobody can explain is a hole). */
  reason: string;
  /** Only these clients (canonical addresses); null: any. */
  clients: string[] | null;
  /** The first day (YYYY-MM-DD, UTC) it no longer applies; null: it does not expire. */
  expires: string | null;
}

/** Whether `entry` has expired at `now`. */
export function expired(entry: AllowEntry, now: Date): boolean {
  return entry.expires !== null && now.toISOString().slice(0, 10) >= entry.expires;
}

/**
 * The suppression of `f` under `entries` at `now`, or null: the longest
 * entry naming the domain or a suffix of it, unexpired, whose clients (if
 * it names any) include every client of the finding.
 */
export function suppressionOf(f: Allowable, entries: readonly AllowEntry[], now: Date): Suppression | null {
  let best: AllowEntry | null = null;
  for (const e of entries) {
    if (f.domain !== e.name && !f.domain.endsWith(`.${e.name}`)) continue;
    if (expired(e, now)) continue;
    if (e.clients !== null && !clientsWithin(f, e.clients)) continue;
    if (best === null || e.name.length > best.name.length) best = e;
  }
  return best === null ? null : { entry: best.name, reason: best.reason, expires: best.expires };
}

/** Whether every client of `f` is among `allowed` (one the evidence does not name counts against it). */
function clientsWithin(f: Allowable, allowed: readonly string[]): boolean {
  const ev = f.evidence;
  if (ev === undefined || ev.clients_other > 0) return false;
  return ev.clients.every((c) => allowed.includes(c.client));
}
