/**
 * Terminal text for findings: the findings table, `show` and `explain`.
 * Every attacker-chosen string passes through {@link escapeTerminal}.
 *
 * @module
 */

import { payloadEvidence } from "./carve.ts";
import type { DomainFinding } from "../analysis/analyze.ts";
import type { Suppression } from "../analysis/types.ts";
import type { DomainEvidence, DomainFeatures } from "../analysis/accumulator.ts";
import { FEATURES, roundScore, type Severity } from "../analysis/model.ts";
import { bareServerOf } from "../analysis/vantage.ts";
import type { Colors } from "./colors.ts";
import { escapeTerminal } from "./escape.ts";
import { formatBytes } from "./progress.ts";

/** Colour a severity word. */
function paintSeverity(c: Colors, s: Severity, text: string = s): string {
  switch (s) {
    case "CRITICAL":
      return c.bold(c.red(text));
    case "HIGH":
      return c.red(text);
    case "MEDIUM":
      return c.yellow(text);
    default:
      return c.dim(text);
  }
}

/** One line of the findings table: `CRITICAL   94.4  evil.tk`. */
export function findingLine(c: Colors, f: DomainFinding): string {
  return `${paintSeverity(c, f.severity, f.severity.padEnd(9))}  ${roundScore(f.score).toFixed(1).padStart(5)}  ${
    escapeTerminal(f.domain)
  }${f.is_c2 ? c.dim("  (c2)") : ""}`;
}

/** Counts per severity. */
export function severityCounts(findings: DomainFinding[]): Record<Severity, number> {
  const n: Record<Severity, number> = { CRITICAL: 0, HIGH: 0, MEDIUM: 0, LOW: 0 };
  for (const f of findings) n[f.severity]++;
  return n;
}

/** The summary line; `total`: domains scored, when `findings` holds only some (every one at MEDIUM and above). */
export function summaryLine(findings: DomainFinding[], total: number = findings.length): string {
  const n = severityCounts(findings);
  return `Summary: ${total} domains scored, ${n.CRITICAL} CRITICAL, ${n.HIGH} HIGH, ${n.MEDIUM} MEDIUM`;
}

/** ISO 8601 time from epoch seconds ("-" when unknown). */
export function isoTime(ts: number | null): string {
  if (ts === null) return "-";
  const d = new Date(ts * 1000);
  return isNaN(d.getTime()) ? String(ts) : d.toISOString();
}

/** {@link isoTime} without zero milliseconds, for evidence lines and the report. */
export function fmtTime(ts: number | null): string {
  return isoTime(ts).replace(".000Z", "Z");
}

function fmtSecs(x: number | null): string {
  if (x === null) return "-";
  if (x < 1) return `${(x * 1000).toFixed(1)} ms`;
  return `${x.toFixed(2)} s`;
}

/** A tiny bar chart of a series (for activity per bucket). */
function sparkline(values: number[], width = 60): string {
  if (values.length === 0) return "";
  const bars = "▁▂▃▄▅▆▇█";
  // Fold to at most `width` columns.
  const per = Math.ceil(values.length / width);
  const cols: number[] = [];
  for (let i = 0; i < values.length; i += per) cols.push(values.slice(i, i + per).reduce((a, b) => a + b, 0));
  const max = Math.max(...cols);
  return cols.map((v) => v === 0 ? " " : bars[Math.min(bars.length - 1, Math.floor(v / max * (bars.length - 1)))]).join(
    "",
  );
}

/** Bytes in words: "180 KB". */
function bytesWords(n: number): string {
  return n < 1024 ? `${Math.round(n)} bytes` : formatBytes(n);
}

/** A duration in words: "4 minutes", "13 s". */
function durationWords(s: number): string {
  if (s < 120) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  if (s < 7200) return `${Math.round(s / 60)} minutes`;
  return `${(s / 3600).toFixed(1)} hours`;
}

