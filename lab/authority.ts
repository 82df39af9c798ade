/**
 * The lab's authoritative server for the zones of Plumbum's own lab
 * programs (lab/traffic.ts): the tunnels' far ends (a polling shell's
 * command zone, a beacon's, an address-record stager's, sibling zones, a
 * burst's) and every benign look-alike's zone. The resolver (bind9) forwards
 * those zones here. Answers are decided by the zone's kind, below.
 *
 * Run only inside the lab's network namespace:
 *   deno run --allow-net --unstable-net lab/authority.ts LISTEN_IP
 *
 * @module
 */
import { dnsMessage, encodeName, txtRdata } from "../tests/helpers/build.ts";
import { ZONES } from "./zones.ts";

const A = 1, NS = 2, PTR = 12, MX = 15, TXT = 16, AAAA = 28, SRV = 33;

/** The question of a query: id, lower-cased name, type (null when it is not a plain query). */
function question(b: Uint8Array): { id: number; name: string; type: number } | null {
  if (b.length < 17 || (b[2] & 0x80) !== 0) return null;
  const labels: string[] = [];
  let o = 12;
  while (o < b.length && b[o] !== 0) {
    const n = b[o];
    if (n > 63 || o + 1 + n > b.length) return null;
    labels.push(String.fromCharCode(...b.subarray(o + 1, o + 1 + n)));
    o += 1 + n;
  }
  if (o + 5 > b.length) return null;
  return { id: (b[0] << 8) | b[1], name: labels.join(".").toLowerCase(), type: (b[o + 1] << 8) | b[o + 2] };
}

/** A small deterministic hash of a string (FNV-1a), for answers that depend only on the name. */
function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/** `n` bytes derived from a name: the "data" an address-record channel sends down. */
function dataBytes(name: string, n: number): number[] {
  const out: number[] = [];
  let h = hash(name);
  while (out.length < n) {
    h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d) >>> 0;
    out.push(h & 0xff, (h >>> 8) & 0xff, (h >>> 16) & 0xff, h >>> 24);
  }
  return out.slice(0, n);
}

type Answer = { type: number; rdata: number[] }[] | "nxdomain";

