/**
 * Sibling zones: one channel spread over several parent domains (an implant
 * rotating among two or three zones). Each zone alone may look small; the
 * evidence that they are one channel is that the same single client asks
 * new, encoded names of the same shape under each, interleaved in time. Such
 * zones are linked, and each is also scored on their traffic together: its
 * score is the higher of the two, and `explain` names the siblings.
 *
 * @module
 */

import { addressChannelStrength, dataAnswerRatio } from "./model.ts";
import type { DomainEvidence, DomainFeatures } from "./types.ts";

/** What linking needs of a domain: its name, features and evidence. */
export interface SiblingCandidate {
  domain: string;
  features: DomainFeatures;
  evidence: DomainEvidence;
}

/** Look-alike classes whose names are expected to be new and shaped alike: never linked. */
const NOT_LINKED = new Set(["reverse", "dnsbl", "av-hash", "telemetry", "dns-sd", "mail-auth"]);

/** At most this many zones form one group (the nearest in shape are kept). */
const MAX_GROUP = 8;

/** Whether a domain looks like one end of a channel: one client asking new, encoded names. */
export function mayLink(c: SiblingCandidate): boolean {
  const f = c.features;
  return f.top_client_share >= 0.8 && f.unique_ratio >= 0.8 && f.subdomain_count >= 5 && f.name_bits >= 40 &&
    c.evidence.clients.length > 0 && !c.evidence.lookalikes.some((l) => NOT_LINKED.has(l.class));
}

/** Whether two eligible domains look like one channel: same client, same name shape, interleaved in time. */
function alike(a: SiblingCandidate, b: SiblingCandidate): boolean {
  if (a.evidence.clients[0].client !== b.evidence.clients[0].client) return false;
  const fa = a.features, fb = b.features;
  const len = Math.max(fa.mean_label_length, fb.mean_label_length);
  if (Math.abs(fa.mean_label_length - fb.mean_label_length) > Math.max(2, 0.15 * len)) return false;
  if (Math.abs(fa.mean_entropy - fb.mean_entropy) > 0.3) return false;
  if (Math.abs(fa.odd_char_ratio - fb.odd_char_ratio) > 0.1) return false;
  // Interleaved: each one's span covers at least half of the shorter one's.
  const start = Math.max(a.evidence.first_seen, b.evidence.first_seen);
  const end = Math.min(a.evidence.last_seen, b.evidence.last_seen);
  const shorter = Math.min(fa.duration_secs, fb.duration_secs);
  return end - start >= 0.5 * shorter;
}

/**
 * Groups of sibling zones among `domains`: indexes into it, each group of
 * two or more, every member alike with the first (the busiest).
 */
export function siblingGroups(domains: SiblingCandidate[]): number[][] {
  const byClient = new Map<string, number[]>();
  domains.forEach((c, i) => {
    if (!mayLink(c)) return;
    const client = c.evidence.clients[0].client;
    const list = byClient.get(client);
    if (list === undefined) byClient.set(client, [i]);
    else list.push(i);
  });
  const groups: number[][] = [];
  for (const members of byClient.values()) {
    if (members.length < 2) continue;
    // Busiest first, ties by name: the groups do not depend on the order the domains came in.
    members.sort((x, y) =>
      domains[y].features.query_count - domains[x].features.query_count ||
      (domains[x].domain < domains[y].domain ? -1 : domains[x].domain > domains[y].domain ? 1 : 0)
    );
    const taken = new Set<number>();
    for (const lead of members) {
      if (taken.has(lead)) continue;
      const group = [lead];
      for (const other of members) {
        if (other === lead || taken.has(other) || group.length >= MAX_GROUP) continue;
        if (alike(domains[lead], domains[other])) group.push(other);
      }
      if (group.length < 2) continue;
      for (const g of group) taken.add(g);
      groups.push(group);
    }
  }
  return groups;
}

/**
 * The features of several zones taken as one channel: counts and bytes
 * summed, means weighted by what they are means of, the time span joined.
 * The joined gaps are not kept, so `cv` is the zones' own, averaged by
 * their queries (interleaved steady streams join into a steady one, random
 * ones into a random one).
 */
export function mergeFeatures(parts: DomainFeatures[], spans: { first: number; last: number }[]): DomainFeatures {
  const sum = (k: (f: DomainFeatures) => number) => parts.reduce((a, f) => a + k(f), 0);
  const queries = sum((f) => f.query_count);
  const distinct = sum((f) => f.subdomain_count);
  const answered = sum((f) => f.payload_answers);
  const byQueries = (k: (f: DomainFeatures) => number) => queries > 0 ? sum((f) => k(f) * f.query_count) / queries : 0;
  const byNames = (k: (f: DomainFeatures) => number) =>
    distinct > 0 ? sum((f) => k(f) * f.subdomain_count) / distinct : 0;
  const unique = queries > 0 ? Math.min(1, distinct / queries) : 0;
  const networks = sum((f) => f.address_networks);
  const channel = addressChannelStrength(networks, unique);
  const addressAnswers = sum((f) => f.address_answers);
  const newPayloadAnswers = sum((f) => f.new_payload_answers);
  const dataAnswers = sum((f) => f.data_answers ?? 0);
  const withCv = parts.filter((f) => f.cv !== null && f.query_count > 0);
  return {
    query_count: queries,
    client_count: Math.max(...parts.map((f) => f.client_count)),
    subdomain_count: distinct,
    mean_entropy: byNames((f) => f.mean_entropy),
    cv: withCv.length === 0 ? null : withCv.reduce((a, f) => a + f.cv! * f.query_count, 0) /
      withCv.reduce((a, f) => a + f.query_count, 0),
    mean_txt_length: byQueries((f) => f.mean_txt_length),
    mean_answer_payload: byQueries((f) => f.mean_answer_payload),
    mean_label_length: byQueries((f) => f.mean_label_length),
    max_label_length: Math.max(...parts.map((f) => f.max_label_length)),
    unique_ratio: unique,
    upstream_bytes: sum((f) => f.upstream_bytes),
    downstream_bytes: sum((f) => f.downstream_bytes),
    duration_secs: Math.max(...spans.map((s) => s.last)) - Math.min(...spans.map((s) => s.first)),
    payload_type_ratio: byQueries((f) => f.payload_type_ratio),
    answer_diversity: answered > 0 ? sum((f) => f.answer_diversity * f.payload_answers) / answered : 0,
    payload_answers: answered,
    distinct_answers: sum((f) => f.distinct_answers),
    top_client_share: byQueries((f) => f.top_client_share),
    top_client_names: sum((f) => f.top_client_names),
    address_networks: networks,
    address_answers: addressAnswers,
    address_sets: sum((f) => f.address_sets),
    address_channel: channel,
    new_payload_answers: newPayloadAnswers,
    data_answers: dataAnswers,
    data_answer_ratio: dataAnswerRatio(dataAnswers, channel, addressAnswers, queries),
    upstream_capacity: sum((f) => f.upstream_capacity),
    downstream_capacity: sum((f) => f.downstream_capacity),
    top_client_capacity: sum((f) => f.top_client_capacity),
    name_bits: byNames((f) => f.name_bits),
    odd_char_ratio: byNames((f) => f.odd_char_ratio),
  };
}
