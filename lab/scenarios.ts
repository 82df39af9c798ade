/**
 * Scenarios of the classes that real traffic brought and the recorded lab
 * does not hold: busy benign hosts at real rates (a mail gateway's DNSBL
 * checks, a log server's PTR lookups, an endpoint agent's file-reputation
 * lookups), application bursts of CDN hostnames, and quiet or odd tunnels
 * (a tunnel sent straight to a server with no domain, a slow address-record
 * implant over three zones, a 4-query burst, a tunnel seen at its resolver
 * with both legs). Each is a list of transactions made by a seeded
 * generator, so a run is repeatable and `--seed` gives other names, moments
 * and addresses with the same shape.
 *
 * Used by `deno task judge` (per-source figures) and the detection tests.
 *
 * @module
 */
import type { ResourceRecord, Transaction } from "../src/ingest/types.ts";
import { prng } from "../src/eval/tune.ts";
import { tx } from "../tests/helpers/transaction.ts";

/** One generated capture: its transactions and its labels (suffix → label; `*` the rest). */
export interface Scenario {
  /** A name for the capture. */
  file: string;
  /** Transactions in query order. */
  transactions: Transaction[];
  /** `file suffix label` rows as in a labels file. */
  labels: { suffix: string; label: string }[];
}

const T0 = 1_800_000_000;
const BASE32 = "abcdefghijklmnopqrstuvwxyz234567";
const HEX = "0123456789abcdef";

type Random = () => number;

function pick<T>(r: Random, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)];
}

function chars(r: Random, alphabet: string, n: number): string {
  let s = "";
  for (let i = 0; i < n; i++) s += alphabet[Math.floor(r() * alphabet.length)];
  return s;
}

/** Split a string into DNS labels of at most `max` characters. */
function labels(s: string, max = 63): string {
  const out: string[] = [];
  for (let i = 0; i < s.length; i += max) out.push(s.slice(i, i + max));
  return out.join(".");
}

function ipv4(r: Random): string {
  return `${1 + Math.floor(r() * 222)}.${Math.floor(r() * 256)}.${Math.floor(r() * 256)}.${1 + Math.floor(r() * 254)}`;
}

/** Exponential gap with mean `mean` seconds (arrivals at random). */
function poisson(r: Random, mean: number): number {
  return -Math.log(1 - r()) * mean;
}

function a(name: string, address: string, ttl = 300): ResourceRecord {
  return { name, type: 1, class: 1, ttl, rdlength: 4, data: { kind: "address", address } };
}

function cname(name: string, target: string): ResourceRecord {
  return { name, type: 5, class: 1, ttl: 300, rdlength: target.length + 2, data: { kind: "name", name: target } };
}

function txt(name: string, text: string): ResourceRecord {
  return { name, type: 16, class: 1, ttl: 0, rdlength: text.length + 1, data: { kind: "txt", strings: [text] } };
}

function ptr(name: string, target: string): ResourceRecord {
  return { name, type: 12, class: 1, ttl: 3600, rdlength: target.length + 2, data: { kind: "name", name: target } };
}

const RESOLVER = "10.90.0.53";

/** Reputation lookups of connecting addresses: `d.c.b.a.zone`, mostly NXDOMAIN, listed ones 127.0.0.x. */
function dnsbl(r: Random, rate: number, secs: number): Transaction[] {
  const zones = ["zen.spamhaus.org", "bl.spamcop.net", "b.barracudacentral.org"];
  const pool: string[] = [];
  const out: Transaction[] = [];
  for (let t = T0; t < T0 + secs; t += poisson(r, 1 / rate)) {
    // Senders come back: a third of connections are from addresses seen before.
    const ip = pool.length > 0 && r() < 0.33 ? pick(r, pool) : ipv4(r);
    if (pool.length < 5000) pool.push(ip);
    const reversed = ip.split(".").reverse().join(".");
    for (const zone of zones) {
      const query = `${reversed}.${zone}`;
      const listed = r() < 0.05;
      out.push(tx({
        query,
        ts: t + r() * 0.002,
        qtype: 1,
        client: "10.90.0.25",
        server: RESOLVER,
        rcode: listed ? 0 : 3,
        answers: listed ? [a(query, `127.0.0.${2 + Math.floor(r() * 9)}`, 60)] : [],
      }));
    }
  }
  return out;
}

