/**
 * One accumulator per parent domain, fed transaction by transaction. The
 * batch path (`apply`) and the live path (`stream`) use this same code; a
 * live window is just an accumulator with a time bound. Memory grows with
 * distinct names and clients (bounded by sketches), never with packets.
 *
 * @module
 */

import type { Transaction } from "../ingest/types.ts";
import type { DeflatePool } from "./deflate_pool.ts";
import { asciiLower, bytesToByteString, typeName } from "../ingest/dns/mod.ts";
import { parentDomain } from "./domain.ts";
import {
  ActivitySeries,
  BoundedCounts,
  CompressedSize,
  DistinctCounter,
  percentile,
  Reservoir,
  RunningStats,
  shannonEntropy,
} from "./sketch.ts";
import { recognizeLookalikes } from "./lookalike.ts";
import { recognizeTool } from "./tools.ts";
import { addressChannelStrength, dataAnswerRatio } from "./model.ts";
import type { DomainEvidence, DomainFeatures } from "./types.ts";
import { headerInName } from "./file_header.ts";

export type { DomainEvidence, DomainFeatures } from "./types.ts";

/**
 * Record types that carry data downstream in tunnels (TXT, NULL, PRIVATE,
 * KEY, CNAME, MX, SRV, SPF) and the private-use range. A, AAAA and PTR are
 * left out: their answers are addresses and reverse names, the stuff of
 * ordinary lookups (a tunnel hiding in AAAA still shows in its names).
 */
function isPayloadType(t: number): boolean {
  return t === 16 || t === 10 || t === 65399 || t === 25 || t === 5 || t === 15 || t === 33 || t === 99 ||
    (t >= 65280 && t <= 65534);
}

/** Text of a payload answer, for telling distinct answers apart. */
function payloadText(data: Transaction["answers"][number]["data"]): string {
  switch (data.kind) {
    case "txt":
      return data.strings.join("\u0000");
    case "name":
    case "mx":
      return data.name;
    case "srv":
      return data.target;
    case "raw":
      return bytesToByteString(data.bytes, 0, data.bytes.length);
    case "text":
      return data.text;
    case "key":
      return `key:${data.algorithm}:${data.keyLength}`;
    default:
      return "";
  }
}

/** What a payload answer brings: its part of the response's payload, and its payload bytes. */
interface PayloadFacts {
  piece: string;
  bytes: number;
}

/** Facts of shared answer data (see {@link payloadFacts}), by identity; starts over when full. */
const factsKept = new Map<Transaction["answers"][number]["data"], PayloadFacts>();
const FACTS_KEPT = 1 << 14;
/** The facts of unshared data, overwritten by the next call. */
const scratchFacts: PayloadFacts = { piece: "", bytes: 0 };

/**
 * A payload answer's facts: its text and a separator (its piece of the
 * payload), and its payload bytes ({@link answerPayload}). The decoder
 * hands out one frozen object per repeated answer, so its facts are worked
 * out once and its piece is then the same string, and a response's payload
 * of one piece (most are) is found among the distinct answers by identity,
 * not by hashing and comparing its characters again: analysis of the bench
 * capture's transactions took 430-460 ns each instead of 640-700.
 */
function payloadFacts(type: number, data: Transaction["answers"][number]["data"], rdlength: number): PayloadFacts {
  const kept = factsKept.get(data);
  if (kept !== undefined) return kept;
  const piece = payloadText(data) + "\u0001";
  const bytes = answerPayload(type, data, rdlength);
  // Shared data (frozen) is text, name or bytes, whose payload bytes are its own.
  if (!Object.isFrozen(data)) {
    scratchFacts.piece = piece;
    scratchFacts.bytes = bytes;
    return scratchFacts;
  }
  if (factsKept.size >= FACTS_KEPT) factsKept.clear();
  const facts = { piece, bytes };
  factsKept.set(data, facts);
  return facts;
}

