/**
 * DNS messages off the wire (RFC 1035, 3596, 2782, 6891), decoded by a
 * {@link DnsDecoder} that owns its name, address and answer tables: two
 * decoders in one process (a live capture beside a file, two files at once)
 * never evict each other's entries.
 *
 * Never throws on hostile input: every length is checked against the message
 * end, compression pointers are followed at most 64 times, names are capped at 255 wire bytes and 128 labels. Decoding stops at
 * the first broken part and reports why in `malformed`, keeping what came
 * before it.
 *
 * @module
 */

import type { DnsMessage, Edns, Question, ResourceRecord } from "../types.ts";
import { AddressTable, word } from "./addresses.ts";
import { MAX_RECORDS_PER_SECTION } from "./codes.ts";
import { EMPTY_SLOT, type Name, NameTable } from "./names.ts";
import { RDataDecoder } from "./rdata.ts";
import { copyBytes } from "./strings.ts";

/** Whether every EDNS option (code, length, data) fits inside the OPT RDATA. */
function ednsOptionsFit(msg: Uint8Array, off: number, end: number): boolean {
  let p = off;
  while (p < end) {
    if (p + 4 > end) return false;
    p += 4 + ((msg[p + 2] << 8) | msg[p + 3]);
  }
  return p === end;
}

const NO_QUESTIONS: Question[] = Object.freeze([]) as unknown as Question[];
const NO_RECORDS: ResourceRecord[] = Object.freeze([]) as unknown as ResourceRecord[];

function emptyMessage(): DnsMessage {
  return {
    id: 0,
    qr: false,
    opcode: 0,
    aa: false,
    tc: false,
    rd: false,
    ra: false,
    z: 0,
    rcode: 0,
    questions: NO_QUESTIONS,
    answers: NO_RECORDS,
    authorities: NO_RECORDS,
    additionals: NO_RECORDS,
    edns: null,
    counts: [0, 0, 0, 0],
    size: 0,
    malformed: null,
  };
}

function emptyEdns(): Edns {
  return { udpPayloadSize: 0, extendedRcode: 0, version: 0, dnssecOk: false, optionsLength: 0 };
}

/**
 * One message object decoded into again and again, for a caller that
 * copies out what it keeps before the next decode: the header, questions,
 * counts and EDNS objects are overwritten each time (record lists are new
 * each time, so a caller may keep those).
 */
export class ReusableMessage {
  /** The message, overwritten by each decode. */
  readonly message: DnsMessage = emptyMessage();
  readonly #questions: Question[] = [];
  /** The EDNS object the message points to when it has one. */
  readonly edns: Edns = emptyEdns();
  /** The question list of a message with one question (nearly all): always the same list. */
  readonly oneQuestion: Question[] = [this.question(0)];

  /** The i-th question object. */
  question(i: number): Question {
    let q = this.#questions[i];
    if (q === undefined) this.#questions[i] = q = { name: "", key: "", type: 0, class: 0, ref: 0 };
    return q;
  }
}

/**
 * Decodes DNS messages. Each decoder owns its tables (names, addresses and
 * answers decoded lately, bounded): keep one per input stream, or one per
 * run to let a run's files share what they repeat.
 *
 * @example
 * ```ts
 * import { DnsDecoder } from "./message.ts";
 * const dns = new DnsDecoder();
 * const wire = new Uint8Array([0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 97, 0, 0, 1, 0, 1]);
 * const m = dns.decode(wire);
 * console.log(m?.questions[0].name); // "a"
 * ```
 */
export class DnsDecoder {
  /** Names decoded lately. */
  readonly names: NameTable = new NameTable();
  /** Addresses decoded lately. */
  readonly addresses: AddressTable = new AddressTable();
  /** RDATA, with the answers decoded lately. */
  readonly rdata: RDataDecoder = new RDataDecoder(this.names, this.addresses);
  /** Why {@link decode} refused a message outright. */
  error = "";
  /** Records of a section gather here and leave as an exact-size copy. */
  readonly #records: ResourceRecord[] = [];

  /**
   * Read a possibly compressed domain name at `off` in the message
   * `msg[base..end)`; null when broken ({@link nameError} says why). On
   * success {@link nameEnd} is the offset just past it.
   */
  readName(msg: Uint8Array, off: number, base = 0, end: number = msg.length, build = true): Name | null {
    return this.names.read(msg, off, base, end, build);
  }

  /** Offset just past the name the last successful {@link readName} read. */
  get nameEnd(): number {
    return this.names.end;
  }

  /** Why the last {@link readName} failed. */
  get nameError(): string {
    return this.names.error;
  }

