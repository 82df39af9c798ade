/**
 * Shared data types of the ingest layer: decoded DNS messages and the
 * transactions built from them.
 *
 * Names and TXT strings are "byte strings": every character is one byte of
 * the wire (code 0–255), so nothing an attacker sends is lost or re-encoded.
 * Use {@link ../present/escape.ts} helpers before printing them.
 *
 * @module
 */

/** One question of a DNS message. */
export interface Question {
  /** Name as on the wire (case preserved), labels joined with ".". */
  name: string;
  /** ASCII-lower-cased name, for grouping. */
  key: string;
  type: number;
  class: number;
  /**
   * A number for this name while the decoder remembers it (see
   * {@link Transaction.queryRef}); 0 for the root name.
   */
  ref?: number;
}

/**
 * Decoded RDATA of a resource record, by kind. The packet decoder shares
 * one frozen object between records whose RDATA is the same (addresses,
 * names, TXT and raw data seen again): treat it as read-only.
 */
export type RData =
  | { kind: "address"; address: string }
  | { kind: "name"; name: string }
  | { kind: "mx"; preference: number; name: string }
  | { kind: "txt"; strings: string[] }
  | { kind: "srv"; priority: number; weight: number; port: number; target: string }
  | {
    kind: "soa";
    mname: string;
    rname: string;
    serial: number;
    refresh: number;
    retry: number;
    expire: number;
    minimum: number;
  }
  | { kind: "key"; flags: number; protocol: number; algorithm: number; keyLength: number }
  | { kind: "raw"; bytes: Uint8Array }
  | { kind: "text"; text: string }
  | { kind: "malformed"; reason: string };

/** One resource record. */
export interface ResourceRecord {
  name: string;
  type: number;
  class: number;
  ttl: number;
  /** RDLENGTH as on the wire (or the payload length for Zeek rows). */
  rdlength: number;
  data: RData;
}

/** EDNS0 information from an OPT record. */
export interface Edns {
  udpPayloadSize: number;
  extendedRcode: number;
  version: number;
  dnssecOk: boolean;
  optionsLength: number;
}

/** A decoded DNS message. */
export interface DnsMessage {
  id: number;
  qr: boolean;
  opcode: number;
  aa: boolean;
  tc: boolean;
  rd: boolean;
  ra: boolean;
  z: number;
  /** Full rcode: header rcode combined with the EDNS extended rcode. */
  rcode: number;
  questions: Question[];
  answers: ResourceRecord[];
  authorities: ResourceRecord[];
  additionals: ResourceRecord[];
  edns: Edns | null;
  /** Section counts from the header (QDCOUNT, ANCOUNT, NSCOUNT, ARCOUNT). */
  counts: [number, number, number, number];
  /** Size of the message in bytes. */
  size: number;
  /** Why decoding stopped early, or null when the whole message decoded. */
  malformed: string | null;
}

/** Which DNS flavour a message belongs to, by port. */
export type DnsService = "dns" | "mdns" | "llmnr";

/** One DNS question and whatever answered it. */
export interface Transaction {
  /** Time of the query in seconds since the epoch (of the response when no query was seen). */
  ts: number;
  /** Response time minus query time in seconds, or null. */
  rtt: number | null;
  transport: "udp" | "tcp";
  service: DnsService;
  /** The host that asked. */
  client: string;
  clientPort: number;
  /** The host that answered (or was asked). */
  server: string;
  serverPort: number;
  id: number;
  opcode: number;
  /** Question name, case preserved ("" when the message had no question). */
  query: string;
  /** ASCII-lower-cased question name. */
  queryKey: string;
  /**
   * A number for the query name, from a packet decoder that remembers names:
   * positive, never given to another name, and the same for the same name
   * while the decoder keeps it (after that it gets a new one), so a consumer
   * may key a small cache by it instead of hashing the name. 0 or absent
   * when there is none (Zeek rows, the root name).
   */
  queryRef?: number;
  qtype: number;
  qclass: number;
  /** Response code, or null when no response was seen. */
  rcode: number | null;
  aa: boolean;
  tc: boolean;
  rd: boolean;
  ra: boolean;
  z: number;
  /** Answer section of the response. */
  answers: ResourceRecord[];
  hasQuery: boolean;
  hasResponse: boolean;
  /** DNS message sizes in bytes (0 when not seen). */
  querySize: number;
  responseSize: number;
}

/** Where in the input the first malformed item was. */
export interface MalformedSite {
  /** Byte offset in the (decompressed) file, or line number for logs. */
  offset?: number;
  line?: number;
  /** Packet number (1-based) for captures. */
  packet?: number;
  reason: string;
}

/** Counters describing one input file. */
export interface FileStats {
  path: string;
  format: string;
  compression: "gzip" | null;
  link_types: number[];
  packets: number;
  dns_messages: number;
  transactions: number;
  queries: number;
  responses: number;
  txt: number;
  malformed: number;
  first_ts: number | null;
  last_ts: number | null;
  bytes: number;
  /** Packets or lines that held no DNS (other protocols, other ports). */
  skipped: number;
  first_malformed: MalformedSite | null;
  /** Malformed counts by reason. */
  malformed_reasons: Record<string, number>;
  /** SHA-256 of the file's bytes, when asked for. */
  sha256?: string;
}