/** What a zone's kind answers. */
function answer(kind: string, name: string, type: number, zone: string): Answer {
  const label = name.slice(0, name.length - zone.length).replace(/\.$/, "");
  switch (kind) {
    case "poll": // a polling shell: "nothing to do", but now and then a command
      if (type !== TXT) return [];
      return [{ type: TXT, rdata: txtRdata(hash(label) % 40 === 0 ? `run:${hash(label) % 7}` : "nop") }];
    case "beacon": // a beacon's check-in: the same address every time
      return type === A ? [{ type: A, rdata: [10, 20, 30, 40] }] : [];
    case "stager": // data downstream in addresses: several distinct A or AAAA per name
      if (type === AAAA) return [0, 1, 2, 3].map((i) => ({ type: AAAA, rdata: dataBytes(`${name}/${i}`, 16) }));
      if (type === A) return [0, 1, 2, 3, 4, 5].map((i) => ({ type: A, rdata: dataBytes(`${name}/${i}`, 4) }));
      return [];
    case "sibling": // one implant's zones: each answer an address carrying a little data
      return type === A ? [{ type: A, rdata: dataBytes(name, 4) }, { type: A, rdata: dataBytes(name + "/1", 4) }] : [];
    case "burst": // a file's chunks, acknowledged with an address
      return type === A ? [{ type: A, rdata: [127, 0, 0, 1] }] : [];
    case "dnsbl": // listed one time in eight; listed addresses get a reason TXT
      if (hash(label) % 8 !== 0) return "nxdomain";
      return type === TXT
        ? [{ type: TXT, rdata: txtRdata("Listed: see https://bl.example/lookup") }]
        : [{ type: A, rdata: [127, 0, 0, 2] }];
    case "avhash": // known-bad digests resolve, the rest do not exist
      return hash(label) % 16 === 0 ? [{ type: A, rdata: [127, 0, 0, 4] }] : "nxdomain";
    case "cdn": // rotating edge addresses
      return type === A ? [0, 1].map((i) => ({ type: A, rdata: [198, 51, 100, (hash(label) + i) % 250 + 1] })) : [];
    case "telemetry": // per-event names, one collector address
      return type === A ? [{ type: A, rdata: [192, 0, 2, 80] }] : [];
    case "web": // ordinary hosts
      return type === A ? [{ type: A, rdata: [203, 0, 113, hash(name) % 250 + 1] }] : [];
    case "poller": // NTP / update pollers: one name, one answer
      return type === A ? [{ type: A, rdata: [192, 0, 2, 123] }] : [];
    case "dnssd": // service discovery: instances, their SRV and TXT
      if (type === PTR) return [{ type: PTR, rdata: encodeName(`printer-2f._ipp._tcp.${zone}`) }];
      if (type === SRV) return [{ type: SRV, rdata: [0, 0, 0, 0, 2, 119, ...encodeName(`printer-2f.${zone}`)] }];
      if (type === TXT) return [{ type: TXT, rdata: txtRdata("txtvers=1", "rp=queue", "ty=Office Printer") }];
      return [];
    case "mailauth": { // SPF, DKIM, DMARC and a site verification: long TXT, the same few records
      if (type === MX) return [{ type: MX, rdata: [0, 10, ...encodeName(`mx.${zone}`)] }];
      if (type !== TXT) return type === A ? [{ type: A, rdata: [203, 0, 113, 25] }] : [];
      if (name.includes("._domainkey.")) {
        const key = btoa(String.fromCharCode(...dataBytes(zone, 162)));
        return [{ type: TXT, rdata: txtRdata("v=DKIM1; k=rsa; p=" + key.slice(0, 200), key.slice(200)) }];
      }
      if (name.startsWith("_dmarc.")) {
        return [{ type: TXT, rdata: txtRdata(`v=DMARC1; p=reject; rua=mailto:d@${zone}`) }];
      }
      return [
        { type: TXT, rdata: txtRdata(`v=spf1 ip4:203.0.113.0/24 include:_spf.${zone} -all`) },
        { type: TXT, rdata: txtRdata(`lab-site-verification=${hash(zone).toString(16).padStart(8, "0")}a1b2c3d4e5f6`) },
      ];
    }
    case "reverse": { // PTR for the lab's addresses
      if (type !== PTR) return [];
      return [{ type: PTR, rdata: encodeName(`host-${label.split(".").slice(0, 2).join("-")}.corp.lab`) }];
    }
    default:
      return type === NS ? [{ type: NS, rdata: encodeName(`ns.${zone}`) }] : "nxdomain";
  }
}

/** The zone a name falls under (longest first), with its kind. */
function zoneOf(name: string): { zone: string; kind: string } | null {
  let best: { zone: string; kind: string } | null = null;
  for (const [zone, kind] of Object.entries(ZONES)) {
    if ((name === zone || name.endsWith("." + zone)) && (best === null || zone.length > best.zone.length)) {
      best = { zone, kind };
    }
  }
  return best;
}

if (import.meta.main) {
  const host = Deno.args[0];
  if (host === undefined) {
    console.error("usage: authority.ts LISTEN_IP");
    Deno.exit(1);
  }
  const sock = Deno.listenDatagram({ transport: "udp", hostname: host, port: 53 });
  console.error(`authority listening on ${host}:53`);
  for await (const [msg, from] of sock) {
    const q = question(msg);
    if (q === null) continue;
    const z = zoneOf(q.name);
    const a = z === null ? "nxdomain" : answer(z.kind, q.name, q.type, z.zone);
    const reply = dnsMessage({
      id: q.id,
      qr: true,
      rcode: a === "nxdomain" ? 3 : 0,
      questions: [{ name: q.name, type: q.type }],
      answers: a === "nxdomain" ? [] : a.map((r) => ({ name: q.name, type: r.type, ttl: 30, rdata: r.rdata })),
    });
    reply[2] |= 0x04; // authoritative
    await sock.send(reply, from);
  }
}