/** Downstream payload bytes of one answer record. */
function answerPayload(type: number, data: Transaction["answers"][number]["data"], rdlength: number): number {
  switch (data.kind) {
    case "txt": {
      const strings = data.strings;
      let n = 0;
      for (let i = 0; i < strings.length; i++) n += strings[i].length;
      return n;
    }
    case "name":
      return data.name.length;
    case "mx":
      return data.name.length;
    case "srv":
      return data.target.length;
    case "key":
      return data.keyLength;
    case "raw":
      return data.bytes.length;
    case "text":
      return data.text.length;
    case "address":
      return type === 28 ? 16 : 4;
    default:
      return rdlength;
  }
}

/** The network an answered address belongs to: its /24 (IPv4) or /48 (IPv6), as text. */
function addressNetwork(address: string): string {
  if (!address.includes(":")) return address.slice(0, address.lastIndexOf("."));
  let colons = 0;
  for (let i = 0; i < address.length; i++) {
    if (address.charCodeAt(i) === 0x3a && ++colons === 3) return address.slice(0, i);
  }
  return address;
}

/** A name answer's data: CNAME/PTR/NS targets, MX exchanges, SRV targets. */
type NameAnswer = Extract<Transaction["answers"][number]["data"], { kind: "name" | "mx" | "srv" }>;

/**
 * Information a name answer (CNAME, MX, SRV) adds beyond the question, in
 * bits (length × entropy of what is new in it). An answer that repeats the
 * question under a provider's zone (`img.example.com` →
 * `img.example.com.cdn.provider.net`) adds only the provider's labels, and
 * a provider's zone itself is no data: what counts is the part under the
 * target's registered domain, less the question.
 *
 * @internal Exported for its tests.
 */
export function answerBits(data: NameAnswer, queryKey: string): number {
  let target = asciiLower(data.kind === "srv" ? data.target : data.name);
  if (target.endsWith(".")) target = target.slice(0, -1);
  const q = queryKey.endsWith(".") ? queryKey.slice(0, -1) : queryKey;
  if (target.startsWith(q + ".")) target = target.slice(q.length + 1);
  const parent = parentDomain(target);
  const text = target.length > parent.length ? target.slice(0, target.length - parent.length - 1) : "";
  return text.length * shannonEntropy(text);
}

/**
 * Bits a new name answer (CNAME, MX, SRV) must add beyond its question to
 * count as data: 16 hex or 13 base32 characters. A provider's CNAME for the
 * hostname asked adds less. (A new TXT, NULL or KEY answer is data whatever
 * its size: an idle channel's acknowledgements are short and never repeat.)
 */
const DATA_ANSWER_BITS = 64;

/**
 * Whether a response whose payload is new carries data: a payload record
 * that is not a name (TXT, NULL, KEY…), or name records adding together at
 * least {@link DATA_ANSWER_BITS} beyond the question ({@link answerBits}).
 */
function carriesData(answers: Transaction["answers"], queryKey: string): boolean {
  let bits = 0;
  for (let i = 0; i < answers.length; i++) {
    const a = answers[i];
    if (!isPayloadType(a.type)) continue;
    const data = a.data;
    if (data.kind !== "name" && data.kind !== "mx" && data.kind !== "srv") return true;
    bits += answerBits(data, queryKey);
    if (bits >= DATA_ANSWER_BITS) return true;
  }
  return false;
}

/** How evidence names an rcode count ("-": no response). */
function rcodeKey(rcode: number): string {
  return rcode < 0 ? "-" : String(rcode);
}

/**
 * Where a query name's upstream data sits: the labels under the parent
 * domain (`part`, "" for the domain itself) and the sub-zone they belong
 * to (the label just under the domain, with it; "" when none).
 */
export interface NameParts {
  part: string;
  subzone: string;
  /** The whole name's length (a transaction's query, whatever its case, has it too). */
  length: number;
  /**
   * Set once the accumulator has counted the name among its distinct names:
   * a caller that keeps these parts per name (the analyzer does) spares
   * later occurrences the lookup. Parts belong to one accumulator.
   */
  counted?: boolean;
}

/** Split a lower-cased query name under its parent `domain`. */
export function nameParts(name: string, domain: string): NameParts {
  const part = name.length > domain.length ? name.slice(0, name.length - domain.length - 1) : "";
  if (part === "") return { part, subzone: "", length: name.length, counted: false };
  const dot = part.lastIndexOf(".");
  const subzone = (dot < 0 ? part : part.slice(dot + 1)) + "." + domain;
  return { part, subzone, length: name.length, counted: false };
}