  /**
   * Decode the DNS message in `buf[start..end)`. Returns null when not even
   * the header and first question can be read (not DNS, or broken beyond
   * use); {@link error} says why. A message that breaks later is returned
   * with `malformed` set.
   *
   * With `allSections` false, authority and additional records are checked
   * (names followed, lengths bounded, EDNS read) but not kept: what pairing
   * into transactions needs, at a fraction of the cost. Section counts and
   * malformed reports are the same either way. With `reuse`, the message is
   * decoded into its objects instead of new ones.
   */
  decode(
    buf: Uint8Array,
    start = 0,
    end = buf.length,
    allSections = true,
    reuse?: ReusableMessage,
  ): DnsMessage | null {
    const msg = buf;
    const names = this.names;
    const text = names.text;
    const size = end - start;
    if (size < 12) {
      this.error = "DNS message shorter than its 12-byte header";
      return null;
    }
    const flags = (msg[start + 2] << 8) | msg[start + 3];
    const qd = (msg[start + 4] << 8) | msg[start + 5];
    const an = (msg[start + 6] << 8) | msg[start + 7];
    const ns = (msg[start + 8] << 8) | msg[start + 9];
    const ar = (msg[start + 10] << 8) | msg[start + 11];
    const m = reuse === undefined ? emptyMessage() : reuse.message;
    m.id = (msg[start] << 8) | msg[start + 1];
    m.qr = (flags & 0x8000) !== 0;
    m.opcode = (flags >> 11) & 0xf;
    m.aa = (flags & 0x0400) !== 0;
    m.tc = (flags & 0x0200) !== 0;
    m.rd = (flags & 0x0100) !== 0;
    m.ra = (flags & 0x0080) !== 0;
    m.z = (flags >> 4) & 0x7;
    m.rcode = flags & 0xf;
    // Empty sections share one frozen array: most messages leave two or three empty.
    m.questions = NO_QUESTIONS;
    m.answers = NO_RECORDS;
    m.authorities = NO_RECORDS;
    m.additionals = NO_RECORDS;
    m.edns = null;
    const counts = m.counts;
    counts[0] = qd;
    counts[1] = an;
    counts[2] = ns;
    counts[3] = ar;
    m.size = size;
    m.malformed = null;
    let off = start + 12;
    for (let i = 0; i < qd; i++) {
      if (i >= MAX_RECORDS_PER_SECTION) {
        m.malformed = "too many questions";
        return m;
      }
      const r = names.slot(msg, off, start, end, true);
      if (r < 0) {
        m.malformed = `question name: ${names.error}`;
        return m;
      }
      const p = names.end;
      if (p + 4 > end) {
        m.malformed = "question runs past the message";
        return m;
      }
      const q = reuse === undefined ? { name: "", key: "", type: 0, class: 0, ref: 0 } : reuse.question(i);
      q.name = text[2 * r];
      q.key = text[2 * r + 1];
      q.ref = r === EMPTY_SLOT ? 0 : names.ref[r];
      q.type = (msg[p] << 8) | msg[p + 1];
      q.class = (msg[p + 2] << 8) | msg[p + 3];
      if (reuse !== undefined && qd === 1) m.questions = reuse.oneQuestion;
      else {
        if (i === 0) m.questions = [];
        m.questions.push(q);
      }
      off = p + 4;
    }
    const q0 = m.questions.length > 0 ? m.questions[0] : null;
    for (let s = 0; s < 3; s++) {
      const count = s === 0 ? an : s === 1 ? ns : ar;
      const keep = s === 0 || allSections;
      // Records gather in one scratch list and leave as an exact-size copy.
      const list = this.#records;
      let kept = 0;
      let bad: string | null = null;
      for (let i = 0; i < count; i++) {
        if (i >= MAX_RECORDS_PER_SECTION) {
          bad = "too many records";
          break;
        }
        // Most owner names point at the first question (offset 12): reuse it.
        let owner: string;
        let p: number;
        if (q0 !== null && off + 1 < end && msg[off] === 0xc0 && msg[off + 1] === 12) {
          owner = q0.name;
          p = off + 2;
        } else {
          const r = names.slot(msg, off, start, end, keep);
          if (r < 0) {
            bad = `record name: ${names.error}`;
            break;
          }
          owner = text[2 * r];
          p = names.end;
        }
        if (p + 10 > end) {
          bad = "record header runs past the message";
          break;
        }
        const type = (msg[p] << 8) | msg[p + 1];
        const klass = (msg[p + 2] << 8) | msg[p + 3];
        const ttl = word(msg, p + 4) >>> 0;
        const rdlen = (msg[p + 8] << 8) | msg[p + 9];
        const rd = p + 10;
        if (rd + rdlen > end) {
          bad = "RDATA runs past the message";
          break;
        }
        if (type === 41 && m.edns === null) {
          const e = m.edns = reuse === undefined ? emptyEdns() : reuse.edns;
          e.udpPayloadSize = klass;
          e.extendedRcode = ttl >>> 24;
          e.version = (ttl >>> 16) & 0xff;
          e.dnssecOk = (ttl & 0x8000) !== 0;
          e.optionsLength = rdlen;
          m.rcode = ((ttl >>> 24) << 4) | (flags & 0xf);
        }
        if (keep) {
          list[kept++] = {
            name: owner,
            type,
            class: klass,
            ttl,
            rdlength: rdlen,
            data: type === 41
              ? { kind: "raw", bytes: copyBytes(msg, rd, rd + rdlen) }
              : this.rdata.decode(msg, type, rd, rdlen, start, end),
          };
        }
        // A broken OPT record is kept (it was seen) and ends the message.
        if (type === 41 && !ednsOptionsFit(msg, rd, rd + rdlen)) {
          bad = "EDNS option runs past its OPT record";
          break;
        }
        off = rd + rdlen;
      }
      if (keep && count > 0) {
        // One or two records (the usual case) need no copying builtin.
        const out = kept === 1 ? [list[0]] : kept === 2 ? [list[0], list[1]] : list.slice(0, kept);
        if (s === 0) m.answers = out;
        else if (s === 1) m.authorities = out;
        else m.additionals = out;
      }
      if (bad !== null) {
        m.malformed = bad;
        return m;
      }
    }
    return m;
  }
}
