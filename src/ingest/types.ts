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
  /** Record type asked for (1 A, 16 TXT, 28 AAAA, …). */
  type: number;
  /** Class (1 IN; mDNS uses the top bit to ask for a unicast answer). */
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
  /** Owner name, case preserved. */
  name: string;
  /** Record type. */
  type: number;
  /** Class (mDNS uses the top bit for cache flush). */
  class: number;
  /** Time to live, seconds. */
  ttl: number;
  /** RDLENGTH as on the wire (or the payload length for Zeek rows). */
  rdlength: number;
  /** The RDATA, decoded by type. */
  data: RData;
}

/** EDNS0 information from an OPT record. */
export interface Edns {
  /** The largest UDP payload the sender takes (the OPT record's class). */
  udpPayloadSize: number;
  /** The upper 8 bits of the response code. */
  extendedRcode: number;
  /** EDNS version. */
  version: number;
  /** The DO bit: the sender wants DNSSEC records. */
  dnssecOk: boolean;
  /** Bytes of EDNS options. */
  optionsLength: number;
}

/** A decoded DNS message. */
export interface DnsMessage {
  /** Message ID. */
  id: number;
  /** Whether it is a response. */
  qr: boolean;
  /** Operation code (0 QUERY). */
  opcode: number;
  /** Authoritative answer flag. */
  aa: boolean;
  /** Truncation flag. */
  tc: boolean;
  /** Recursion desired flag. */
  rd: boolean;
  /** Recursion available flag. */
  ra: boolean;
  /** The reserved Z bits (AD and CD included). */
  z: number;
  /** Full rcode: header rcode combined with the EDNS extended rcode. */
  rcode: number;
  /** Question section. */
  questions: Question[];
  /** Answer section. */
  answers: ResourceRecord[];
  /** Authority section. */
  authorities: ResourceRecord[];
  /** Additional section. */
  additionals: ResourceRecord[];
  /** EDNS0 data from an OPT record, or null. */
  edns: Edns | null;
  /** Section counts from the header (QDCOUNT, ANCOUNT, NSCOUNT, ARCOUNT). */
  counts: [number, number, number, number];
  /** Size of the message in bytes. */
  size: number;
  /** Why decoding stopped early, or null when the whole message decoded. */
  malformed: string | null;
}

/**
 * One captured frame, the record every frame source hands out (a capture
 * file's reader, the libpcap ring, a replayed capture): the bytes
 * `data[start..end)` of link type `linkType`, captured at `ts`. A source
 * reuses one record and its buffer for every frame: valid only during the
 * call that receives it.
 */
export interface Frame {
  /** Seconds since the epoch (capture time). */
  ts: number;
  /** The link type (LINKTYPE_*). */
  linkType: number;
  /** The buffer holding the frame at `[start, end)`. */
  data: Uint8Array;
  /** Where the captured bytes start in `data`. */
  start: number;
  /** Where they end: `end - start` is the captured length. */
  end: number;
  /** Length on the wire: more than `end - start` when the capture cut the frame short (snaplen). */
  origLen: number;
  /** Where the frame's record starts in its file (0 for a live source): locates a problem. */
  offset: number;
}

/** Which DNS flavour a message belongs to, by port. */
export type DnsService = "dns" | "mdns" | "llmnr";

/** One DNS question and whatever answered it. */
export interface Transaction {
  /** Time of the query in seconds since the epoch (of the response when no query was seen). */
  ts: number;
  /** Response time minus query time in seconds, or null. */
  rtt: number | null;
  /** Transport the message came over. */
  transport: "udp" | "tcp";
  /** DNS, mDNS (5353) or LLMNR (5355). */
  service: DnsService;
  /** The host that asked. */
  client: string;
  /** The client's port. */
  clientPort: number;
  /** The host that answered (or was asked). */
  server: string;
  /** The server's port. */
  serverPort: number;
  /** Message ID. */
  id: number;
  /** Operation code (0 QUERY). */
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
  /** Record type asked for. */
  qtype: number;
  /** Class asked for. */
  qclass: number;
  /** Response code, or null when no response was seen. */
  rcode: number | null;
  /** Authoritative answer flag of the response. */
  aa: boolean;
  /** Truncation flag of the response. */
  tc: boolean;
  /** Recursion desired flag of the query. */
  rd: boolean;
  /** Recursion available flag of the response. */
  ra: boolean;
  /** Reserved Z bits of the response. */
  z: number;
  /** Answer section of the response. */
  answers: ResourceRecord[];
  /** Whether the query was seen. */
  hasQuery: boolean;
  /** Whether a response was seen. */
  hasResponse: boolean;
  /** DNS message sizes in bytes (0 when not seen). */
  querySize: number;
  /** Response size in bytes (0 when not seen). */
  responseSize: number;
}

/** Where in the input the first malformed item was. */
export interface MalformedSite {
  /** Byte offset in the (decompressed) file, or line number for logs. */
  offset?: number;
  /** Line number (1-based) for logs. */
  line?: number;
  /** Packet number (1-based) for captures. */
  packet?: number;
  /** Why it is malformed. */
  reason: string;
}

/** Counters describing one input file. */
export interface FileStats {
  /** The input's path ("-" for standard input). */
  path: string;
  /** Its format: `pcap`, `pcapng`, `zeek-tsv` or `zeek-json`. */
  format: string;
  /** `gzip` when it was compressed. */
  compression: "gzip" | null;
  /** Link types seen (DLT numbers). */
  link_types: number[];
  /** Packets (or log lines) read. */
  packets: number;
  /** DNS messages decoded. */
  dns_messages: number;
  /** Transactions made (paired and unpaired). */
  transactions: number;
  /** DNS messages with QR = 0. */
  queries: number;
  /** DNS messages with QR = 1. */
  responses: number;
  /** Transactions whose question type is TXT. */
  txt: number;
  /** Packets or lines that were broken (counted, skipped). */
  malformed: number;
  /** Time of the first packet or line (seconds since the epoch), or null. */
  first_ts: number | null;
  /** Time of the last packet or line (seconds since the epoch), or null. */
  last_ts: number | null;
  /** Bytes read (after decompression). */
  bytes: number;
  /** Packets or lines that held no DNS (other protocols, other ports). */
  skipped: number;
  /** Where the first broken item was, or null. */
  first_malformed: MalformedSite | null;
  /** Malformed counts by reason. */
  malformed_reasons: Record<string, number>;
  /** SHA-256 of the file's bytes, when asked for. */
  sha256?: string;
  /** dnstap input: messages read by dnstap type (only CLIENT_* and AUTH_* are a client's own: see dnstap.ts). */
  dnstap?: Record<string, number>;
}
