/**
 * From transactions to findings: route each transaction to its parent
 * domain's accumulator, then normalize, score and explain every domain.
 *
 * @example
 * ```ts
 * import { Analyzer } from "./analyze.ts";
 * import { presetModel } from "./model.ts";
 * const a = new Analyzer({ model: presetModel("regularized") });
 * // a.add(tx) for every transaction …
 * const findings = a.findings();
 * ```
 *
 * @module
 */

import type { DeflatePool } from "./deflate_pool.ts";
import type { Transaction } from "../ingest/types.ts";
import { ByNameRef, queryRefOf } from "../ingest/name_ref.ts";
import {
  DomainAccumulator,
  type DomainEvidence,
  type DomainFeatures,
  type NameParts,
  nameParts,
} from "./accumulator.ts";
import { isUnder, parentDomain } from "./domain.ts";
import { type Asked, bareServerGroup, bareServerOf, hasDelegatedTld, notAsked, ResolverVantage } from "./vantage.ts";
import { mayLink, mergeFeatures, siblingGroups } from "./siblings.ts";
import { ownString, replaySeed, SEED_MAX_CHARS, type SeedSpill, seedWith } from "./seed.ts";
import type { Suppression, ToolMatch } from "./types.ts";
import {
  type Component,
  type CorpusRanges,
  corpusRanges,
  type ModelConfig,
  roundScore,
  scoreDomain,
  type Severity,
  severityOf,
} from "./model.ts";

/** One scored parent domain, with everything needed to explain it. */
export interface DomainFinding {
  /** The parent domain (registered domain, or a named C2 suffix), lower case. */
  domain: string;
  /** The score, 0 to 100: 100 × Σ weight·norm / Σ weights. */
  score: number;
  /** The severity band the score falls in (the model's thresholds). */
  severity: Severity;
  /** Whether the domain is under a suffix named as C2 (`--c2-domains`). */
  is_c2: boolean;
  /** The raw features the score was computed from. */
  features: DomainFeatures;
  /** Each feature's part of the score: raw value, norm, weight, contribution, share. */
  components: Component[];
  /** What stands behind the score: names, types, clients, timing, look-alikes. */
  evidence: DomainEvidence;
  /** The tunnel tool named by its wire signature (see tools.ts), or null; also in the evidence. */
  tool: ToolMatch | null;
  /** The allow-list entry that suppressed it (see allow.ts), or null (absent: not checked). */
  suppressed?: Suppression | null;
}

/** What the analyzer is told of the site: named C2 suffixes and resolvers. */
export interface SiteOptions {
  /** Suffixes named by the user as C2: they win over public-suffix grouping. */
  c2Domains?: string[];
  /** Addresses of the site's recursive resolvers (their upstream copies are recognized without other evidence). */
  resolvers?: string[];
}

/** Options of the analyzer. */
export interface AnalyzerOptions extends SiteOptions {
  /** The scoring model: weights, normalization, thresholds. */
  model: ModelConfig;
  /** Where seeds go when {@link AnalyzerOptions.spillAt} domains hold one (absent: they stay in memory). */
  spill?: SeedSpill;
  /** Domains holding a seed in memory before they go to the spill (default {@link SPILL_AT}). */
  spillAt?: number;
  /** Where full blocks of the name-information bound are deflated (absent: on this thread); the scores are the same. */
  deflate?: DeflatePool;
}

/**
 * Domains holding a seed in memory at most, when there is a spill: ~200 bytes each (Map entry, name, seed), so
 * ~20 MB, and a million domains asked once take that, not 200 MB.
 */
const SPILL_AT = 100_000;

/** Bits of the filter of spilled domains (1 MB): a domain whose bit is clear was never spilled. */
const SPILLED_BITS = 1 << 23;

/** Where a query name goes: its domain, and its parts under it. */
interface Route {
  /** Null when the name has no delegated TLD: it goes to the group of the server it was sent to (see vantage.ts). */
  domain: string | null;
  /** The domain's accumulator once it has one (until then its transactions are a seed: see seed.ts). */
  acc: DomainAccumulator | null;
  parts: NameParts;
  /** Who asked the name last, and when: a resolver's upstream copies are recognized without a table of their own. */
  asked: Asked;
}

/** Names whose routes are remembered at once (the table starts over when full). */
const ROUTES = 65536;
/**
 * Routes also kept by the query name's number (see {@link Transaction.queryRef}), the last of each low 14 bits:
 * as many as the decoder keeps names (2^16 held 16 MB more routes alive where every name is new).
 */
const REF_BITS = 14;

