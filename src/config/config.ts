/**
 * `.plumbum/config.hcl`: parsed with `@cdktf/hcl2json`, validated key by
 * key. Every error names the file, the key and the fix.
 *
 * @module
 */

import { askThread } from "../thread.ts";
import { canonicalAddress } from "../ingest/dns/addresses.ts";
import type { AllowEntry } from "../analysis/allow.ts";
import {
  DEFAULT_PRESET,
  DEFAULT_THRESHOLDS,
  FEATURES,
  type ModelConfig,
  type Normalization,
  PRESET_NORMALIZATION,
  PRESETS,
  type Thresholds,
} from "../analysis/model.ts";

/** Settings read from config.hcl (everything optional there). */
export interface PlumbumConfig {
  /** Weight preset of the `analysis` block. */
  weightPreset: string;
  /** Explicit per-feature weights from the file (override the preset's). */
  weights: Record<string, number>;
  /** Normalization named in the config, or null for the preset's own. */
  normalization: Normalization | null;
  /** Severity thresholds. */
  thresholds: Thresholds;
  /** Suffixes named as C2 in the config. */
  c2Domains: string[];
  /** Ports that carry plain DNS. */
  dnsPorts: number[];
  /** Addresses of the site's recursive resolvers (canonical text). */
  resolvers: string[];
  /** Whether every transaction is stored with its run. */
  storeTransactions: boolean;
  /** The allow-list: `allow { domain = …; reason = …; clients = […]; expires = "YYYY-MM-DD" }` blocks. */
  allow: AllowEntry[];
}

/** A configuration problem the user must fix. */
export class ConfigError extends Error {
  /** A config that cannot be used, said in one sentence naming the file and key. */
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/** Defaults used when the file is absent or silent. */
function defaultConfig(): PlumbumConfig {
  return {
    weightPreset: DEFAULT_PRESET,
    weights: {},
    normalization: null,
    thresholds: { ...DEFAULT_THRESHOLDS },
    c2Domains: [],
    dnsPorts: [53],
    resolvers: [],
    storeTransactions: true,
    allow: [],
  };
}

const WEIGHT_KEYS = Object.keys(FEATURES).map((f) => `${f}_weight`);
const KNOWN: Record<string, string[]> = {
  analysis: ["weight_preset", "normalization", "c2_domains", ...WEIGHT_KEYS],
  thresholds: ["critical", "high", "medium"],
  ingest: ["dns_ports", "resolvers"],
  store: ["transactions"],
};

/**
 * Levenshtein distance between `a` and `b` when it is at most `max`, else
 * `max + 1`: only the band of cells within `max` of the diagonal is
 * computed, and a row past `max` everywhere stops it (for "did you mean").
 */
function editDistance(a: string, b: string, max = Infinity): number {
  if (Math.abs(a.length - b.length) > max) return max + 1;
  const band = Math.min(Math.max(a.length, b.length), max);
  const big = b.length + a.length + 1;
  let prev = new Array<number>(b.length + 1);
  let cur = new Array<number>(b.length + 1);
  for (let j = 0; j <= b.length; j++) prev[j] = j <= band ? j : big;
  for (let i = 1; i <= a.length; i++) {
    const lo = Math.max(1, i - band), hi = Math.min(b.length, i + band);
    cur.fill(big);
    cur[0] = i <= band ? i : big;
    let best = cur[0];
    for (let j = lo; j <= hi; j++) {
      const v = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
      cur[j] = v;
      if (v < best) best = v;
    }
    if (best > max) return max + 1;
    [prev, cur] = [cur, prev];
  }
  return Math.min(prev[b.length], max + 1);
}

/** Most edits a "did you mean" suggestion may be away. */
const SUGGEST_MAX_EDITS = 6;
/** Most band cells one suggestion search computes (a name against 100 000 others stays well under a second). */
const SUGGEST_BUDGET = 30_000_000;

/**
 * The closest candidates to `word` (at most `n`, within a sensible
 * distance): a candidate holding the word or held by it, else within
 * max(2, a third of its length) edits and never more than
 * {@link SUGGEST_MAX_EDITS}. Bounded whatever the inputs: each distance is
 * banded, and the search stops after {@link SUGGEST_BUDGET} cells.
 */
export function closest(word: string, candidates: Iterable<string>, n = 3): string[] {
  const max = Math.min(SUGGEST_MAX_EDITS, Math.max(2, Math.floor(word.length / 3)));
  const scored: [string, number][] = [];
  let budget = SUGGEST_BUDGET;
  for (const c of candidates) {
    if (c.includes(word) || word.includes(c)) {
      scored.push([c, 0.5]);
      continue;
    }
    if (Math.abs(c.length - word.length) > max || budget <= 0) continue;
    budget -= Math.min(c.length, word.length) * (2 * max + 1);
    const d = editDistance(word, c, max);
    if (d <= max) scored.push([c, d]);
  }
  return scored.sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : 1)).slice(0, n).map(([c]) => c);
}

