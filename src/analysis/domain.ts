/**
 * Parent domains: the registered domain from the Public Suffix List, unless
 * the user named C2 suffixes, which win. Reverse lookups group under
 * `in-addr.arpa` / `ip6.arpa`.
 *
 * @module
 */
import { getDomain } from "npm:tldts@7.6.0";

const cache = new Map<string, string>();

/**
 * tldts told that its inputs are bare lower-case hostnames: it skips looking
 * for a URL's scheme, port and path (2-3x faster, the same answers; a
 * tunnel's every name is new, so this lookup ran for each).
 */
const PSL_OPTIONS = { allowPrivateDomains: false, validateHostname: false, extractHostname: false, mixedInputs: false };

/** Whether `s` is dot-separated labels of a-z, 0-9, "_" and "-" (what tldts may take as a hostname). */
function isPlainHostname(s: string): boolean {
  if (s.length === 0) return false;
  let last = 0x2e;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x2e) {
      if (last === 0x2e) return false;
    } else if (!((c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x5f || c === 0x2d)) return false;
    last = c;
  }
  return last !== 0x2e;
}

/**
 * The parent domain of a (lower-cased) query name.
 *
 * @example
 * ```ts
 * parentDomain("a.b.example.co.uk"); // "example.co.uk"
 * parentDomain("x.t1.evil.tk", ["t1.evil.tk"]); // "t1.evil.tk"
 * ```
 */
export function parentDomain(name: string, c2Suffixes: readonly string[] = []): string {
  const n = name.endsWith(".") ? name.slice(0, -1) : name;
  for (const s of c2Suffixes) {
    if (n === s || n.endsWith("." + s)) return s;
  }
  if (n.endsWith(".in-addr.arpa") || n === "in-addr.arpa") return "in-addr.arpa";
  if (n.endsWith(".ip6.arpa") || n === "ip6.arpa") return "ip6.arpa";
  // The PSL lookup only needs the last few labels; cache on them (found
  // without splitting the whole name: tunnel names are long).
  let cut = n.length;
  for (let i = 0; i < 5 && cut > 0; i++) cut = n.lastIndexOf(".", cut - 1);
  const tail = cut <= 0 ? n : n.slice(cut + 1);
  let d = cache.get(tail);
  if (d === undefined) {
    // Names with escaped or binary labels are not hostnames: take the last two labels.
    const plain = isPlainHostname(tail);
    // A tunnel's every name is new: its tail is found from a shorter suffix the cache holds, and is not kept.
    if (plain) d = fromShorterSuffix(tail);
    if (d === undefined) {
      d = tailDomain(tail, plain) ?? n;
      if (cache.size > 100_000) cache.clear();
      cache.set(tail, d);
    }
  }
  return d;
}

/** The registered domain of a tail of up to five labels, as the PSL gives it; null for one label. */
function tailDomain(tail: string, plain: boolean): string | null {
  const last2 = tail.slice(tail.lastIndexOf(".", tail.lastIndexOf(".") - 1) + 1);
  return (plain ? getDomain(tail, PSL_OPTIONS) : null) ?? (tail.includes(".") ? last2 : null);
}

/** The PSL's registered domain of plain suffixes, as {@link fromShorterSuffix} looked them up (null: none). */
const registered = new Map<string, string | null>();

/**
 * The registered domain of a plain `tail` from its suffixes of two labels
 * and more, shortest first, each looked up once and kept: when the PSL
 * gives a suffix a registered domain shorter than the suffix, labels added
 * on its left cannot change it (a longer rule, a wildcard's included, would
 * have matched the suffix too), so it is the tail's. Undefined when no
 * suffix shorter than the tail shows it.
 */
function fromShorterSuffix(tail: string): string | undefined {
  let cut = tail.lastIndexOf(".", tail.lastIndexOf(".") - 1);
  while (cut > 0) {
    const suffix = tail.slice(cut + 1);
    let d = registered.get(suffix);
    if (d === undefined) {
      d = getDomain(suffix, PSL_OPTIONS);
      if (registered.size > 100_000) registered.clear();
      registered.set(suffix, d);
    }
    if (d !== null && d.length < suffix.length) return d;
    cut = tail.lastIndexOf(".", cut - 1);
  }
  return undefined;
}

/** Whether `name` is the C2 suffix itself or under it. */
export function isUnder(name: string, suffix: string): boolean {
  return name === suffix || name.endsWith("." + suffix);
}