/** Accumulates transactions per parent domain and scores them. */
export class Analyzer {
  /** Each domain's accumulator, or its seed (its transactions so far, see seed.ts) while it has few. */
  readonly #domains = new Map<string, DomainAccumulator | string>();
  // Repeated names (the decoder hands out one string per name) skip the
  // public-suffix lookup and the splitting.
  readonly #routes = new Map<string, Route>();
  // By the decoder's number for the name, when it gives one.
  readonly #byRef = new ByNameRef<Route>(REF_BITS);
  readonly #c2: string[];
  readonly #vantage: ResolverVantage;
  #model: ModelConfig;
  /** Domains that may link to sibling zones, as last scored (rescored with every partial scoring). */
  readonly #linkable = new Set<string>();
  /** Domains added to since {@link takeChanged}, when tracked. */
  #changed: Set<string> | null = null;
  /** Transactions without a question name (not attributable to a domain). */
  skipped = 0;
  /** Transactions added so far. */
  transactions = 0;
  readonly #spill: SeedSpill | null;
  readonly #spillAt: number;
  readonly #deflate: DeflatePool | null;
  /** Domains whose slot is a seed. */
  #seeds = 0;
  /** Domains seen, each once (in memory, in the spill or both). */
  #known = 0;
  /** Per hash of a domain name, whether it may have seeds in the spill (null until the first spill). */
  #spilled: Uint8Array | null = null;

  /** An analyzer with no domains yet. */
  constructor(options: AnalyzerOptions) {
    this.#model = options.model;
    // Longest suffix first, so a nested C2 zone wins over its parent.
    this.#c2 = [...(options.c2Domains ?? [])].sort((a, b) => b.length - a.length);
    this.#vantage = new ResolverVantage(options.resolvers);
    this.#spill = options.spill ?? null;
    this.#spillAt = options.spillAt ?? SPILL_AT;
    this.#deflate = options.deflate ?? null;
  }

  /** Number of parent domains seen. */
  get domainCount(): number {
    return this.#known;
  }

  /**
   * From now on, remember which domains get transactions, for scoring only
   * those ({@link takeChanged}, {@link scored}): a live run rescores the
   * whole stream at every window, and most domains did not change.
   */
  trackChanges(): void {
    this.#changed ??= new Set();
  }

  /** The domains added to since the last call (or since tracking began); tracking goes on. */
  takeChanged(): Set<string> {
    const changed = this.#changed ?? new Set<string>();
    if (this.#changed !== null) this.#changed = new Set();
    return changed;
  }

  /** Add one transaction; returns its parent domain (null when it has no question name). */
  add(tx: Transaction): string | null {
    if (tx.queryKey === "") {
      this.skipped++;
      return null;
    }
    this.transactions++;
    const ref = queryRefOf(tx);
    let r = this.#byRef.get(ref);
    if (r === undefined) {
      r = this.#route(tx.queryKey);
      this.#byRef.set(ref, r);
    }
    // A name with no delegated TLD belongs to the server it was sent to.
    let domain = r.domain, acc = r.acc, parts = r.parts;
    if (domain === null) ({ domain, parts } = this.#bareRoute(tx));
    const copy = this.#vantage.copyOf(tx, r.asked) !== null;
    this.#changed?.add(domain);
    if (acc === null) {
      const slot = this.#domains.get(domain);
      if (typeof slot === "object") acc = slot;
      else {
        // A domain back from the spill takes its seed back: memory holds a domain's whole seed or none of it.
        const before = slot ?? this.#fromSpill(domain, true);
        if (before === "") this.#known++;
        const seed = seedWith(before, copy ? null : tx);
        if (seed.length <= SEED_MAX_CHARS) {
          if (slot === undefined) {
            this.#domains.set(ownString(domain), seed);
            if (++this.#seeds >= this.#spillAt && this.#spill !== null) this.#spillSeeds(this.#spill);
          } else this.#domains.set(domain, seed);
          return domain;
        }
        // The domain earned an accumulator: what it saw so far, then this transaction.
        if (slot !== undefined) this.#seeds--;
        acc = this.#grow(domain, before);
      }
      if (r.domain !== null) r.acc = acc;
    }
    if (copy) acc.addUpstreamCopy();
    else acc.add(tx, parts);
    return domain;
  }

  /** The seed `domain` has in the spill ("" when none), taken out of it with `take`. */
  #fromSpill(domain: string, take: boolean): string {
    const bits = this.#spilled;
    if (bits === null) return "";
    const h = nameHash(domain) & (SPILLED_BITS - 1);
    if ((bits[h >>> 3] & (1 << (h & 7))) === 0) return "";
    return take ? this.#spill!.take(domain) : this.#spill!.get(domain);
  }

  /** Every seed in memory to the spill: memory keeps the domains with accumulators, and the seeds to come. */
  #spillSeeds(spill: SeedSpill): void {
    const bits = this.#spilled ??= new Uint8Array(SPILLED_BITS >>> 3);
    const seeds: [string, string][] = [];
    for (const [domain, slot] of this.#domains) {
      if (typeof slot !== "string") continue;
      seeds.push([domain, slot]);
      this.#domains.delete(domain);
      const h = nameHash(domain) & (SPILLED_BITS - 1);
      bits[h >>> 3] |= 1 << (h & 7);
    }
    spill.put(seeds);
    this.#seeds = 0;
  }

  /** A new accumulator for `domain` with its seed replayed into it (in its place from now on). */
  #grow(domain: string, seed: string): DomainAccumulator {
    const acc = this.#replayed(domain, seed);
    this.#domains.set(domain, acc);
    return acc;
  }

