/**
 * The analysis's data: a parent domain's raw features, the evidence behind
 * them, and the benign look-alike patterns recognized in its traffic.
 *
 * @module
 */

/** A benign pattern matched by a domain's traffic. */
export interface Lookalike {
  /** The benign kind it looks like. */
  class: "reverse" | "dnsbl" | "av-hash" | "telemetry" | "cdn" | "dns-sd" | "poller" | "mail-auth" | "probe";
  /** Why, in one sentence (the numbers behind it). */
  reason: string;
}

/** A tunnel tool named by its wire signature. */
export interface ToolMatch {
  /** The tool (`iodine`, `dns2tcp`, `dnscat2`, `DNSExfiltrator`, `sods/OzymanDNS`). */
  name: string;
  /** What in the traffic named it, in one sentence. */
  evidence: string;
}

/** Raw (un-normalized) features of one parent domain. */
export interface DomainFeatures {
  /** Transactions (queries) under the domain. */
  query_count: number;
  /** Distinct clients that asked. */
  client_count: number;
  /** Distinct query names (exact up to 2048, then estimated). */
  subdomain_count: number;
  /** Mean Shannon entropy (bits/char) of the part of each name under the domain. */
  mean_entropy: number;
  /** Coefficient of variation of inter-query gaps, or null with fewer than 2 gaps. */
  cv: number | null;
  /** Mean bytes of TXT strings per TXT answer record (0 without TXT answers). */
  mean_txt_length: number;
  /** Mean downstream payload per answered transaction: TXT, NULL, PRIVATE, CNAME, MX, SRV, KEY, AAAA… bytes. */
  mean_answer_payload: number;
  /** Mean length (bytes) of the part of the name under the domain. */
  mean_label_length: number;
  /** Longest name-part under the domain. */
  max_label_length: number;
  /** Share of distinct names among queries (1 = every name new). */
  unique_ratio: number;
  /** Total bytes of distinct name parts (upstream capacity before encoding overhead). */
  upstream_bytes: number;
  /** Total answer payload bytes (downstream capacity). */
  downstream_bytes: number;
  /** Seconds between first and last query. */
  duration_secs: number;
  /** Share of queries whose type can carry data downstream: TXT, NULL, PRIVATE, KEY, CNAME, MX, SRV, SPF, private-use types. */
  payload_type_ratio: number;
  /** Distinct payload answers (TXT, NULL, CNAME, MX…) per transaction answered with one: 1 = every answer new. */
  answer_diversity: number;
  /** Transactions answered with a payload-bearing record. */
  payload_answers: number;
  /** Distinct payload answers (exact up to 2048, then estimated). */
  distinct_answers: number;
  /** Share of the queries asked by the busiest client (1 = one host). */
  top_client_share: number;
  /** New (distinct) names asked by the client that asked the most of them. */
  top_client_names: number;
  /** Distinct networks (/24 of IPv4, /48 of IPv6) among the addresses (A, AAAA) answered for new names. */
  address_networks: number;
  /** Transactions for new names answered with at least one address. */
  address_answers: number;
  /** Distinct address answers for new names (a response's addresses taken together). */
  address_sets: number;
  /** How much the address answers behave like data, 0..1: many networks for names never repeated. */
  address_channel: number;
  /** Transactions answered with a payload (TXT, NULL, CNAME, MX…) not seen before under the domain. */
  new_payload_answers: number;
  /** New payload answers that carry data: every new TXT, NULL, KEY… answer, and name answers (CNAME, MX, SRV) adding at least 64 bits beyond their question (a provider's CNAME for the hostname asked does not). Absent in runs stored before it was counted. */
  data_answers?: number;
  /** Share of queries answered with data: a new payload answer that carries data (see `data_answers`), or addresses as far as they behave like data. */
  data_answer_ratio: number;
  /** Information-content bound: compressed bytes of the distinct name parts (upstream). */
  upstream_capacity: number;
  /** Information-content bound: compressed bytes of the distinct answer payloads (downstream). */
  downstream_capacity: number;
  /** Capacity attributable to the busiest client: its share of the distinct name bytes up, its share of queries down. */
  top_client_capacity: number;
  /** Mean information per distinct name: mean name-part length × mean entropy, in bits. */
  name_bits: number;
  /** Share of name-part characters outside [a-z0-9-.] (base64 "+/=", binary bytes, upper case…). */
  odd_char_ratio: number;
}

