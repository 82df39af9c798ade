/**
 * Where the sensor stands. A sensor on a recursive resolver sees each
 * question twice: the client asking the resolver, then the resolver asking
 * the zone's server. The second is not a second client asking again: it is
 * an upstream copy, to be attributed to the client that asked and its name
 * counted once.
 *
 * The rule, for packets and logs alike: a transaction is an upstream copy
 * when the same name was asked by another address shortly before
 * ({@link COPY_DELAY_SECS}; the type may differ: a resolver minimising
 * names, or asking A and AAAA, still acts for that client), and its sender behaves as a
 * resolver — it receives queries itself, or it sends iterative queries
 * (recursion not desired: stub resolvers always ask for recursion, resolvers
 * asking authorities never do; a resolver often sends from another address
 * than the one it listens on). Named resolvers (`resolvers` in config) are
 * taken as such without that evidence. A resolver whose upstream question
 * goes unanswered asks it again, backing off, long after the client gave up
 * (BIND 9 retried a lab iodine query 1, 2, 4, 8, 15 and 24 s after the
 * client's): the same question again from the address that copied it is a
 * retry, a copy still, up to {@link RETRY_SECS}.
 *
 * Every transaction passes here. The analyzer keeps each name's {@link Asked}
 * record on the route it already looks up per name, so the rule costs no
 * second table; without such a record the vantage keeps its own, bounded:
 * the names of the last few seconds (of the last {@link RETRY_SECS} when a
 * resolver copied them), at most {@link RECENT_MAX}, expired ones swept once
 * per {@link COPY_DELAY_SECS} of capture time.
 *
 * @module
 */

import type { Transaction } from "../ingest/types.ts";

/** How long after a client's question the resolver's copy may leave (seconds). */
const COPY_DELAY_SECS = 2;
/** How long after a client's question a resolver may still retry its copy (seconds; BIND gives up at 30 at most). */
const RETRY_SECS = 30;
/** Questions remembered at most. */
const RECENT_MAX = 65536;
/** Addresses remembered as receiving queries, at most. */
const SERVERS_MAX = 4096;

/**
 * Who last asked a name, and when. A caller that keeps a record per name
 * (the analyzer, on the name's route) hands it to
 * {@link ResolverVantage.copyOf}; otherwise the vantage keeps its own.
 */
export interface Asked {
  client: string;
  ts: number;
  /** The resolver that last copied the client's question ("" when none did). */
  copier: string;
}

/** A record of a name nobody has asked yet. */
export function notAsked(): Asked {
  return { client: "", ts: -Infinity, copier: "" };
}

/** Recognizes a resolver's upstream copies in a stream of transactions (in query order). */
export class ResolverVantage {
  /** Name → who asked it last and when. */
  readonly #recent = new Map<string, Asked>();
  /** Capture time of the last sweep of expired names. */
  #swept = -Infinity;
  /** Addresses that received queries. */
  readonly #servers = new Set<string>();
  readonly #named: ReadonlySet<string>;
  /** Upstream copies recognized so far. */
  copies = 0;

  /** @param resolvers addresses known to be the site's resolvers */
  constructor(resolvers: readonly string[] = []) {
    this.#named = new Set(resolvers);
  }

  /**
   * Whether `tx` is a resolver's copy of a name a client asked just before;
   * returns that client, or null (then `tx` is remembered as asked, in
   * `asked`: the name's record, when the caller keeps one).
   */
  copyOf(tx: Transaction, asked: Asked = this.#asked(tx.queryKey, tx.ts)): string | null {
    const ts = tx.ts, late = ts - asked.ts;
    if (
      asked.client !== tx.client && late >= -0.001 &&
      ((late <= COPY_DELAY_SECS && this.#resolverLike(tx)) || (late <= RETRY_SECS && asked.copier === tx.client))
    ) {
      this.copies++;
      asked.copier = tx.client;
      return asked.client;
    }
    if (this.#servers.size < SERVERS_MAX) this.#servers.add(tx.server);
    asked.client = tx.client;
    asked.ts = ts;
    asked.copier = "";
    return null;
  }

  /** The vantage's own record of a name (for callers that keep none). */
  #asked(key: string, ts: number): Asked {
    let asked = this.#recent.get(key);
    if (asked === undefined) {
      if (this.#recent.size >= RECENT_MAX || ts - this.#swept >= COPY_DELAY_SECS) this.#sweep(ts);
      asked = notAsked();
      this.#recent.set(key, asked);
    }
    return asked;
  }

  #resolverLike(tx: Transaction): boolean {
    return (tx.hasQuery && !tx.rd) || this.#servers.has(tx.client) || this.#named.has(tx.client);
  }

  /**
   * Forget names too old to be copied; when still full, the longest-held
   * ones down to three quarters, so that a flood of new names sweeps once
   * per {@link RECENT_MAX}/4 of them, not at every name.
   */
  #sweep(ts: number): void {
    this.#swept = ts;
    const recent = this.#recent;
    for (const [k, v] of recent) if (v.ts < ts - (v.copier === "" ? COPY_DELAY_SECS : RETRY_SECS)) recent.delete(k);
    if (recent.size < RECENT_MAX) return;
    for (const k of recent.keys()) {
      if (recent.size <= RECENT_MAX * 3 / 4) break;
      recent.delete(k);
    }
  }
}

/**
 * Whether a name's last label can be a delegated top-level domain: every
 * TLD is letters (or an `xn--` IDN label), and none is longer than 24
 * characters (RFC 3696 §2 asks that a TLD not be all-numeric; the root has
 * only alphabetic ones). A name ending otherwise (`dnscat.<hex>.<hex>`)
 * cannot have been resolved through the hierarchy: it was sent straight to
 * a server that answers it.
 */
export function hasDelegatedTld(name: string): boolean {
  const n = name.endsWith(".") ? name.slice(0, -1) : name;
  const last = n.slice(n.lastIndexOf(".") + 1);
  return last.length === 0 || (last.length <= 24 && last.startsWith("xn--")) || isWord(last, false);
}

/** 1 to 24 lower-case letters (and hyphens, when `hyphens`): a TLD, or a tool's fixed prefix. */
function isWord(s: string, hyphens: boolean): boolean {
  if (s.length === 0 || s.length > 24) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (!((c >= 0x61 && c <= 0x7a) || (hyphens && c === 0x2d))) return false;
  }
  return true;
}

/**
 * The group of a name without a delegated TLD: its first label (when it is
 * a word: letters and hyphens, as a tool's fixed prefix is) and the server
 * it was sent to, `dnscat@203.0.113.7`; names of data alone, `@203.0.113.7`.
 */
export function bareServerGroup(name: string, server: string): string {
  const dot = name.indexOf(".");
  const first = dot < 0 ? name : name.slice(0, dot);
  return `${isWord(first, true) ? first : ""}@${server}`;
}

/** The parts of a group made by {@link bareServerGroup}: its word prefix ("" for none) and server; null for a domain. */
export function bareServerOf(group: string): { prefix: string; server: string } | null {
  const at = group.indexOf("@");
  return at < 0 ? null : { prefix: group.slice(0, at), server: group.slice(at + 1) };
}
