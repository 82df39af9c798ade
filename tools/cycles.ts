/**
 * No import circle among Plumbum's own modules: the module graph of the
 * entry points (`deno info --json`), type-only imports included, searched
 * for strongly connected components (Tarjan). Prints each circle and exits
 * 1 when there is one; part of `deno task check`.
 *
 *   deno run --allow-read --allow-run --allow-env tools/cycles.ts
 *
 * @module
 */

const root = new URL("../", import.meta.url);
const entries = ["cli.ts", "mcp.ts", "mod.ts"];
type Info = {
  modules: { specifier: string; dependencies?: { code?: { specifier: string }; type?: { specifier: string } }[] }[];
};
const modules: Info["modules"] = [];
for (const entry of entries) {
  const out = new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", entry],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
  }).outputSync();
  if (!out.success) {
    console.error(`deno info ${entry} failed: ${new TextDecoder().decode(out.stderr)}`);
    Deno.exit(2);
  }
  modules.push(...(JSON.parse(new TextDecoder().decode(out.stdout)) as Info).modules);
}
const own = (s: string) => s.startsWith(root.href) && !s.includes("/node_modules/");
const edges = new Map<string, string[]>();
for (const m of modules) {
  if (!own(m.specifier)) continue;
  const to = (m.dependencies ?? []).flatMap((d) => [d.code?.specifier, d.type?.specifier])
    .filter((s): s is string => s !== undefined && own(s));
  edges.set(m.specifier, [...new Set(to)]);
}
// Tarjan's strongly connected components.
let index = 0;
const idx = new Map<string, number>(),
  low = new Map<string, number>(),
  onStack = new Set<string>(),
  stack: string[] = [];
const circles: string[][] = [];
function visit(v: string): void {
  idx.set(v, index);
  low.set(v, index++);
  stack.push(v);
  onStack.add(v);
  for (const w of edges.get(v) ?? []) {
    if (!idx.has(w)) {
      visit(w);
      low.set(v, Math.min(low.get(v)!, low.get(w)!));
    } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
  }
  if (low.get(v) === idx.get(v)) {
    const scc: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      scc.push(w);
    } while (w !== v);
    if (scc.length > 1) circles.push(scc);
  }
}
for (const v of edges.keys()) if (!idx.has(v)) visit(v);
const rel = (s: string) => s.slice(root.href.length);
if (circles.length > 0) {
  for (const c of circles) console.error(`import circle: ${c.map(rel).sort().join(" ↔ ")}`);
  Deno.exit(1);
}
console.log(`no import circle among ${edges.size} modules`);
