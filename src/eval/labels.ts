/**
 * Ground-truth labels for evaluation: TSV rows `file  suffix  label`, where
 * label is `tunnel:*` or `benign:*` and suffix `*` means every other domain
 * of that file is benign.
 *
 * @module
 */

/** Labels that cannot be used: a malformed row, or a capture no row names. The message says what to fix. */
export class LabelsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "LabelsError";
  }
}

/** One label row. */
export interface LabelRow {
  file: string;
  suffix: string;
  label: string;
}

/** Labels by capture file name (basename). */
export type LabelSet = Map<string, LabelRow[]>;

/** Parse a labels TSV (a header row naming file/suffix/label is skipped). */
export function parseLabels(text: string, source = "labels"): LabelSet {
  const out: LabelSet = new Map();
  const lines = text.split(/\r?\n/);
  lines.forEach((line, i) => {
    if (line.trim() === "" || line.startsWith("#")) return;
    const cells = line.split("\t");
    if (i === 0 && cells[0] === "file") return;
    if (cells.length < 3) {
      throw new LabelsError(
        `${source}:${i + 1}: expected "file<TAB>suffix<TAB>label", got ${JSON.stringify(line.slice(0, 80))}`,
      );
    }
    const [file, suffix, label] = cells;
    if (!/^(tunnel|benign)(:|$)/.test(label)) {
      throw new LabelsError(`${source}:${i + 1}: label must start with "tunnel" or "benign", got "${label}"`);
    }
    const rows = out.get(file) ?? [];
    rows.push({ file, suffix: suffix.toLowerCase().replace(/\.$/, ""), label });
    out.set(file, rows);
  });
  return out;
}

/** Merge label sets (later ones add rows). */
export function mergeLabels(sets: LabelSet[]): LabelSet {
  const out: LabelSet = new Map();
  for (const s of sets) for (const [f, rows] of s) out.set(f, [...(out.get(f) ?? []), ...rows]);
  return out;
}

const under = (a: string, b: string) => a === b || a.endsWith("." + b);

/**
 * The label of a scored (parent) domain in a file. A tunnel suffix at or
 * under the domain (a tunnel in a sub-zone) or above it makes the domain a
 * tunnel; otherwise the most specific benign suffix wins; otherwise `*`,
 * and a domain no row names is benign.
 */
export function labelFor(rows: LabelRow[], domain: string): string {
  const tunnel = rows.filter((r) =>
    r.label.startsWith("tunnel") && r.suffix !== "*" && (under(domain, r.suffix) || under(r.suffix, domain))
  );
  if (tunnel.length > 0) return tunnel.sort((a, b) => b.suffix.length - a.suffix.length)[0].label;
  const benign = rows.filter((r) => r.suffix !== "*" && (under(domain, r.suffix) || under(r.suffix, domain)));
  if (benign.length > 0) {
    // Prefer the suffix closest to the domain itself.
    return benign.sort((a, b) =>
      Math.abs(a.suffix.length - domain.length) - Math.abs(b.suffix.length - domain.length)
    )[0].label;
  }
  const star = rows.find((r) => r.suffix === "*");
  return star?.label ?? "benign";
}

/** Whether a label marks a tunnel. */
export function isTunnel(label: string): boolean {
  return label.startsWith("tunnel");
}
