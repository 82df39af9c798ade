/**
 * Naming the tunnel tool when its wire signature is unmistakable: a marker
 * the tool always sends (dns2tcp's `=auth`/`=connect` labels,
 * DNSExfiltrator's `init.` header, sods' `id-N.up`/`.down` labels,
 * dnscat2's `dnscat.` prefix), or a shape only it produces (iodine's Base128
 * labels — raw bytes 0xBC–0xFD — or NULL queries for new names; dnscat2's
 * all-hex names asked as TXT, CNAME and MX; dnstt's base32 names that all
 * begin with one session's 8-byte client ID). A tool is named only with the
 * evidence that named it; a recognized tool does not change the score.
 *
 * @module
 */

import { share } from "./lookalike.ts";
import { bareServerOf } from "./vantage.ts";
import type { DomainEvidence, DomainFeatures, ToolMatch } from "./types.ts";

export type { ToolMatch } from "./types.ts";

/** The name's labels under `domain` (the whole name when it is not under it). */
function under(name: string, domain: string): string {
  return name.endsWith("." + domain) ? name.slice(0, name.length - domain.length - 1) : name;
}

function hasBase128(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xbc && c <= 0xfd) return true;
  }
  return false;
}

const HEX_NAME = /^[0-9a-f.]{18,}$/;

/** Base32 text (RFC 4648, lower case, no padding) long enough to hold dnstt's 8-byte client ID and data. */
const BASE32_DATA = /^[a-z2-7]{24,}$/;
/** Base32 characters of the first 60 bits: the client ID (64 bits) all but its last 4. */
const CLIENT_ID_CHARS = 12;

/**
 * dnstt's framing: every query is base32 of the session's 8-byte client ID
 * followed by data, so the distinct names of a session, different
 * everywhere else, share their first 12 base32 characters. Null unless at
 * least 10 names are such base32 and 80 % of them share one such prefix.
 */
function dnsttSession(parts: string[]): { names: number; prefix: string } | null {
  const data = parts.map((p) => p.replaceAll(".", "")).filter((p) => BASE32_DATA.test(p));
  if (data.length < 10 || data.length < 0.8 * parts.length) return null;
  const distinct = new Set(data);
  const counts = new Map<string, number>();
  for (const d of distinct) {
    const k = d.slice(0, CLIENT_ID_CHARS);
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  let best = "", n = 0;
  for (const [k, c] of counts) if (c > n) [best, n] = [k, c];
  // One prefix over distinct names: a name asked again does not count twice.
  return n >= 10 && n >= 0.8 * distinct.size ? { names: n, prefix: best } : null;
}

/**
 * The tool behind a domain's traffic, or null. `names` are up to 64 of its
 * distinct lower-cased query names, as the look-alike recognizer gets them.
 */
export function recognizeTool(
  domain: string,
  f: DomainFeatures,
  e: DomainEvidence,
  names: string[],
): ToolMatch | null {
  const parts = names.map((n) => under(n, domain));
  const auth = parts.filter((p) => /(^|\.)=(auth|connect)(\.|$)/.test(p)).length;
  if (auth > 0) {
    return { name: "dns2tcp", evidence: `${auth} name(s) with dns2tcp's "=auth"/"=connect" session labels` };
  }
  const chunks = parts.filter((p) => /^\d+\.[a-z0-9_-]{30,}/.test(p)).length;
  if (parts.some((p) => /^init\.[a-z2-7]{16,}(\.|$)/.test(p)) && chunks >= 2) {
    return {
      name: "DNSExfiltrator",
      evidence: `an "init.<base32>" header name (file name and chunk count), then ${chunks} numbered base64url chunks`,
    };
  }
  const sods = share(parts, /(^|\.)id-\d+\.(up|down)(\.|$)/);
  if (sods >= 0.3) {
    return {
      name: "sods/OzymanDNS",
      evidence: `${Math.round(100 * sods)}% of names carry "id-N.up"/"id-N.down" labels`,
    };
  }
  const prefixed = share(parts, (p) => p.startsWith("dnscat."));
  if (prefixed >= 0.3 || bareServerOf(domain)?.prefix === "dnscat") {
    return { name: "dnscat2", evidence: `names start with dnscat2's "dnscat." tag` };
  }
  const base128 = share(parts, hasBase128);
  const nulls = e.query_types["NULL"] ?? 0;
  if (base128 >= 0.2 || (nulls >= 10 && nulls / f.query_count >= 0.3 && f.unique_ratio > 0.5)) {
    return {
      name: "iodine",
      evidence: base128 >= 0.2
        ? `${Math.round(100 * base128)}% of names hold Base128 bytes (0xBC-0xFD), iodine's upstream encoding`
        : `${nulls} NULL queries for new names (iodine's default downstream type)`,
    };
  }
  const dnstt = dnsttSession(parts);
  if (dnstt !== null) {
    return {
      name: "dnstt",
      evidence:
        `${dnstt.names} base32 names begin with one 8-byte client ID ("${dnstt.prefix}…"): dnstt's session framing`,
    };
  }
  const types = ["TXT", "CNAME", "MX"].filter((t) => (e.query_types[t] ?? 0) > 0);
  // The data labels: the part under the domain, less a sub-zone label under it (`<hex>.dnsc.example.com`).
  const data = (p: string) => p.includes(".") && !HEX_NAME.test(p) ? p.slice(0, p.lastIndexOf(".")) : p;
  const hex = share(parts, (p) => HEX_NAME.test(data(p)) && data(p).replaceAll(".", "").length % 2 === 0);
  if (hex >= 0.8 && types.length >= 1 && f.subdomain_count >= 10) {
    return {
      name: "dnscat2",
      evidence: `${Math.round(100 * hex)}% of names are hex (dnscat2's framing), asked as ${types.join(", ")}`,
    };
  }
  return null;
}
