/**
 * Findings for the tools a site already runs: Elastic Common Schema
 * documents for a SIEM (Filebeat/Elastic Agent, OpenSearch, Vector and
 * Splunk ingest them as they are), and a Response Policy Zone that BIND,
 * Unbound, Knot and PowerDNS load to refuse the domains.
 *
 * ECS fields used (ECS 8.x, checked against `generated/ecs/ecs_flat.yml`
 * in the tests): `@timestamp`, `message`, `ecs.version`, `event.*`,
 * `dns.question.name`, `dns.question.registered_domain`, `source.ip`,
 * `rule.*`, `threat.*`, `observer.*`, `labels`, and the custom `plumbum`
 * object (score, severity, features, components) that ECS leaves to
 * products.
 *
 * @module
 */

import type { DomainFinding } from "../analysis/analyze.ts";
import type { Severity } from "../analysis/model.ts";
import { roundScore } from "../analysis/model.ts";
import type { StreamAlert } from "../run/window_alerter.ts";
import type { RunRecord } from "../store/types.ts";
import { displayText } from "./escape.ts";
import { explanationSummary } from "./text.ts";
import { suppressedObject } from "./export.ts";
import { VERSION } from "../version.ts";

/** The ECS version the documents follow. */
const ECS_VERSION = "8.11.0";

/** ECS `event.severity`: a number, higher is worse. */
const ECS_SEVERITY: Record<Severity, number> = { LOW: 21, MEDIUM: 47, HIGH: 73, CRITICAL: 99 };

/** MITRE ATT&CK: Application Layer Protocol: DNS, and Exfiltration Over Unencrypted Non-C2 Protocol. */
const TECHNIQUES = [
  {
    id: "T1071.004",
    name: "Application Layer Protocol: DNS",
    reference: "https://attack.mitre.org/techniques/T1071/004/",
  },
  {
    id: "T1048.003",
    name: "Exfiltration Over Unencrypted Non-C2 Protocol",
    reference: "https://attack.mitre.org/techniques/T1048/003/",
  },
];

/** Where a finding was scored: the whole run, or a live window (or the stream so far). */
export interface EcsContext {
  /** The run that scored it. */
  runId: number;
  /** A live alert's span and horizon (absent: the run's finding). */
  alert?: StreamAlert;
}

/** One finding as an ECS alert document. */
export function ecsDocument(f: DomainFinding, ctx: EcsContext): Record<string, unknown> {
  const domain = displayText(f.domain);
  const summary = explanationSummary(f);
  const a = ctx.alert;
  const start = a !== undefined ? a.start : f.evidence.first_seen;
  const end = a !== undefined ? a.end : f.evidence.last_seen;
  const iso = (t: number) => Number.isFinite(t) ? new Date(t * 1000).toISOString() : undefined;
  const clients = f.evidence.clients.map((c) => displayText(c.client)).filter((c) => isIp(c));
  return {
    "@timestamp": iso(end) ?? new Date().toISOString(),
    message: `DNS tunnelling suspected under ${domain}: ${summary}`,
    ecs: { version: ECS_VERSION },
    event: {
      kind: "alert",
      category: ["network", "intrusion_detection"],
      type: ["info"],
      module: "plumbum",
      dataset: a === undefined ? "plumbum.finding" : `plumbum.${a.horizon}`,
      severity: ECS_SEVERITY[f.severity],
      risk_score: roundScore(f.score),
      start: iso(start),
      end: iso(end),
      reason: summary,
    },
    dns: {
      question: {
        name: displayText(f.evidence.sample_names[0] ?? f.domain),
        registered_domain: domain,
      },
    },
    ...(clients.length > 0 ? { source: { ip: clients[0] } } : {}),
    related: { ip: clients.slice(0, 20) },
    rule: {
      id: `plumbum-dns-tunnel-${f.is_c2 ? "c2" : "score"}`,
      name: "DNS tunnelling suspected",
      category: "DNS tunnelling",
      description:
        "A domain's DNS traffic scored as a likely tunnel; the score is a sum of named feature contributions.",
      ruleset: "plumbum",
      version: VERSION,
    },
    threat: {
      framework: "MITRE ATT&CK",
      tactic: { id: ["TA0011", "TA0010"], name: ["Command and Control", "Exfiltration"] },
      technique: {
        id: TECHNIQUES.map((t) => t.id.split(".")[0]),
        name: ["Application Layer Protocol", "Exfiltration Over Alternative Protocol"],
        subtechnique: {
          id: TECHNIQUES.map((t) => t.id),
          name: TECHNIQUES.map((t) => t.name),
          reference: TECHNIQUES.map((t) => t.reference),
        },
      },
    },
    observer: { product: "Plumbum", vendor: "Plumbum", type: "ids", version: VERSION },
    labels: { plumbum_run: String(ctx.runId), ...(f.tool ? { plumbum_tool: f.tool.name } : {}) },
    plumbum: {
      domain,
      explain: `plumbum explain ${domain} --run ${ctx.runId}`,
      score: roundScore(f.score),
      severity: f.severity,
      is_c2: f.is_c2,
      tool: f.tool?.name ?? null,
      suppressed: suppressedObject(f),
      horizon: a?.horizon ?? "run",
      window_secs: a?.windowSecs ?? null,
      query_count: f.features.query_count,
      client_count: f.features.client_count,
      clients: clients.slice(0, 20),
      components: f.components.map((c) => ({
        feature: c.feature,
        share: Math.round(c.share * 1e4) / 1e4,
        contribution: Math.round(c.contribution * 1e6) / 1e6,
      })),
    },
  };
}

