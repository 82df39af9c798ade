/**
 * The lab's zones: which program answers each, and how Plumbum's labels
 * call it. `kind` is what lab/authority.ts answers for zones it serves;
 * `server` names the real tool's server for the others. One table, read
 * by the authority, the resolver's configuration and the labels.
 *
 * @module
 */

/** A zone the lab resolves. */
export interface LabZone {
  /** The zone as delegated (the tunnel tools' topdomain). */
  zone: string;
  /** Who answers: an authority kind, or a real tool's server. */
  kind: string;
  /** The label for its parent domain in the lab's labels file. */
  label: string;
}

/** Every zone, tunnels first. */
export const LAB_ZONES: LabZone[] = [
  // Real tools (their servers run in the server namespace).
  { zone: "t.pinecone.lab", kind: "iodine", label: "tunnel:iodine-null" },
  { zone: "t.hazelnut.lab", kind: "iodine", label: "tunnel:iodine-txt" },
  { zone: "t.walnut.lab", kind: "iodine", label: "tunnel:iodine-cname" },
  { zone: "t.chestnut.lab", kind: "iodine", label: "tunnel:iodine-a" },
  { zone: "t.almond.lab", kind: "iodine", label: "tunnel:iodine-mx" },
  { zone: "t.acorn.lab", kind: "iodine", label: "tunnel:iodine-idle" },
  { zone: "d.kestrel.lab", kind: "dns2tcp", label: "tunnel:dns2tcp-txt" },
  { zone: "d.falcon.lab", kind: "dns2tcp", label: "tunnel:dns2tcp-key" },
  { zone: "d.osprey.lab", kind: "dns2tcp", label: "tunnel:dns2tcp-txt-idle" },
  { zone: "d.merlin.lab", kind: "dns2tcp", label: "tunnel:dns2tcp-key-idle" },
  // Plumbum's own channel programs (lab/traffic.ts), answered by lab/authority.ts.
  { zone: "cmd.quill-post.lab", kind: "poll", label: "tunnel:polling-shell" },
  { zone: "tallow-sync.lab", kind: "beacon", label: "tunnel:beacon" },
  { zone: "orchid-cache.lab", kind: "stager", label: "tunnel:a-stager" },
  { zone: "fern-static.lab", kind: "stager", label: "tunnel:aaaa-stager" },
  { zone: "pebble-cdn.lab", kind: "sibling", label: "tunnel:siblings" },
  { zone: "orbit-img.lab", kind: "sibling", label: "tunnel:siblings" },
  { zone: "delta-assets.lab", kind: "sibling", label: "tunnel:siblings" },
  { zone: "ink-drop.lab", kind: "burst", label: "tunnel:burst" },
  // Benign look-alikes.
  { zone: "zen.spamlist-lab.lab", kind: "dnsbl", label: "benign:dnsbl" },
  { zone: "hash.avcloud-lab.lab", kind: "avhash", label: "benign:av-hash" },
  { zone: "cdn-lab.lab", kind: "cdn", label: "benign:cdn" },
  { zone: "events.telemetry-lab.lab", kind: "telemetry", label: "benign:telemetry" },
  { zone: "news-lab.lab", kind: "web", label: "benign:normal" },
  { zone: "shop-lab.lab", kind: "web", label: "benign:normal" },
  { zone: "wiki-lab.lab", kind: "web", label: "benign:normal" },
  { zone: "ntp-lab.lab", kind: "poller", label: "benign:poller" },
  { zone: "update-lab.lab", kind: "poller", label: "benign:poller" },
  { zone: "office-lab.lab", kind: "dnssd", label: "benign:dnssd" },
  { zone: "sender1-lab.lab", kind: "mailauth", label: "benign:mail-auth" },
  { zone: "sender2-lab.lab", kind: "mailauth", label: "benign:mail-auth" },
  { zone: "sender3-lab.lab", kind: "mailauth", label: "benign:mail-auth" },
  { zone: "in-addr.arpa", kind: "reverse", label: "benign:ptr" },
];

/** Zones lab/authority.ts answers, by zone: their kind. */
export const ZONES: Record<string, string> = Object.fromEntries(
  LAB_ZONES.filter((z) => z.kind !== "iodine" && z.kind !== "dns2tcp").map((z) => [z.zone, z.kind]),
);

/** The zone of a label (for scenario programs). */
export function zoneFor(label: string): string {
  const z = LAB_ZONES.find((x) => x.label === label);
  if (z === undefined) throw new Error(`no lab zone labelled ${label}`);
  return z.zone;
}
