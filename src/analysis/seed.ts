/**
 * A domain's first transactions, kept as one compact string until the
 * domain earns an accumulator of its own. Most domains a resolver sees are
 * asked once or twice: an accumulator costs kilobytes (its sketches), the
 * string a transaction's own bytes (about 60 for an answered A query). A
 * seed is replayed, transaction by transaction and in order, into a new
 * accumulator when it grows past {@link SEED_MAX_CHARS} and whenever the
 * domain is scored: the accumulator sees exactly what it would have seen,
 * so the findings are the same.
 *
 * Every field the accumulator reads is kept; the rest (ports, ids, flags)
 * are not. Characters stay one-byte (0–255) where the input's are: numbers
 * are written as bytes, names and strings as they are (byte strings).
 *
 * @module
 */

import type { DnsService, RData, ResourceRecord, Transaction } from "../ingest/types.ts";
import { asciiLower } from "../ingest/dns/mod.ts";

/**
 * Seeds longer than this (characters) are replayed into an accumulator of their own: about what the smallest
 * accumulator costs in bytes (4-5 KB with its sketches), so a seed never costs more than the accumulator it
 * stands in for; about 25 answered A queries.
 */
export const SEED_MAX_CHARS = 2048;

/** A record of one transaction. */
const TX = 0x54; // "T"
/** A record of one of a resolver's upstream copies (see vantage.ts). */
const COPY = 0x55; // "U"

const SERVICES: readonly DnsService[] = ["dns", "mdns", "llmnr"];
const KINDS = ["address", "name", "mx", "txt", "srv", "soa", "key", "raw", "text", "malformed"] as const;

const f64 = new Float64Array(1);
const f64Bytes = new Uint8Array(f64.buffer);

/**
 * Builds a record's characters in an array and makes one string of them at
 * the end. A string built with `+` stays a tree of its parts until it is
 * read as a whole (V8): 800 bytes for a record of 90 characters, against
 * 130 for the flat string.
 */
class SeedWriter {
  #codes = new Uint16Array(1024);
  n = 0;