/** Findings as NDJSON, one ECS document a line. */
export function exportEcs(run: RunRecord, findings: DomainFinding[]): string {
  return findings.map((f) => JSON.stringify(ecsDocument(f, { runId: run.id })) + "\n").join("");
}

function isIp(s: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(s) || /^[0-9a-f:.]+$/i.test(s) && s.includes(":");
}

/**
 * A Response Policy Zone of `findings`: each domain and everything under it
 * answered NXDOMAIN (`CNAME .`), with its explanation as a comment. The
 * zone's own name is the loader's (`zone "plumbum.rpz" { type primary;
 * file ...; }` and `response-policy { zone "plumbum.rpz"; };` in BIND),
 * so the names are written relative to it.
 */
export function exportRpz(run: RunRecord, findings: DomainFinding[], now = new Date()): string {
  const serial = Math.floor(now.getTime() / 1000);
  const lines = [
    `; Response Policy Zone from Plumbum run #${run.id} (${findings.length} domain${findings.length === 1 ? "" : "s"})`,
    `; Each domain and every name under it is answered NXDOMAIN. Reasons: plumbum explain DOMAIN --run ${run.id}`,
    "$TTL 300",
    `@ IN SOA localhost. hostmaster.localhost. ${serial} 3600 600 86400 300`,
    "@ IN NS localhost.",
  ];
  for (const f of findings) {
    const owner = zoneName(f.domain);
    if (owner === null) {
      lines.push(`; left out, not a name a zone can hold: ${commentText(displayText(f.domain))}`);
      continue;
    }
    lines.push(`; ${commentText(`${displayText(f.domain)}: ${explanationSummary(f)}`)}`);
    lines.push(`${owner} CNAME .`, `*.${owner} CNAME .`);
  }
  return lines.join("\n") + "\n";
}

/** A comment's text on one line (a line break would end the comment and start a record). */
function commentText(s: string): string {
  return s.replace(/[\x00-\x1f\x7f]/g, " ");
}

/**
 * `domain` in master-file syntax, relative (no trailing dot): each label's
 * bytes, letters, digits, hyphen and underscore as they are and any other
 * as `\DDD`; null when it cannot be a name (an empty label, a label over
 * 63 bytes, over 253 in all).
 *
 * @internal Exported for its tests.
 */
export function zoneName(domain: string): string | null {
  const name = domain.endsWith(".") ? domain.slice(0, -1) : domain;
  if (name === "" || name.length > 253) return null;
  const out: string[] = [];
  for (const label of name.split(".")) {
    // Plumbum's names hold one byte a character (as the wire had them); wider ones (a Zeek log's) as UTF-8.
    const bytes = /[^\x00-\xff]/.test(label)
      ? new TextEncoder().encode(label)
      : Uint8Array.from(label, (c) => c.charCodeAt(0));
    if (bytes.length === 0 || bytes.length > 63) return null;
    let text = "";
    for (const b of bytes) {
      const c = String.fromCharCode(b);
      text += /[A-Za-z0-9_-]/.test(c) ? c : `\\${String(b).padStart(3, "0")}`;
    }
    out.push(text);
  }
  return out.join(".");
}