/** Evidence behind a domain's features. */
export interface DomainEvidence {
  /** Up to a few of the domain's distinct query names, as seen. */
  sample_names: string[];
  /** The longest query name seen. */
  longest_name: string;
  /** Queries by record type name. */
  query_types: Record<string, number>;
  /** Answer records by record type name. */
  answer_types: Record<string, number>;
  /** Responses by response code name. */
  rcodes: Record<string, number>;
  /** The busiest clients and their queries, busiest first. */
  clients: { client: string; queries: number }[];
  /** Clients beyond those listed. */
  clients_other: number;
  /** Time of the first query (seconds since the epoch). */
  first_seen: number;
  /** Time of the last query (seconds since the epoch). */
  last_seen: number;
  /** The sub-zone asked most, and its queries (null with none). */
  busiest_subzone: { subzone: string; queries: number } | null;
  /** Sub-zones by queries, busiest first. */
  subzones: { subzone: string; queries: number }[];
  /** Queries per bucket of `bucket_secs` seconds from `start` (a minute, doubled for long spans). */
  activity: { start: number; bucket_secs: number; counts: number[] };
  /** The gaps between successive queries, in seconds: count, mean, spread, percentiles and a sample. */
  gaps: {
    count: number;
    mean: number | null;
    std: number | null;
    min: number | null;
    p50: number | null;
    p90: number | null;
    max: number | null;
    sample: number[];
  };
  /** Transactions by DNS service (dns, mdns, llmnr). */
  services: Record<string, number>;
  /** Benign patterns recognized in the traffic, with the reason. */
  lookalikes: Lookalike[];
  /** A few TXT answers as seen. */
  txt_samples: string[];
  /**
   * Seen at a resolver: queries that were the resolver's own upstream copies of a client's question (the same
   * question from a resolver shortly after, or its retries), attributed to that client and not counted again. Absent in runs stored
   * before it was counted.
   */
  upstream_copies?: number;
  /** The tunnel tool whose wire signature the traffic carries, or null (absent in runs stored before tools were named). */
  tool?: ToolMatch | null;
  /**
   * Sibling zones: other parent domains the same single client asked new names of the same shape under,
   * interleaved in time (one channel spread over several zones). `scored_together`: the score and its
   * components are those of all the zones' traffic together (higher than `score_alone`).
   */
  siblings?: { domains: string[]; scored_together: boolean; score_alone: number };
  /**
   * The first query name whose data begins with a file's header (gzip, zip, PE, ELF, …: decoded as hex, base32 or
   * base64): one query is evidence of data leaving, whatever the score. Absent when none did.
   */
  file_header?: { name: string; type: string };
  /** What `plumbum carve` found the traffic carried (absent until a carving is stored for the run). */
  payload?: PayloadSummary;
}

/** One client's decoded stream, as a carving stores it. */
export interface PayloadStream {
  /** The client whose traffic it is. */
  client: string;
  /** Up in the query names, or down in the answers. */
  direction: "upstream" | "downstream";
  /** The tool's session id (hex), when its framing tells sessions apart. */
  session?: string;
  /** The encoding found (`hex`, `base32`, `iodine base128`, …). */
  encoding: string;
  /** The tool framing recognized, or `none`. */
  framing: string;
  /** Bytes decoded. */
  bytes: number;
  /** Share of the names or answers that decoded (0..1). */
  decoded_share: number;
  /** SHA-256 of the decoded bytes (hex). */
  sha256: string;
  /** What the bytes look like (file type with its stored name, text, entropy). */
  looks_like: string;
}

/** What a domain's traffic carried, from its carving: every client's streams, the busiest client first. */
export interface PayloadSummary {
  /** When it was carved (ISO time). */
  carved_at: string;
  /** Each client's upstream and downstream, the busiest client first. */
  streams: PayloadStream[];
}

/** What a finding the allow-list suppressed carries: the entry that allowed it (see allow.ts). */
export interface Suppression {
  /** The entry's name (the domain or suffix allowed). */
  entry: string;
  /** Why the site allows it. */
  reason: string;
  /** The first day it no longer applies (YYYY-MM-DD), or null. */
  expires: string | null;
}