function didYouMean(word: string, candidates: string[]): string {
  const c = closest(word, candidates, 1);
  return c.length > 0 ? `did you mean "${c[0]}"?` : `known keys: ${candidates.join(", ")}`;
}

/** config.hcl as `@cdktf/hcl2json` gives it: each block a list of one object of keys. */
export type ConfigDocument = Record<string, unknown>;

/** How long the HCL parser thread may take (ms): a config of the largest size accepted parses in well under a second. */
const PARSE_TIMEOUT_MS = 30_000;

/**
 * Parse HCL text with `@cdktf/hcl2json`, on a thread of its own
 * (src/config/hcl_worker.ts): the parser is a large WebAssembly module, and
 * loaded into the main isolate it made a 150 MB `apply` 0.3-0.7 s slower
 * and 50 MB larger, well past its own loading time.
 */
export async function parseHcl(text: string, file: string): Promise<ConfigDocument> {
  const { reply, cancel } = askThread<{ doc?: ConfigDocument; error?: string }>(
    { role: "plumbum:hcl", url: new URL("./hcl_worker.ts", import.meta.url) },
    { file, text },
  );
  let r: { doc?: ConfigDocument; error?: string };
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    // A parser thread that died without a word (out of memory) must not leave the command waiting.
    r = await Promise.race([
      reply,
      new Promise<never>((_, reject) =>
        timer = setTimeout(() => reject(new Error("the HCL parser stopped answering")), PARSE_TIMEOUT_MS)
      ),
    ]);
  } catch (e) {
    cancel();
    throw new ConfigError(`${file}: cannot parse: ${(e as Error).message}`);
  } finally {
    clearTimeout(timer);
  }
  if (r.doc === undefined) {
    throw new ConfigError(`${file}: not valid HCL: ${(r.error ?? "").replace(/^parse config: /, "")}`);
  }
  return r.doc;
}

/**
 * Parse and validate config.hcl text. `file` is used in messages. The text
 * `plumbum init` writes, unedited, is known without the HCL parser (whose
 * loading costs ~150 ms a command): {@link defaultDocument} is what the
 * parser makes of it (a test holds the two equal).
 */