/** The information-content bound in one sentence. */
function capacityLine(f: DomainFeatures): string {
  const total = f.upstream_capacity + f.downstream_capacity;
  return `≈ ${bytesWords(total)} could have moved through this domain in ${durationWords(f.duration_secs)} (${
    bytesWords(f.upstream_capacity)
  } up in distinct names, ${bytesWords(f.downstream_capacity)} down in distinct answers; busiest client ≈ ${
    bytesWords(f.top_client_capacity)
  })`;
}

/** How long and how steadily the busiest client kept asking new names, in one sentence. */
function persistenceLine(f: DomainFeatures): string {
  const names = f.top_client_names ?? 0;
  const every = names > 1 ? f.duration_secs / (names - 1) : null;
  return `≈ ${names.toLocaleString("en-US")} new names from the busiest client over ${durationWords(f.duration_secs)}${
    every === null ? "" : `, a new one every ${fmtSecs(every)}`
  } (gap CV ${f.cv === null ? "-" : f.cv.toFixed(2)})`;
}

/** Address answers that behave like data, in one sentence (null when they do not). */
function addressLine(f: DomainFeatures): string | null {
  if (!(f.address_channel > 0)) return null;
  return `${f.address_networks} distinct networks (/24, /48) in the address answers of ${f.address_answers} queries, names never repeated: addresses counted as data at ${
    (100 * f.address_channel).toFixed(0)
  }%`;
}

/**
 * The resolver's vantage point, in one sentence (null when no upstream copy was seen).
 *
 * @internal Exported for its tests.
 */
export function vantageLine(e: DomainEvidence, f: DomainFeatures): string | null {
  const copies = e.upstream_copies ?? 0;
  if (copies === 0) return null;
  return `seen at a resolver: ${copies.toLocaleString("en-US")} of ${
    (copies + f.query_count).toLocaleString("en-US")
  } queries are its upstream copies (the same question again from the resolver shortly after, or its retries), attributed to the client that asked and counted once`;
}

/**
 * A domain of names with no delegated TLD, in one sentence (null for a registered domain).
 *
 * @internal Exported for its tests.
 */
export function bareServerLine(domain: string): string | null {
  const bare = bareServerOf(domain);
  if (bare === null) return null;
  return `names with no delegated top-level domain, sent straight to ${
    escapeTerminal(bare.server)
  }: grouped by that server${
    bare.prefix !== "" ? ` and their first label "${escapeTerminal(bare.prefix)}"` : ""
  }; DNS sent to a server rather than through a resolver is itself evidence`;
}

/** Sibling zones, in one sentence (null without). */
function siblingsLine(e: DomainEvidence): string | null {
  const s = e.siblings;
  if (s === undefined) return null;
  return `one channel with ${
    s.domains.map(escapeTerminal).join(", ")
  } (same client, same name shape, interleaved in time)${
    s.scored_together
      ? `: scored on the zones' traffic together, so the components' raw values are theirs (alone: ${
        s.score_alone.toFixed(1)
      })`
      : ""
  }`;
}