/** A log server naming the addresses in its logs. */
function ptrLookups(r: Random, rate: number, secs: number): Transaction[] {
  const out: Transaction[] = [];
  const pool: string[] = [];
  for (let t = T0; t < T0 + secs; t += poisson(r, 1 / rate)) {
    const ip = pool.length > 0 && r() < 0.5 ? pick(r, pool) : ipv4(r);
    if (pool.length < 5000) pool.push(ip);
    const query = `${ip.split(".").reverse().join(".")}.in-addr.arpa`;
    const found = r() < 0.6;
    out.push(tx({
      query,
      ts: t,
      qtype: 12,
      client: "10.90.0.30",
      server: RESOLVER,
      rcode: found ? 0 : 3,
      answers: found
        ? [ptr(query, `host-${ip.replaceAll(".", "-")}.${pick(r, ["isp.example.net", "cloud.example.com"])}`)]
        : [],
    }));
  }
  return out;
}

/** An endpoint agent's file-reputation lookups: a digest label under the vendor's zone, answered in 127/8. */
function fileReputation(r: Random, rate: number, secs: number): Transaction[] {
  const out: Transaction[] = [];
  const pool: string[] = [];
  for (let t = T0; t < T0 + secs; t += poisson(r, 1 / rate)) {
    const digest = pool.length > 0 && r() < 0.2 ? pick(r, pool) : chars(r, HEX, pick(r, [32, 40]));
    if (pool.length < 5000) pool.push(digest);
    const query = `${digest}.avqs.mcafee.com`;
    out.push(tx({
      query,
      ts: t,
      qtype: 1,
      client: "10.90.0.40",
      server: RESOLVER,
      answers: [a(query, `127.0.${Math.floor(r() * 4)}.${Math.floor(r() * 64)}`, 600)],
    }));
  }
  return out;
}

/** One app launch or site visit: a dozen hostnames under one domain, CNAMEs to CDN names and addresses from many networks. */
function appBurst(r: Random, domain: string, t0: number, client: string): Transaction[] {
  const hosts = [
    "www",
    "api",
    "img",
    "static",
    "s",
    "q",
    "m",
    "log",
    "cdn",
    "source",
    "simg4",
    "common",
    "tr-osdcp",
    "ads",
  ];
  const n = 8 + Math.floor(r() * 6);
  const out: Transaction[] = [];
  let t = t0;
  for (let i = 0; i < n; i++) {
    const query = `${hosts[i]}.${domain}`;
    const cdn = `${hosts[i]}.${domain}.${pick(r, ["cdn.dnsv1.com", "edgekey.net", "akamaized.net", "cloudfront.net"])}`;
    const answers = [cname(query, cdn)];
    for (let k = 0; k < 1 + Math.floor(r() * 8); k++) answers.push(a(cdn, ipv4(r), 60));
    out.push(tx({ query, ts: t, qtype: 1, client, server: RESOLVER, answers }));
    if (r() < 0.2) out.push(tx({ query, ts: t + 0.01, qtype: 1, client, server: RESOLVER, answers }));
    t += poisson(r, 0.35);
  }
  return out;
}

/**
 * dnscat2's framing: hex names, sequence numbers first, CNAME/MX/TXT answers of hex. In direct mode (`zone` null)
 * the names are `dnscat.<hex>` sent to the server's address (no registered domain); else `<hex>.<zone>` through the
 * resolver.
 */
function dnscat(r: Random, secs: number, zone: string | null): Transaction[] {
  const out: Transaction[] = [];
  let seq = Math.floor(r() * 65536);
  for (let t = T0; t < T0 + secs; t += 0.2 + r() * 0.6) {
    const payload = chars(r, HEX, 16 + 2 * Math.floor(r() * 60));
    seq = (seq + payload.length / 2) & 0xffff;
    const data = labels(seq.toString(16).padStart(4, "0") + payload, 60);
    const query = zone === null ? `dnscat.${data}` : `${data}.${zone}`;
    const qtype = pick(r, [16, 5, 15]);
    const back = chars(r, HEX, 16 + 2 * Math.floor(r() * 30));
    const target = zone === null ? `${back}.dnscat` : `${back}.${zone}`;
    const answers: ResourceRecord[] = qtype === 16 ? [txt(query, back)] : qtype === 5 ? [cname(query, target)] : [{
      name: query,
      type: 15,
      class: 1,
      ttl: 0,
      rdlength: target.length + 4,
      data: { kind: "mx", preference: 10, name: target },
    }];
    const server = zone === null ? "203.0.113.7" : RESOLVER;
    out.push(tx({ query, ts: t, qtype, client: "10.90.0.66", server, answers }));
  }
  return out;
}