export async function parseConfig(text: string, file: string): Promise<PlumbumConfig> {
  const doc = text === defaultConfigText() ? defaultDocument() : await parseHcl(text, file);
  const cfg = defaultConfig();
  for (const [block, value] of Object.entries(doc)) {
    if (block === "allow") {
      cfg.allow = allowEntries(value, file);
      continue;
    }
    const keys = KNOWN[block];
    if (keys === undefined) {
      throw new ConfigError(
        `${file}: unknown block "${block}"; ${
          didYouMean(block, Object.keys(KNOWN)).replace("known keys", "known blocks")
        }`,
      );
    }
    if (!Array.isArray(value) || value.length !== 1 || typeof value[0] !== "object" || value[0] === null) {
      throw new ConfigError(`${file}: "${block}" must be one block: ${block} { … }`);
    }
    for (const [key, v] of Object.entries(value[0] as Record<string, unknown>)) {
      const where = `${file}: ${block}.${key}`;
      if (!keys.includes(key)) {
        throw new ConfigError(`${file}: unknown key "${block}.${key}"; ${didYouMean(key, keys)}`);
      }
      const num = (): number => {
        if (typeof v !== "number" || !Number.isFinite(v)) {
          // A number too large to hold (1e400) parses as Infinity.
          const shown = typeof v === "number" ? `${v} (too large)` : JSON.stringify(v);
          throw new ConfigError(`${where} must be a finite number, not ${shown}`);
        }
        return v;
      };
      if (block === "analysis") {
        if (key === "weight_preset") {
          if (typeof v !== "string" || PRESETS[v] === undefined) {
            throw new ConfigError(
              `${where} must be one of ${Object.keys(PRESETS).map((p) => `"${p}"`).join(", ")}, not ${
                JSON.stringify(v)
              }`,
            );
          }
          cfg.weightPreset = v;
        } else if (key === "normalization") {
          if (v !== "corpus" && v !== "absolute") {
            throw new ConfigError(`${where} must be "corpus" or "absolute", not ${JSON.stringify(v)}`);
          }
          cfg.normalization = v;
        } else if (key === "c2_domains") {
          if (!Array.isArray(v) || v.some((x) => typeof x !== "string")) {
            throw new ConfigError(`${where} must be a list of strings, e.g. ["evil.tk"]`);
          }
          cfg.c2Domains = (v as string[]).map((s) => s.toLowerCase().replace(/\.$/, ""));
        } else {
          const w = num();
          if (w < 0) {
            throw new ConfigError(`${where} is negative (${w}); weights must be 0 or more (0 switches a feature off)`);
          }
          cfg.weights[key.slice(0, -"_weight".length)] = w;
        }
      } else if (block === "thresholds") {
        const t = num();
        if (t < 0 || t > 100) throw new ConfigError(`${where} must be between 0 and 100, not ${t}`);
        cfg.thresholds[key as keyof Thresholds] = t;
      } else if (block === "ingest" && key === "resolvers") {
        const bad = Array.isArray(v) ? v.find((x) => typeof x !== "string" || canonicalAddress(x) === null) : v;
        if (!Array.isArray(v) || bad !== undefined) {
          throw new ConfigError(
            `${where} must be a list of IPv4 or IPv6 addresses, e.g. ["10.0.0.53", "2001:db8::53"]${
              bad === undefined ? "" : `; ${JSON.stringify(bad)} is not one`
            }`,
          );
        }
        cfg.resolvers = [...new Set((v as string[]).map((x) => canonicalAddress(x)!))];
      } else if (block === "ingest") {
        if (!Array.isArray(v) || v.some((p) => !Number.isInteger(p) || p < 1 || p > 65535)) {
          throw new ConfigError(`${where} must be a list of ports 1-65535, e.g. [53]`);
        }
        cfg.dnsPorts = v as number[];
      } else if (block === "store") {
        if (typeof v !== "boolean") throw new ConfigError(`${where} must be true or false`);
        cfg.storeTransactions = v;
      }
    }
  }
  // Weights that make no score: every one 0 (all scores 0), or a sum past what a number holds (no score at all).
  const preset = PRESETS[cfg.weightPreset];
  const weights = Object.values({ ...preset, ...cfg.weights });
  if (weights.every((w) => w === 0)) {
    throw new ConfigError(
      `${file}: every weight of the analysis block is 0, so every domain would score 0; give at least one feature a weight above 0`,
    );
  }
  if (!Number.isFinite(weights.reduce((a, b) => a + b, 0))) {
    throw new ConfigError(
      `${file}: the weights add up past what a number can hold; weights are relative, so use small numbers (e.g. 0 to 10)`,
    );
  }
  const t = cfg.thresholds;
  if (!(t.critical > t.high && t.high > t.medium)) {
    throw new ConfigError(
      `${file}: thresholds are out of order (critical ${t.critical}, high ${t.high}, medium ${t.medium}); they must satisfy critical > high > medium`,
    );
  }
  return cfg;
}

const ALLOW_KEYS = ["domain", "reason", "clients", "expires"];