/** Evidence as indented text lines. */
export function evidenceLines(e: DomainEvidence, f?: DomainFeatures, domain?: string): string[] {
  const lines: string[] = ["Evidence:"];
  if (e.tool) lines.push(`  tool             ${escapeTerminal(e.tool.name)}: ${escapeTerminal(e.tool.evidence)}`);
  if (e.payload) lines.push(`  payload          ${escapeTerminal(payloadEvidence(e.payload))}`);
  if (e.file_header) {
    lines.push(
      `  file header      a query name carries the start of a ${e.file_header.type} file (one name is enough to show data leaving; plumbum carve decodes the rest): ${
        escapeTerminal(e.file_header.name)
      }`,
    );
  }
  const bare = domain === undefined ? null : bareServerLine(domain);
  if (bare !== null) lines.push(`  sent to server   ${bare}`);
  if (f !== undefined && f.upstream_capacity !== undefined) lines.push(`  capacity         ${capacityLine(f)}`);
  if (f !== undefined && (f.top_client_names ?? 0) >= 10) lines.push(`  persistence      ${persistenceLine(f)}`);
  const address = f === undefined ? null : addressLine(f);
  if (address !== null) lines.push(`  addresses        ${address}`);
  const vantage = f === undefined ? null : vantageLine(e, f);
  if (vantage !== null) lines.push(`  vantage          ${vantage}`);
  const siblings = siblingsLine(e);
  if (siblings !== null) lines.push(`  siblings         ${siblings}`);
  for (const l of e.lookalikes ?? []) lines.push(`  looks like       ${l.class}: ${escapeTerminal(l.reason)}`);
  lines.push(`  first seen       ${fmtTime(e.first_seen)}`);
  lines.push(`  last seen        ${fmtTime(e.last_seen)} (${fmtSecs(e.last_seen - e.first_seen)})`);
  lines.push(
    `  query types      ${
      Object.entries(e.query_types).map(([t, n]) => `${escapeTerminal(t)} ${n}`).join(", ") || "-"
    }`,
  );
  lines.push(
    `  answer types     ${
      Object.entries(e.answer_types).map(([t, n]) => `${escapeTerminal(t)} ${n}`).join(", ") || "-"
    }`,
  );
  lines.push(
    `  rcodes           ${Object.entries(e.rcodes).map(([t, n]) => `${escapeTerminal(t)} ${n}`).join(", ") || "-"}`,
  );
  lines.push(
    `  clients          ${e.clients.map((c) => `${escapeTerminal(c.client)} (${c.queries})`).join(", ")}${
      e.clients_other > 0 ? ` and ${e.clients_other} more` : ""
    }`,
  );
  if (e.busiest_subzone !== null) {
    lines.push(
      `  busiest sub-zone ${escapeTerminal(e.busiest_subzone.subzone)} (${e.busiest_subzone.queries} queries)`,
    );
  }
  lines.push(`  sample names`);
  for (const n of e.sample_names) lines.push(`    ${escapeTerminal(n)}`);
  if (e.longest_name !== "" && !e.sample_names.includes(e.longest_name)) {
    lines.push(`  longest name     ${escapeTerminal(e.longest_name)}`);
  }
  lines.push(
    `  timing           ${e.gaps.count} gaps, median ${fmtSecs(e.gaps.p50)}, p90 ${fmtSecs(e.gaps.p90)}, max ${
      fmtSecs(e.gaps.max)
    }`,
  );
  const unit = e.activity.bucket_secs === 60 ? "minute" : `${e.activity.bucket_secs} s`;
  lines.push(
    `  activity/${unit.padEnd(7)}${sparkline(e.activity.counts)}  (peak ${Math.max(0, ...e.activity.counts)})`,
  );
  return lines;
}

/** The "Domain: … / Score: …" header, labels padded to `width`. */
function header(c: Colors, f: DomainFinding, width: number, section: string): string[] {
  return [
    `${"Domain:".padEnd(width)}${escapeTerminal(f.domain)}${f.is_c2 ? " (named C2 suffix)" : ""}`,
    `${"Score:".padEnd(width)}${roundScore(f.score).toFixed(1)} (${paintSeverity(c, f.severity)})`,
    ...(f.suppressed ? [`${"Allowed:".padEnd(width)}${suppressionText(f.suppressed)}`] : []),
    "",
    section,
  ];
}

/** A suppressed finding's reason, for a terminal. */
export function suppressionText(s: Suppression): string {
  return `suppressed by allow "${escapeTerminal(s.entry)}": ${escapeTerminal(s.reason)}${
    s.expires === null ? "" : ` (until ${s.expires})`
  }`;
}

/** `plumbum explain` text. */
export function explainText(c: Colors, f: DomainFinding): string {
  const lines = header(c, f, 8, "Components:");
  for (const k of f.components) {
    lines.push(
      `  ${k.feature.padEnd(22)} norm=${k.norm.toFixed(3)}  w=${k.weight.toFixed(4)}  contrib=${
        k.contribution.toFixed(3)
      }  (${(100 * k.share).toFixed(1).padStart(4)}%)  raw=${k.raw === null ? "-" : Number(k.raw.toPrecision(4))}`,
    );
  }
  lines.push("");
  if (f.evidence !== undefined) lines.push(...evidenceLines(f.evidence, f.features, f.domain));
  return lines.join("\n") + "\n";
}