  /** A new accumulator for `domain` that has seen the transactions of `seed`. */
  #replayed(domain: string, seed: string): DomainAccumulator {
    const acc = new DomainAccumulator(domain, this.#c2.some((s) => isUnder(domain, s)), this.#deflate);
    const bare = bareServerOf(domain);
    replaySeed(seed, {
      add: (tx) => acc.add(tx, bare === null ? nameParts(tx.queryKey, domain) : bareParts(tx, bare.prefix)),
      addUpstreamCopy: () => acc.addUpstreamCopy(),
    });
    return acc;
  }

  /** The route of a name without a delegated TLD: its server's group, the name (less a word prefix) its data. */
  #bareRoute(tx: Transaction): { domain: string; parts: NameParts } {
    const group = bareServerGroup(tx.queryKey, tx.server);
    return { domain: group, parts: bareParts(tx, bareServerOf(group)!.prefix) };
  }

  /** The route of a lower-cased query name. */
  #route(key: string): Route {
    let r = this.#routes.get(key);
    if (r === undefined) {
      const name = key.endsWith(".") ? key.slice(0, -1) : key;
      const parent = parentDomain(name, this.#c2);
      const bare = !hasDelegatedTld(name) && !this.#c2.some((s) => isUnder(name, s));
      r = { domain: bare ? null : parent, acc: null, parts: nameParts(key, parent), asked: notAsked() };
      if (this.#routes.size >= ROUTES) this.#routes.clear();
      this.#routes.set(key, r);
    }
    return r;
  }

  /** A domain's summary, from its accumulator or its seed replayed into a new one (the seed stays as it is). */
  #summary(domain: string, slot: DomainAccumulator | string): DomainSummary {
    const acc = typeof slot === "string" ? this.#replayed(domain, slot) : slot;
    const features = acc.features();
    return { domain, is_c2: acc.isC2, features, evidence: acc.evidence(features) };
  }

  *#eachSummary(only?: Iterable<string>): Generator<DomainSummary> {
    if (only === undefined) {
      // A domain is in memory or in the spill, never both.
      if (this.#spilled !== null) {
        for (const [domain, seed] of this.#spill!.entries()) yield this.#summary(domain, seed);
      }
      for (const [domain, slot] of this.#domains) yield this.#summary(domain, slot);
      return;
    }
    for (const domain of only) {
      const slot = this.#domains.get(domain) ?? this.#fromSpill(domain, false);
      if (slot !== "") yield this.#summary(domain, slot);
    }
  }

  /** Every domain's features and evidence, before scoring. */
  summaries(): DomainSummary[] {
    return [...this.#eachSummary()];
  }

  /**
   * Every domain's finding, one at a time and in no particular order: what
   * is held at once is one domain's, and those that may link to sibling
   * zones (scored last, together). A model normalized on the corpus takes a
   * first pass for its ranges. The same findings as {@link findings}.
   *
   * With `only` (see {@link takeChanged}), the findings of those domains and
   * of every domain that may link to sibling zones: on absolute scales no
   * other domain's finding changed since they were last scored. (A model
   * normalized on the corpus scores every domain.)
   */
  *scored(model: ModelConfig = this.#model, only?: ReadonlySet<string>): Generator<DomainFinding> {
    const ranges = model.normalization === "corpus"
      ? corpusRanges(featuresOf(this.#eachSummary()), Object.keys(model.weights))
      : null;
    let domains: Iterable<string> | undefined;
    if (only !== undefined && ranges === null) {
      const linkable = [...this.#linkable].filter((d) => !only.has(d));
      domains = linkable.length === 0 ? only : [...only, ...linkable];
    }
    const held: DomainSummary[] = [];
    for (const s of this.#eachSummary(domains)) {
      if (mayLink(s)) {
        held.push(s);
        this.#linkable.add(s.domain);
      } else {
        this.#linkable.delete(s.domain);
        yield scoreSummary(s, model, ranges);
      }
    }
    const links = siblingLinks(held);
    for (let i = 0; i < held.length; i++) yield scoreSummary(held[i], model, ranges, links.get(i));
  }

  /** Score every domain; highest score first (ties by name, for determinism). */
  findings(model: ModelConfig = this.#model): DomainFinding[] {
    return byScore([...this.scored(model)]);
  }
}

/** FNV-1a of a name's characters (for the filter of spilled domains). */
function nameHash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

function* featuresOf(summaries: Iterable<DomainSummary>): Generator<DomainFeatures> {
  for (const s of summaries) yield s.features;
}

/** The parts of a name sent to a server with no domain: the name less the group's word prefix. */
function bareParts(tx: Transaction, prefix: string): NameParts {
  const name = tx.queryKey.endsWith(".") ? tx.queryKey.slice(0, -1) : tx.queryKey;
  const part = prefix === "" ? name : name.slice(prefix.length + 1);
  return { part, subzone: "", length: tx.queryKey.length };
}

/** A domain's features before scoring. */
export interface DomainSummary {
  /** The parent domain. */
  domain: string;
  /** Whether it is under a named C2 suffix. */
  is_c2: boolean;
  /** Its raw features. */
  features: DomainFeatures;
  /** Its evidence. */
  evidence: DomainEvidence;
}

/** A domain's sibling zones (see {@link siblingLinks}): who they are, and the features of all of them together. */
export interface SiblingLink {
  /** The other zones of the channel. */
  siblings: string[];
  /** The features of every zone of the group taken together. */
  together: DomainFeatures;
}

/** Sibling links among `summaries`, by index (see siblings.ts). */
export function siblingLinks(summaries: DomainSummary[]): Map<number, SiblingLink> {
  const links = new Map<number, SiblingLink>();
  for (const group of siblingGroups(summaries)) {
    const members = group.map((i) => summaries[i]);
    const together = mergeFeatures(
      members.map((m) => m.features),
      members.map((m) => ({ first: m.evidence.first_seen, last: m.evidence.last_seen })),
    );
    for (const i of group) {
      links.set(i, { siblings: group.filter((j) => j !== i).map((j) => summaries[j].domain), together });
    }
  }
  return links;
}

/**
 * Score a set of summarized domains under a model (corpus normalization sees
 * them all). A domain linked to sibling zones is scored alone and, on
 * absolute scales, with them (the higher wins); its evidence names them
 * either way.
 */
export function scoreAll(
  summaries: DomainSummary[],
  model: ModelConfig,
  links: Map<number, SiblingLink> = siblingLinks(summaries),
): DomainFinding[] {
  const ranges = model.normalization === "corpus"
    ? corpusRanges(summaries.map((s) => s.features), Object.keys(model.weights))
    : null;
  return byScore(summaries.map((s, i) => scoreSummary(s, model, ranges, links.get(i))));
}

/**
 * Score one summarized domain (`ranges`: the corpus's, for a model
 * normalized on it). A domain linked to sibling zones is scored alone and,
 * on absolute scales, with them (the higher wins); its evidence names them
 * either way.
 */
function scoreSummary(
  s: DomainSummary,
  model: ModelConfig,
  ranges: CorpusRanges | null,
  link?: SiblingLink,
): DomainFinding {
  let { score, components } = scoreDomain(s.features, model, ranges);
  let evidence = s.evidence;
  if (link !== undefined) {
    // On absolute scales only: corpus-relative ranges are single domains' (the baselines stay as documented).
    const group = ranges === null ? scoreDomain(link.together, model, null) : { score: -1, components };
    const together = group.score > score;
    evidence = {
      ...evidence,
      siblings: { domains: link.siblings, scored_together: together, score_alone: roundScore(score) },
    };
    if (together) ({ score, components } = group);
  }
  return {
    domain: s.domain,
    score,
    severity: severityOf(roundScore(score), model.thresholds),
    is_c2: s.is_c2,
    features: s.features,
    components,
    evidence,
    tool: s.evidence.tool ?? null,
  };
}

/** Findings highest score first, ties by name (for determinism); sorts in place. */
export function byScore(findings: DomainFinding[]): DomainFinding[] {
  return findings.sort((a, b) => b.score - a.score || (a.domain < b.domain ? -1 : a.domain > b.domain ? 1 : 0));
}