/** The `allow { domain = …; reason = … }` blocks, checked (hcl2json gives a list of them). */
function allowEntries(value: unknown, file: string): AllowEntry[] {
  if (!Array.isArray(value) || value.some((b) => b === null || typeof b !== "object" || Array.isArray(b))) {
    throw new ConfigError(`${file}: an allow block is one entry: allow { domain = "cdn.example.com"  reason = "…" }`);
  }
  const out: AllowEntry[] = [];
  const seen = new Set<string>();
  for (const b of value as Record<string, unknown>[]) {
    const label = typeof b.domain === "string" ? b.domain : "";
    const name = label.toLowerCase().replace(/\.$/, "");
    const where = `${file}: allow { domain = ${JSON.stringify(label)} }`;
    if (typeof b.domain !== "string") {
      throw new ConfigError(`${file}: an allow block needs the domain it allows: domain = "cdn.example.com"`);
    }
    if (name === "" || name.length > 253 || /\s/.test(name) || name.startsWith(".") || name.includes("..")) {
      throw new ConfigError(`${where}: name a domain, e.g. domain = "cdn.example.com" (it covers every name under it)`);
    }
    if (seen.has(name)) throw new ConfigError(`${where} appears more than once: one block a domain`);
    seen.add(name);
    for (const key of Object.keys(b)) {
      if (!ALLOW_KEYS.includes(key)) {
        throw new ConfigError(`${where}: unknown key "${key}"; ${didYouMean(key, ALLOW_KEYS)}`);
      }
    }
    if (typeof b.reason !== "string" || b.reason.trim() === "") {
      throw new ConfigError(`${where} needs a reason (reason = "…"): an entry nobody can explain is a hole`);
    }
    let clients: string[] | null = null;
    if (b.clients !== undefined) {
      const bad = Array.isArray(b.clients)
        ? b.clients.find((x) => typeof x !== "string" || canonicalAddress(x) === null)
        : b.clients;
      if (!Array.isArray(b.clients) || bad !== undefined || b.clients.length === 0) {
        throw new ConfigError(
          `${where}: clients must be a list of IPv4 or IPv6 addresses, e.g. ["10.0.0.5"]${
            bad === undefined ? "" : `; ${JSON.stringify(bad)} is not one`
          }`,
        );
      }
      clients = [...new Set((b.clients as string[]).map((x) => canonicalAddress(x)!))];
    }
    let expires: string | null = null;
    if (b.expires !== undefined) {
      const e = b.expires;
      if (
        typeof e !== "string" || !/^\d{4}-\d{2}-\d{2}$/.test(e) ||
        new Date(`${e}T00:00:00Z`).toISOString().slice(0, 10) !== e
      ) {
        throw new ConfigError(`${where}: expires must be a day, "YYYY-MM-DD" (from that day on it no longer applies)`);
      }
      expires = e;
    }
    out.push({ name, reason: b.reason.trim(), clients, expires });
  }
  return out;
}

/** The largest config.hcl read (a config is a few kilobytes; the parser's memory grows with the text). */
const MAX_CONFIG_BYTES = 256 << 10;

/** Read config.hcl from a file (defaults when it does not exist); a file that is not one, or is too big, is refused. */
export async function loadConfig(path: string): Promise<PlumbumConfig> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return defaultConfig();
    throw new ConfigError(`${path}: cannot read: ${(e as Error).message}`);
  }
  let bytes: Uint8Array;
  try {
    const info = await file.stat();
    if (!info.isFile) {
      throw new ConfigError(`${path} is not a regular file: make it one (plumbum init writes the defaults)`);
    }
    // Read no more than the cap, whatever the size says (a file may grow while it is read).
    const buf = new Uint8Array(MAX_CONFIG_BYTES + 1);
    let n = 0;
    for (let r; n < buf.length && (r = await file.read(buf.subarray(n))) !== null;) n += r;
    if (n > MAX_CONFIG_BYTES) {
      throw new ConfigError(
        `${path} is over ${MAX_CONFIG_BYTES >> 10} KB: a config is a few kilobytes; write a new one with plumbum init`,
      );
    }
    bytes = buf.subarray(0, n);
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    throw new ConfigError(`${path}: cannot read: ${(e as Error).message}`);
  } finally {
    file.close();
  }
  return await parseConfig(new TextDecoder().decode(bytes), path);
}

/** Command-line overrides of the file. */
export interface ConfigOverrides {
  /** A weight preset named on the command line (replaces the file's weights). */
  weights?: string;
  /** C2 suffixes named on the command line. */
  c2Domains?: string[];
  /** A normalization named on the command line. */
  normalization?: Normalization;
}

/** The model to run: file settings, then command-line overrides. */
export function resolveModel(cfg: PlumbumConfig, o: ConfigOverrides = {}): ModelConfig {
  if (o.weights !== undefined && PRESETS[o.weights] === undefined) {
    throw new ConfigError(`--weights: unknown preset "${o.weights}"; choose ${Object.keys(PRESETS).join(", ")}`);
  }
  const preset = o.weights ?? cfg.weightPreset;
  // --weights names a whole preset: the file's per-feature weights do not apply then.
  const weights = { ...PRESETS[preset], ...(o.weights === undefined ? cfg.weights : {}) };
  const normalization = o.normalization ?? (o.weights === undefined ? cfg.normalization : null) ??
    PRESET_NORMALIZATION[preset] ?? "corpus";
  return { preset, weights, normalization, thresholds: { ...cfg.thresholds } };
}

