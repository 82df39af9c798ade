/**
 * Benign traffic that looks like tunnels, recognized and explained — never
 * silently dropped. A recognized pattern does not change a score; it tells
 * the analyst why a feature is high (e.g. name uniqueness for DNSBL lookups).
 *
 * @module
 */

import type { DomainEvidence, DomainFeatures, Lookalike } from "./types.ts";

export type { Lookalike } from "./types.ts";

const REVERSED_IPV4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}\./;
const HEX_DIGEST = /(^|\.)([0-9a-f]{32}|[0-9a-f]{40}|[0-9a-f]{64})(\.|$)/;
const UUID = /(^|\.)[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(\.|$)/;
const MAIL_AUTH_TXT = /^(v=spf1|v=dkim1|v=dmarc1|[a-z0-9-]+-(site-)?verification=)/i;

/** Whether a name is a DKIM key's or a DMARC policy's (underscore names that are not service discovery). */
function isMailAuthName(n: string): boolean {
  return n.includes("_domainkey.") || n.startsWith("_dmarc.");
}

/** Share of `names` that match a pattern or pass a test (0 without names). */
export function share(names: string[], test: RegExp | ((name: string) => boolean)): number {
  if (names.length === 0) return 0;
  const pass = test instanceof RegExp ? (n: string) => test.test(n) : test;
  return names.filter(pass).length / names.length;
}

/** The benign patterns that `domain`'s traffic matches. */
export function recognizeLookalikes(
  domain: string,
  f: DomainFeatures,
  e: DomainEvidence,
  names: string[],
): Lookalike[] {
  const out: Lookalike[] = [];
  const qtypes = Object.keys(e.query_types);
  if (domain === "in-addr.arpa" || domain === "ip6.arpa") {
    out.push({
      class: "reverse",
      reason: "reverse lookups: the names are addresses, so every one is new without carrying data",
    });
  }
  if (share(names, REVERSED_IPV4) >= 0.3 && domain !== "in-addr.arpa") {
    out.push({
      class: "dnsbl",
      reason:
        "DNSBL/reputation lookups: names are reversed IPv4 addresses under a list zone, unique but low in information",
    });
  }
  if (share(names, HEX_DIGEST) >= 0.5) {
    out.push({
      class: "av-hash",
      reason:
        `hash lookups (antivirus/reputation): labels are hex digests, asked by ${f.client_count} client(s) and answered with ${
          Object.keys(e.answer_types).join("/") || "nothing"
        }`,
    });
  }
  if (share(names, UUID) >= 0.5) {
    out.push({
      class: "telemetry",
      reason:
        `per-event names (UUID labels), asked by ${f.client_count} client(s): unique by design; from one host at a steady pace they would look like a beacon`,
    });
  }
  if (
    f.client_count >= 5 && qtypes.every((t) => t === "A" || t === "AAAA" || t === "HTTPS") && f.top_client_share < 0.5
  ) {
    out.push({
      class: "cdn",
      reason: `CDN-style hostnames: ${f.client_count} clients share them and the answers are addresses`,
    });
  }
  if (
    names.some((n) => (n.startsWith("_") && !isMailAuthName(n)) || n.includes("._tcp.") || n.includes("._udp.")) ||
    domain.endsWith("local") ||
    e.services.mdns !== undefined
  ) {
    out.push({ class: "dns-sd", reason: "service discovery (DNS-SD/mDNS): _service._proto names, repeated by design" });
  }
  if (f.subdomain_count <= 2 && f.query_count >= 5 && f.cv !== null && f.cv < 0.5) {
    out.push({
      class: "poller",
      reason:
        `clockwork poller: ${f.query_count} queries for ${f.subdomain_count} name(s) at steady intervals carry no new data`,
    });
  }
  if (
    e.txt_samples.some((t) => MAIL_AUTH_TXT.test(t)) ||
    names.some(isMailAuthName)
  ) {
    out.push({
      class: "mail-auth",
      reason: "mail authentication / site verification TXT (SPF, DKIM, DMARC): long TXT, but the same few records",
    });
  }
  if (f.query_count <= 2 && !domain.includes(".")) {
    out.push({ class: "probe", reason: "random single-label probe (browsers test for NXDOMAIN hijacking this way)" });
  }
  return out;
}