  #room(k: number): void {
    if (this.n + k <= this.#codes.length) return;
    const grown = new Uint16Array(Math.max(this.#codes.length * 2, this.n + k));
    grown.set(this.#codes);
    this.#codes = grown;
  }

  byte(b: number): void {
    this.#room(1);
    this.#codes[this.n++] = b & 0xff;
  }

  u16(v: number): void {
    this.#room(2);
    this.#codes[this.n++] = (v >>> 8) & 0xff;
    this.#codes[this.n++] = v & 0xff;
  }

  u32(v: number): void {
    this.u16(v >>> 16);
    this.u16(v);
  }

  f64(v: number): void {
    f64[0] = v;
    for (let i = 0; i < 8; i++) this.byte(f64Bytes[i]);
  }

  /** Characters as they are. */
  chars(s: string, length = s.length): void {
    this.#room(length);
    for (let i = 0; i < length; i++) this.#codes[this.n++] = s.charCodeAt(i);
  }

  /** A string with its length (up to 65 535 characters: a record that long is never kept, see {@link SEED_MAX_CHARS}). */
  str(s: string): void {
    const n = Math.min(s.length, 0xffff);
    this.u16(n);
    this.chars(s, n);
  }

  /** The characters written, as one flat string; the writer starts over. */
  take(): string {
    let out = "";
    for (let at = 0; at < this.n; at += 8192) {
      out += String.fromCharCode.apply(
        null,
        this.#codes.subarray(at, Math.min(this.n, at + 8192)) as unknown as number[],
      );
    }
    this.n = 0;
    return out;
  }
}

const writer = new SeedWriter();

function writeData(w: SeedWriter, d: RData): void {
  switch (d.kind) {
    case "address":
      return w.str(d.address);
    case "name":
      return w.str(d.name);
    case "mx":
      w.u16(d.preference);
      return w.str(d.name);
    case "txt":
      w.u16(d.strings.length);
      for (const t of d.strings) w.str(t);
      return;
    case "srv":
      for (const v of [d.priority, d.weight, d.port]) w.u16(v);
      return w.str(d.target);
    case "soa":
      w.str(d.mname);
      w.str(d.rname);
      for (const v of [d.serial, d.refresh, d.retry, d.expire, d.minimum]) w.u32(v);
      return;
    case "key":
      w.u16(d.flags);
      w.byte(d.protocol);
      w.byte(d.algorithm);
      return w.u32(d.keyLength);
    case "raw": {
      const n = Math.min(d.bytes.length, 0xffff);
      w.u16(n);
      for (let i = 0; i < n; i++) w.byte(d.bytes[i]);
      return;
    }
    case "text":
      return w.str(d.text);
    case "malformed":
      return w.str(d.reason);
  }
}

/**
 * `seed` (a domain's records so far, or "") followed by the record of one
 * transaction (what the accumulator reads of it), or of an upstream copy
 * when `tx` is null; one flat string.
 */
export function seedWith(seed: string, tx: Transaction | null): string {
  const w = writer;
  w.chars(seed);
  if (tx === null) {
    w.byte(COPY);
    return w.take();
  }
  const sameKey = tx.queryKey === asciiLower(tx.query);
  w.byte(TX);
  w.f64(tx.ts);
  w.byte((tx.hasResponse ? 1 : 0) | (sameKey ? 2 : 0) | (Math.max(0, SERVICES.indexOf(tx.service)) << 2));
  w.u16(tx.qtype);
  w.u16(tx.rcode === null ? 0xffff : tx.rcode);
  w.str(tx.client);
  w.str(tx.query);
  if (!sameKey) w.str(tx.queryKey);
  const answers = tx.answers;
  const n = Math.min(answers.length, 0xffff);
  w.u16(n);
  for (let i = 0; i < n; i++) {
    const a = answers[i];
    w.u16(a.type);
    w.u16(a.rdlength);
    w.byte(KINDS.indexOf(a.data.kind));
    writeData(w, a.data);
  }
  return w.take();
}

/** A copy of `s` in a string of its own (a slice keeps the whole string it was cut from alive). */
export function ownString(s: string): string {
  writer.chars(s);
  return writer.take();
}

/** Reads a seed's records back. */
class SeedReader {
  #s: string;
  at = 0;

  constructor(seed: string) {
    this.#s = seed;
  }

  get done(): boolean {
    return this.at >= this.#s.length;
  }

  byte(): number {
    return this.#s.charCodeAt(this.at++);
  }

  u16(): number {
    const s = this.#s, i = this.at;
    this.at += 2;
    return (s.charCodeAt(i) << 8) | s.charCodeAt(i + 1);
  }

  u32(): number {
    return ((this.u16() << 16) >>> 0) + this.u16();
  }

  f64(): number {
    for (let i = 0; i < 8; i++) f64Bytes[i] = this.#s.charCodeAt(this.at++);
    return f64[0];
  }

  str(): string {
    const n = this.u16();
    this.at += n;
    return this.#s.slice(this.at - n, this.at);
  }

  data(kind: number): RData {
    switch (KINDS[kind]) {
      case "address":
        return { kind: "address", address: this.str() };
      case "name":
        return { kind: "name", name: this.str() };
      case "mx":
        return { kind: "mx", preference: this.u16(), name: this.str() };
      case "txt": {
        const strings: string[] = [];
        for (let n = this.u16(); n > 0; n--) strings.push(this.str());
        return { kind: "txt", strings };
      }
      case "srv":
        return { kind: "srv", priority: this.u16(), weight: this.u16(), port: this.u16(), target: this.str() };
      case "soa":
        return {
          kind: "soa",
          mname: this.str(),
          rname: this.str(),
          serial: this.u32(),
          refresh: this.u32(),
          retry: this.u32(),
          expire: this.u32(),
          minimum: this.u32(),
        };
      case "key":
        return { kind: "key", flags: this.u16(), protocol: this.byte(), algorithm: this.byte(), keyLength: this.u32() };
      case "raw": {
        const bytes = new Uint8Array(this.u16());
        for (let i = 0; i < bytes.length; i++) bytes[i] = this.byte();
        return { kind: "raw", bytes };
      }
      case "text":
        return { kind: "text", text: this.str() };
      default:
        return { kind: "malformed", reason: this.str() };
    }
  }

  /** The transaction of a record whose tag was read (fields the seed does not keep are zero). */
  transaction(): Transaction {
    const ts = this.f64();
    const flags = this.byte();
    const qtype = this.u16();
    const rcode = this.u16();
    const client = this.str();
    const query = this.str();
    const queryKey = (flags & 2) !== 0 ? asciiLower(query) : this.str();
    const answers: ResourceRecord[] = [];
    for (let n = this.u16(); n > 0; n--) {
      const type = this.u16();
      const rdlength = this.u16();
      answers.push({ name: "", type, class: 1, ttl: 0, rdlength, data: this.data(this.byte()) });
    }
    return {
      ts,
      rtt: null,
      transport: "udp",
      service: SERVICES[(flags >>> 2) & 3] ?? "dns",
      client,
      clientPort: 0,
      server: "",
      serverPort: 0,
      id: 0,
      opcode: 0,
      query,
      queryKey,
      qtype,
      qclass: 1,
      rcode: rcode === 0xffff ? null : rcode,
      aa: false,
      tc: false,
      rd: false,
      ra: false,
      z: 0,
      answers,
      hasQuery: true,
      hasResponse: (flags & 1) !== 0,
      querySize: 0,
      responseSize: 0,
    };
  }
}

/** What a seed is replayed into. */
export interface SeedSink {
  add(tx: Transaction): void;
  addUpstreamCopy(): void;
}

/** Replay a seed's records, in order, into `sink`. */
export function replaySeed(seed: string, sink: SeedSink): void {
  const r = new SeedReader(seed);
  while (!r.done) {
    if (r.byte() === TX) sink.add(r.transaction());
    else sink.addUpstreamCopy();
  }
}

/**
 * Where seeds go when many domains hold one: a table on disk, so that the
 * memory an analyzer holds does not grow with the number of domains asked a
 * few times each (a day at a resolver: millions). A domain's seeds come back
 * joined in the order they were put. The analyzer takes a domain's seed back
 * when the domain is asked again, so a domain's seed is in memory or in the
 * spill, and replayed it is the domain's transactions in order: the findings
 * are the same.
 */
export interface SeedSpill {
  /** Keep these domains' seeds (each domain at most once in a call). */
  put(seeds: Iterable<readonly [domain: string, seed: string]>): void;
  /** The seeds kept for `domain`, joined in the order put ("" when none). */
  get(domain: string): string;
  /** As {@link get}, and forget them. */
  take(domain: string): string;
  /** Every domain kept, each once with its seeds joined, in the order of their names. */
  entries(): Iterable<[domain: string, seed: string]>;
}