/** The default preset's weights as config.hcl writes them (two decimals), by feature. */
function defaultWeights(): [string, number][] {
  const w = PRESETS[DEFAULT_PRESET];
  return Object.keys(FEATURES).filter((f) => w[f] !== undefined).map((f) => [f, Number(w[f].toFixed(2))]);
}

/**
 * What the HCL parser makes of {@link defaultConfigText}: the values `plumbum init` writes.
 *
 * @internal Exported for its tests.
 */
export function defaultDocument(): ConfigDocument {
  const analysis: Record<string, unknown> = { weight_preset: DEFAULT_PRESET };
  for (const [f, w] of defaultWeights()) analysis[`${f}_weight`] = w;
  analysis.normalization = PRESET_NORMALIZATION[DEFAULT_PRESET];
  analysis.c2_domains = [];
  return {
    analysis: [analysis],
    thresholds: [{ ...DEFAULT_THRESHOLDS }],
    ingest: [{ dns_ports: [53], resolvers: [] }],
    store: [{ transactions: true }],
  };
}

/** The commented config.hcl that `plumbum init` writes: {@link defaultDocument}'s values, explained. */
export function defaultConfigText(): string {
  const doc = defaultDocument() as Record<string, Record<string, unknown>[]>;
  const [a] = doc.analysis;
  const [t] = doc.thresholds;
  const value = (v: unknown) => JSON.stringify(v);
  const lines = [
    "# Plumbum configuration. Command-line flags (--weights, --c2-domains, --dir) override it.",
    "",
    "analysis {",
    "  # Weight preset: " + Object.keys(PRESETS).join(", ") + ".",
    "  # The per-feature weights below override the preset's; set one to 0 to switch a feature off.",
    `  weight_preset = ${value(a.weight_preset)}`,
    "",
  ];
  for (const [f, w] of defaultWeights()) {
    lines.push(`  # ${FEATURES[f].description}`);
    lines.push(`  ${`${f}_weight`.padEnd(26)} = ${w.toFixed(2)}`);
  }
  lines.push(
    "",
    '  # How features are scaled to 0..1: "corpus" (min-max over the analyzed domains)',
    '  # or "absolute" (fixed reference scales; a score does not depend on its neighbours).',
    `  normalization = ${value(a.normalization)}`,
    "",
    "  # Suffixes known to be C2: they are grouped as written and marked is_c2.",
    `  c2_domains = ${value(a.c2_domains)}`,
    "}",
    "",
    "thresholds {",
    "  # Score (0-100) at or above which a domain gets each severity.",
    `  critical = ${t.critical}`,
    `  high     = ${t.high}`,
    `  medium   = ${t.medium}`,
    "}",
    "",
    "ingest {",
    "  # Ports that carry plain DNS (mDNS 5353 and LLMNR 5355 are always decoded).",
    `  dns_ports = ${value(doc.ingest[0].dns_ports)}`,
    "",
    "  # Addresses of this site's recursive resolvers. A sensor at a resolver sees each question twice",
    "  # (from the client, then the resolver's own query upstream); the second is recognized anyway when",
    "  # the resolver also receives queries or asks iteratively, and always when its address is named here",
    '  # (a forwarder that sends from another address with recursion desired). e.g. ["10.0.0.53"]',
    `  resolvers = ${value(doc.ingest[0].resolvers)}`,
    "}",
    "",
    "store {",
    "  # Keep every transaction in plumbum.db (false keeps only scores and evidence).",
    `  transactions = ${value(doc.store[0].transactions)}`,
    "}",
    "",
    "# Domains this site accepts, one block each with its reason: still scored and stored, marked suppressed,",
    "# left out of listings, exports and alerts unless --include-suppressed. domain covers the domain and every",
    "# name under it; clients (optional) limits it to those clients; from the day it expires it no longer applies.",
    "# allow {",
    '#   domain  = "cdn.example.com"',
    '#   reason  = "signed URLs of our CDN, reviewed 2026-12-01"',
    '#   clients = ["10.0.0.5"]',
    '#   expires = "2027-06-01"',
    "# }",
    "",
  );
  return lines.join("\n");
}