/** Accumulates one parent domain's traffic. */
export class DomainAccumulator {
  readonly domain: string;
  readonly isC2: boolean;
  queries = 0;
  answered = 0;
  /** A resolver's upstream copies of this domain's questions (seen, attributed to the asking client, not analyzed again). */
  #upstreamCopies = 0;
  /** The first name whose data labels begin with a file's header (gzip, zip, PE, …), with its type. */
  #fileHeader: { name: string; type: string } | null = null;
  readonly #names = new DistinctCounter();
  readonly #clients = new BoundedCounts(4096);
  readonly #entropy = new RunningStats();
  readonly #labelLen = new RunningStats();
  #oddChars = 0;
  #partChars = 0;
  readonly #gaps = new RunningStats();
  readonly #gapSample = new Reservoir(512);
  #lastTs: number | null = null;
  #first = Infinity;
  #last = -Infinity;
  #txtRecords = 0;
  #txtBytes = 0;
  #answerBytes = 0;
  #payloadTypeQueries = 0;
  readonly #answers = new DistinctCounter();
  #payloadAnswers = 0;
  readonly #upCompressed: CompressedSize;
  readonly #downCompressed: CompressedSize;
  readonly #clientChars = new BoundedCounts(4096);
  /** New names by client. */
  readonly #clientNames = new BoundedCounts(4096);
  /** Networks (/24 of IPv4, /48 of IPv6) of the addresses answered for new names. */
  readonly #addressNets = new DistinctCounter();
  /** Distinct address answers (a response's addresses together) for new names. */
  readonly #addressSets = new DistinctCounter();
  /** Transactions for new names answered with addresses. */
  #addressAnswers = 0;
  /** Transactions answered with a payload not seen before under the domain. */
  #newPayloadAnswers = 0;
  /** Of those, the ones that carry data ({@link carriesData}). */
  #dataAnswers = 0;
  readonly #txtSamples: string[] = [];
  /** Up to 64 distinct lower-cased names, for recognizing benign patterns. */
  readonly #samplesForPatterns: string[] = [];
  // Record types and rcodes are counted by number and named when reported.
  readonly #qtypes = new BoundedCounts<number>(64);
  readonly #atypes = new BoundedCounts<number>(64);
  /** By rcode; -1 for transactions without one. */
  readonly #rcodes = new BoundedCounts<number>(32);
  readonly #subzones = new BoundedCounts(256);
  readonly #services = new BoundedCounts(4);
  readonly #samples: string[] = [];
  #longest = "";
  readonly #activity = new ActivitySeries();

  /** An empty accumulator of `domain`; full blocks of its information bound are deflated on `deflate`'s thread when given. */
  constructor(domain: string, isC2 = false, deflate: DeflatePool | null = null) {
    this.domain = domain;
    this.isC2 = isC2;
    this.#upCompressed = new CompressedSize(deflate);
    this.#downCompressed = new CompressedSize(deflate);
  }

