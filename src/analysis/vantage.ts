/**
 * Where the sensor stands. A sensor on a recursive resolver sees each
 * question twice: the client asking the resolver, then the resolver asking
 * the zone's server. The second is not a second client asking again: it is
 * an upstream copy, to be attributed to the client that asked and its name
 * counted once.
 *
 * The rule, for packets and logs alike: a transaction is an upstream copy
 * when the same question (name and type) was asked by another address
 * shortly before ({@link COPY_DELAY_SECS}), and its sender behaves as a
 * resolver — it receives queries itself, or it sends iterative queries
 * (recursion not desired: stub resolvers always ask for recursion, resolvers
 * asking authorities never do; a resolver often sends from another address
 * than the one it listens on). Named resolvers (`resolvers` in config) are
 * taken as such without that evidence.
 *
 * Memory is bounded: the questions of the last few seconds, at most
 * {@link RECENT_MAX}.
 *
 * @module
 */

import type { Transaction } from "../ingest/types.ts";

/** How long after a client's question the resolver's copy may leave (seconds). */
export const COPY_DELAY_SECS = 2;
/** Questions remembered at most. */
export const RECENT_MAX = 65536;
/** Addresses remembered as receiving queries, at most. */
const SERVERS_MAX = 4096;

interface Asked {
  client: string;
  ts: number;
}

/** Recognizes a resolver's upstream copies in a stream of transactions (in query order). */
export class ResolverVantage {
  /** Question (type and name) → who asked it last and when. */
  readonly #recent = new Map<string, Asked>();
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
   * Whether `tx` is a resolver's copy of a question a client asked just
   * before; returns that client, or null (then `tx` is remembered as asked).
   */
  copyOf(tx: Transaction): string | null {
    const key = tx.qtype + " " + tx.queryKey;
    const ts = tx.ts;
    const before = this.#recent.get(key);
    if (
      before !== undefined && before.client !== tx.client && ts - before.ts <= COPY_DELAY_SECS &&
      ts >= before.ts - 0.001 && this.#resolverLike(tx)
    ) {
      this.copies++;
      return before.client;
    }
    if (this.#servers.size < SERVERS_MAX) this.#servers.add(tx.server);
    this.#remember(key, tx.client, ts);
    return null;
  }

  #resolverLike(tx: Transaction): boolean {
    return (tx.hasQuery && !tx.rd) || this.#servers.has(tx.client) || this.#named.has(tx.client);
  }

  #remember(key: string, client: string, ts: number): void {
    const recent = this.#recent;
    // Oldest first: drop what is too old to be copied, and the oldest when full.
    for (const [k, v] of recent) {
      if (recent.size < RECENT_MAX && v.ts >= ts - COPY_DELAY_SECS) break;
      recent.delete(k);
    }
    recent.delete(key);
    recent.set(key, { client, ts });
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
  if (last.length === 0 || last.length > 24) return last.length === 0;
  if (last.startsWith("xn--")) return true;
  for (let i = 0; i < last.length; i++) {
    const c = last.charCodeAt(i);
    if (!(c >= 0x61 && c <= 0x7a)) return false;
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
  let word = first.length > 0 && first.length <= 24;
  for (let i = 0; word && i < first.length; i++) {
    const c = first.charCodeAt(i);
    word = (c >= 0x61 && c <= 0x7a) || c === 0x2d;
  }
  return `${word ? first : ""}@${server}`;
}