/** `plumbum explain --feature NAME`: one feature drilled into. */
export function featureText(f: DomainFinding, feature: string): string {
  const k = f.components.find((x) => x.feature === feature)!;
  const def = FEATURES[feature];
  const e = f.evidence;
  const lines = [
    `Domain:  ${escapeTerminal(f.domain)}`,
    `Feature: ${feature} — ${def?.description ?? ""}`,
    `  raw=${k.raw === null ? "-" : k.raw}  norm=${k.norm.toFixed(3)}  w=${k.weight}  contrib=${
      k.contribution.toFixed(3)
    }  (${(100 * k.share).toFixed(1)}% of the score)`,
    "",
  ];
  const ft = f.features;
  switch (feature) {
    case "periodicity":
      lines.push(
        `Inter-query gaps (${e.gaps.count}): mean ${fmtSecs(e.gaps.mean)}, std ${fmtSecs(e.gaps.std)}, CV ${
          ft.cv === null ? "-" : ft.cv.toFixed(3)
        }`,
      );
      lines.push(
        `  min ${fmtSecs(e.gaps.min)}  median ${fmtSecs(e.gaps.p50)}  p90 ${fmtSecs(e.gaps.p90)}  max ${
          fmtSecs(e.gaps.max)
        }`,
      );
      lines.push(`  first gaps (s): ${e.gaps.sample.slice(0, 24).map((g) => g.toFixed(3)).join(" ")}`);
      lines.push("  A low CV (regular gaps) means clockwork traffic: a beacon, or an idle tunnel polling.");
      break;
    case "entropy":
      lines.push(
        `Mean entropy ${ft.mean_entropy.toFixed(3)} bits/char over the name parts under the domain; odd characters ${
          (100 * ft.odd_char_ratio).toFixed(1)
        }%.`,
      );
      lines.push("  English-like hostnames sit near 2.5-3.5 bits/char; base32/base64/binary payloads reach 4-6.");
      for (const n of e.sample_names) lines.push(`    ${escapeTerminal(n)}`);
      break;
    case "volume":
      lines.push(`${ft.query_count} queries in ${fmtSecs(ft.duration_secs)}.`);
      lines.push(`  activity per ${e.activity.bucket_secs} s: ${e.activity.counts.join(" ")}`);
      break;
    case "length":
      lines.push(
        `Mean TXT bytes per TXT record ${ft.mean_txt_length.toFixed(1)}; mean answer payload ${
          ft.mean_answer_payload.toFixed(1)
        } bytes; answer types ${JSON.stringify(e.answer_types)}.`,
      );
      break;
    case "client_rarity":
      lines.push(`${ft.client_count} distinct client(s):`);
      for (const c of e.clients) lines.push(`    ${escapeTerminal(c.client)}  ${c.queries} queries`);
      break;
    case "subdomain_diversity":
      lines.push(
        `${ft.subdomain_count} distinct names among ${ft.query_count} queries (unique ratio ${
          ft.unique_ratio.toFixed(3)
        }).`,
      );
      for (const s of e.subzones) lines.push(`    ${escapeTerminal(s.subzone)}  ${s.queries} queries`);
      break;
    case "name_information":
      lines.push(
        `Mean name part ${ft.mean_label_length.toFixed(1)} bytes × ${ft.mean_entropy.toFixed(2)} bits/char ≈ ${
          ft.name_bits.toFixed(0)
        } bits per distinct name (longest ${ft.max_label_length}).`,
      );
      lines.push("  Hostnames carry ~10-60 bits; encoded payloads (base32/64, hex, binary) 100-1500.");
      for (const n of e.sample_names) lines.push(`    ${escapeTerminal(n)}`);
      break;
    case "payload_types": {
      lines.push(
        `${(100 * ft.payload_type_ratio).toFixed(1)}% of ${ft.query_count} queries ask for data-carrying types: ${
          JSON.stringify(e.query_types)
        }.`,
      );
      lines.push(
        `${(100 * (ft.data_answer_ratio ?? 0)).toFixed(1)}% were answered with data: a payload answer not seen before${
          (ft.address_channel ?? 0) > 0 ? ", or addresses behaving as data" : ""
        }; the higher share counts.`,
      );
      const address = addressLine(ft);
      if (address !== null) lines.push(`  ${address}.`);
      break;
    }
    case "persistence":
      lines.push(`${persistenceLine(ft)}.`);
      lines.push(
        "  Counts when it came steadily (a beacon, a polling loop, an idle tunnel keeping its session) or in volume (60+ new names a minute).",
      );
      lines.push(`  first gaps (s): ${e.gaps.sample.slice(0, 24).map((g) => g.toFixed(3)).join(" ")}`);
      break;
    case "answer_variety":
      lines.push(
        `${ft.distinct_answers} distinct payload answers in ${ft.payload_answers} answered queries (${
          (100 * ft.answer_diversity).toFixed(1)
        }% new); answer types ${JSON.stringify(e.answer_types)}.`,
      );
      for (const t of e.txt_samples) lines.push(`    TXT ${escapeTerminal(t.slice(0, 120))}`);
      break;
    case "name_uniqueness":
      lines.push(
        `${ft.subdomain_count} distinct names among ${ft.query_count} queries (${
          (100 * ft.unique_ratio).toFixed(1)
        }% new).`,
      );
      for (const l of e.lookalikes) lines.push(`  looks like ${l.class}: ${escapeTerminal(l.reason)}`);
      break;
    case "client_concentration":
      lines.push(
        `The busiest client asked ${
          (100 * ft.top_client_share).toFixed(1)
        }% of the queries; ${ft.client_count} client(s) in all:`,
      );
      for (const c of e.clients) lines.push(`    ${escapeTerminal(c.client)}  ${c.queries} queries`);
      break;
    case "capacity":
      lines.push(capacityLine(ft));
      lines.push(
        "  Compressed (deflate) sizes of what was new: an upper bound on what the channel could have carried.",
      );
      break;
    default:
      lines.push(`Raw features: ${JSON.stringify(ft)}`);
  }
  return lines.join("\n") + "\n";
}