  /**
   * Add one transaction whose parent domain is this one. `parts` may be
   * given when the caller has them (the analyzer remembers them per name).
   */
  add(tx: Transaction, parts: NameParts = nameParts(tx.queryKey, this.domain)): void {
    this.queries++;
    const ts = tx.ts;
    if (ts < this.#first) this.#first = ts;
    if (ts > this.#last) this.#last = ts;
    if (this.#lastTs !== null && ts >= this.#lastTs) {
      const gap = ts - this.#lastTs;
      this.#gaps.add(gap);
      this.#gapSample.add(gap);
    }
    if (this.#lastTs === null || ts >= this.#lastTs) this.#lastTs = ts;
    this.#activity.add(ts);
    this.#clients.add(tx.client);
    this.#qtypes.add(tx.qtype);
    this.#services.add(tx.service);
    if (isPayloadType(tx.qtype)) this.#payloadTypeQueries++;
    const name = tx.queryKey;
    // The part of the name under the domain: where upstream data travels.
    const part = parts.part;
    if (part !== "") this.#subzones.add(parts.subzone);
    // A name counted before is not new while counting is exact (past it, every name counts as new).
    let isNew: boolean;
    if (parts.counted === true) isNew = !this.#names.exact;
    else {
      isNew = this.#names.add(name) || !this.#names.exact;
      parts.counted = true;
    }
    this.#labelLen.add(part.length);
    if (isNew && this.#fileHeader === null && part.length >= 8) {
      const type = headerInName(part, tx.query);
      if (type !== null) this.#fileHeader = { name: tx.query, type };
    }
    if (isNew) {
      // Entropy and capacity are measured on distinct names (a repeated name carries nothing new).
      this.#entropy.add(shannonEntropy(part));
      this.#upCompressed.add(part);
      this.#clientChars.add(tx.client, part.length);
      this.#clientNames.add(tx.client);
      for (let i = 0; i < part.length; i++) {
        const c = part.charCodeAt(i);
        if (!((c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x2e)) this.#oddChars++;
      }
      this.#partChars += part.length;
      if (this.#samples.length < 5) this.#samples.push(tx.query);
      if (this.#samplesForPatterns.length < 64) this.#samplesForPatterns.push(name);
    }
    // The length kept with the parts: the query's text is read only when it is the longest yet.
    if (parts.length > this.#longest.length) this.#longest = tx.query;
    if (tx.hasResponse) {
      this.answered++;
      this.#rcodes.add(tx.rcode === null ? -1 : tx.rcode);
      let bytes = 0;
      let payload = "";
      let addresses = "";
      const answers = tx.answers;
      for (let i = 0; i < answers.length; i++) {
        const a = answers[i];
        const type = a.type;
        const data = a.data;
        this.#atypes.add(type);
        let b: number;
        if (isPayloadType(type)) {
          const facts = payloadFacts(type, data, a.rdlength);
          b = facts.bytes;
          payload += facts.piece;
        } else {
          b = answerPayload(type, data, a.rdlength);
          // Addresses as data are judged on new names only: repeated names' answers (most of ordinary traffic) say
          // nothing about a channel, and skipping them keeps the common path as it was.
          if (isNew && data.kind === "address") {
            addresses += data.address + " ";
            this.#addressNets.add(addressNetwork(data.address));
          }
        }
        bytes += b;
        if (type === 16 && data.kind === "txt") {
          this.#txtRecords++;
          this.#txtBytes += b;
          if (this.#txtSamples.length < 3) this.#txtSamples.push(data.strings.join(""));
        }
      }
      this.#answerBytes += bytes;
      if (addresses !== "") {
        this.#addressAnswers++;
        this.#addressSets.add(addresses);
      }
      if (payload !== "") {
        this.#payloadAnswers++;
        if (this.#answers.add(payload) || !this.#answers.exact) {
          this.#newPayloadAnswers++;
          // Judged on new payloads only: most responses repeat one seen before.
          if (carriesData(answers, name)) this.#dataAnswers++;
          this.#downCompressed.add(payload);
        }
      }
    }
  }

  /** One of a resolver's upstream copies of a question already added (see vantage.ts). */
  addUpstreamCopy(): void {
    this.#upstreamCopies++;
  }

  /** Raw features as they stand. */
  features(): DomainFeatures {
    const gaps = this.#gaps;
    const distinct = this.#names.count;
    const distinctAnswers = this.#answers.count;
    // Each of these costs a sort or a deflate: take them once.
    const up = this.#upCompressed.bytes;
    const down = this.#downCompressed.bytes;
    const topClientQueries = this.#clients.top(1)[0]?.[1] ?? 0;
    const topClientShare = this.queries > 0 ? topClientQueries / this.queries : 0;
    const topClientChars = this.#clientChars.top(1)[0]?.[1] ?? 0;
    const topClientNames = this.#clientNames.top(1)[0]?.[1] ?? 0;
    const uniqueRatio = this.queries > 0 ? Math.min(1, distinct / this.queries) : 0;
    const addressChannel = addressChannelStrength(this.#addressNets.count, uniqueRatio);
    return {
      query_count: this.queries,
      client_count: this.#clients.size + (this.#clients.other > 0 ? 1 : 0),
      subdomain_count: distinct,
      mean_entropy: this.#entropy.n > 0 ? this.#entropy.mean : 0,
      cv: gaps.n >= 2 && gaps.mean > 0 ? gaps.std / gaps.mean : (gaps.n >= 2 ? 0 : null),
      mean_txt_length: this.#txtRecords > 0 ? this.#txtBytes / this.#txtRecords : 0,
      mean_answer_payload: this.answered > 0 ? this.#answerBytes / this.answered : 0,
      mean_label_length: this.#labelLen.n > 0 ? this.#labelLen.mean : 0,
      max_label_length: this.#labelLen.n > 0 ? this.#labelLen.max : 0,
      unique_ratio: uniqueRatio,
      upstream_bytes: this.#partChars,
      downstream_bytes: this.#answerBytes,
      duration_secs: this.queries > 0 ? this.#last - this.#first : 0,
      payload_type_ratio: this.queries > 0 ? this.#payloadTypeQueries / this.queries : 0,
      odd_char_ratio: this.#partChars > 0 ? this.#oddChars / this.#partChars : 0,
      answer_diversity: this.#payloadAnswers > 0 ? Math.min(1, distinctAnswers / this.#payloadAnswers) : 0,
      payload_answers: this.#payloadAnswers,
      distinct_answers: distinctAnswers,
      top_client_share: topClientShare,
      top_client_names: topClientNames,
      address_networks: this.#addressNets.count,
      address_answers: this.#addressAnswers,
      address_sets: this.#addressSets.count,
      address_channel: addressChannel,
      new_payload_answers: this.#newPayloadAnswers,
      data_answers: this.#dataAnswers,
      data_answer_ratio: dataAnswerRatio(this.#dataAnswers, addressChannel, this.#addressAnswers, this.queries),
      upstream_capacity: up,
      downstream_capacity: down,
      top_client_capacity: Math.round(
        (this.#partChars > 0 ? up * topClientChars / this.#partChars : 0) + down * topClientShare,
      ),
      name_bits: this.#labelLen.n > 0 && this.#entropy.n > 0
        ? (this.#partChars / Math.max(1, this.#entropy.n)) * this.#entropy.mean
        : 0,
    };
  }

  /** The evidence behind the features, with the benign patterns it matches (pass the features when already taken). */
  evidence(features: DomainFeatures = this.features()): DomainEvidence {
    const e = this.#evidence();
    e.lookalikes = recognizeLookalikes(this.domain, features, e, this.#samplesForPatterns);
    e.tool = recognizeTool(this.domain, features, e, this.#samplesForPatterns);
    return e;
  }

  #evidence(): DomainEvidence {
    const g = this.#gaps;
    const sample = this.#gapSample.values;
    const busiest = this.#subzones.top(1)[0];
    return {
      sample_names: [...this.#samples],
      longest_name: this.#longest,
      query_types: Object.fromEntries(this.#qtypes.top(64, typeName)),
      answer_types: Object.fromEntries(this.#atypes.top(64, typeName)),
      rcodes: Object.fromEntries(this.#rcodes.top(32, rcodeKey)),
      clients: this.#clients.top(10).map(([client, queries]) => ({ client, queries })),
      clients_other: Math.max(0, this.#clients.size - 10),
      first_seen: this.#first,
      last_seen: this.#last,
      busiest_subzone: busiest === undefined ? null : { subzone: busiest[0], queries: busiest[1] },
      subzones: this.#subzones.top(5).map(([subzone, queries]) => ({ subzone, queries })),
      activity: {
        start: this.#activity.start ?? 0,
        bucket_secs: this.#activity.width,
        counts: [...this.#activity.counts],
      },
      gaps: {
        count: g.n,
        mean: g.n > 0 ? g.mean : null,
        std: g.n > 0 ? g.std : null,
        min: g.n > 0 ? g.min : null,
        p50: percentile(sample, 50),
        p90: percentile(sample, 90),
        max: g.n > 0 ? g.max : null,
        sample: sample.slice(0, 64),
      },
      services: Object.fromEntries(this.#services.top(4)),
      lookalikes: [],
      txt_samples: [...this.#txtSamples],
      upstream_copies: this.#upstreamCopies,
      ...(this.#fileHeader === null ? {} : { file_header: this.#fileHeader }),
    };
  }
}