/** A slow implant asking address records over three zones: base32 data in the names, data in the addresses. */
function slowAddressImplant(r: Random, zones: string[], perZone: number, secs: number): Transaction[] {
  const out: Transaction[] = [];
  const n = perZone * zones.length;
  for (let i = 0; i < n; i++) {
    const t = T0 + (i + r() * 0.9) * secs / n;
    const query = `${chars(r, BASE32, 24 + Math.floor(r() * 24))}.${zones[i % zones.length]}`;
    out.push(tx({ query, ts: t, qtype: 1, client: "10.90.0.77", server: RESOLVER, answers: [a(query, ipv4(r), 1)] }));
  }
  return out;
}

/** A few long base32 names asked for TXT: a small file leaving in four queries. */
function tinyBurst(r: Random, zone: string, count: number): Transaction[] {
  const out: Transaction[] = [];
  for (let i = 0; i < count; i++) {
    const query = `${labels(chars(r, BASE32, 180 + Math.floor(r() * 40)), 63)}.${zone}`;
    out.push(
      tx({ query, ts: T0 + i * (0.3 + r()), client: "10.90.0.88", server: RESOLVER, answers: [txt(query, "ok")] }),
    );
  }
  return out;
}

/**
 * The same traffic seen on the resolver's interface: every query the
 * resolver does not answer from its cache leaves again, a few milliseconds
 * later, from its upstream address (a repeated name only when its cached
 * answer has expired: `refetch` of the time) with recursion not desired (RD = 0), to
 * the zone's server.
 */
export function atResolver(r: Random, client: Transaction[], refetch = 0.1): Transaction[] {
  const out: Transaction[] = [];
  const seen = new Set<string>();
  for (const t of client) {
    out.push(t);
    // A name asked again is answered from the cache, unless its answer has expired.
    if (seen.has(t.queryKey) && r() >= refetch) continue;
    seen.add(t.queryKey);
    out.push({
      ...t,
      ts: t.ts + 0.001 + r() * 0.02,
      client: "10.90.1.1",
      clientPort: 30000 + Math.floor(r() * 30000),
      server: "198.51.100.53",
      rd: false,
      aa: true,
      id: Math.floor(r() * 65536),
    });
  }
  return out.sort((x, y) => x.ts - y.ts);
}

/** Every scenario, from one seed. */
export function scenarios(seed = 1): Scenario[] {
  const r = prng(seed);
  const apps: Transaction[] = [];
  const appDomains = ["qunar.com", "qunarzz.com", "newrank.cn", "quanmama.com", "pop-fashion.com", "shopee.example"];
  appDomains.forEach((d, i) => apps.push(...appBurst(r, d, T0 + i * 40, `10.90.0.${100 + i}`)));
  apps.sort((x, y) => x.ts - y.ts);
  // With benign neighbours asking the resolver too, each query once upstream.
  const atResolverTraffic = [...dnscat(r, 93, "cat.biillpi-lab.com"), ...apps].sort((x, y) => x.ts - y.ts);
  return [
    { file: "busy-dnsbl", transactions: dnsbl(r, 15, 600), labels: [{ suffix: "*", label: "benign:dnsbl" }] },
    { file: "busy-ptr", transactions: ptrLookups(r, 25, 600), labels: [{ suffix: "*", label: "benign:ptr" }] },
    {
      file: "busy-av",
      transactions: fileReputation(r, 8, 600),
      labels: [{ suffix: "*", label: "benign:av-hash" }],
    },
    { file: "app-bursts", transactions: apps, labels: [{ suffix: "*", label: "benign:app" }] },
    {
      file: "dnscat-direct",
      transactions: dnscat(r, 60, null),
      labels: [{ suffix: "dnscat@203.0.113.7", label: "tunnel:dnscat2-direct" }, { suffix: "*", label: "benign" }],
    },
    {
      file: "dnscat-at-resolver",
      transactions: atResolver(r, atResolverTraffic, 0.3),
      labels: [{ suffix: "biillpi-lab.com", label: "tunnel:dnscat2" }, { suffix: "*", label: "benign:app" }],
    },
    {
      file: "slow-a-implant",
      transactions: slowAddressImplant(r, ["kiwi-cdn.net", "plum-img.com", "fig-static.org"], 37, 2.6 * 3600),
      labels: [
        { suffix: "kiwi-cdn.net", label: "tunnel:a-implant" },
        { suffix: "plum-img.com", label: "tunnel:a-implant" },
        { suffix: "fig-static.org", label: "tunnel:a-implant" },
      ],
    },
    {
      file: "tiny-burst",
      transactions: tinyBurst(r, "drop.lynx-files.com", 4),
      labels: [{ suffix: "lynx-files.com", label: "tunnel:burst-4" }],
    },
  ];
}