/** `plumbum show` text: score, severity, raw features, evidence. */
export function showText(c: Colors, f: DomainFinding): string {
  const lines = header(c, f, 10, "Features:");
  for (const [k, v] of Object.entries(f.features)) {
    lines.push(`  ${k.padEnd(22)} ${v === null ? "-" : typeof v === "number" ? Number(v.toPrecision(6)) : v}`);
  }
  lines.push("");
  if (f.evidence !== undefined) lines.push(...evidenceLines(f.evidence, f.features, f.domain));
  return lines.join("\n") + "\n";
}

/**
 * Why a domain scored as it did, in one plain line (no escapes: each sink
 * escapes it as it must): severity and score, the tool when named, the
 * three largest parts of the score with their shares, queries and clients.
 */
export function explanationSummary(f: DomainFinding): string {
  const parts = [...f.components].sort((a, b) => b.contribution - a.contribution).filter((c) => c.contribution > 0)
    .slice(0, 3).map((c) => `${c.feature} ${(100 * c.share).toFixed(0)}%`);
  const n = f.features.query_count, k = f.features.client_count;
  return `${f.severity} ${roundScore(f.score).toFixed(1)}${f.tool ? `, ${f.tool.name} by its wire signature` : ""}; ${
    parts.length > 0 ? parts.join(", ") : "no feature stands out"
  }; ${n} ${n === 1 ? "query" : "queries"} from ${k} ${k === 1 ? "client" : "clients"}`;
}
