/**
 * The ECS field list the tests check Plumbum's ECS documents against, from
 * Elastic's own `generated/ecs/ecs_flat.yml` (elastic/ecs, Apache-2.0):
 * each field's type, whether it is an array, and its allowed values.
 *
 *   deno run --allow-read --allow-write --allow-env tools/ecs_fields.ts path/to/ecs_flat.yml "ECS VERSION (commit)"
 *
 * writes fixtures/ecs_fields.json.
 *
 * @module
 */
import { parse } from "npm:yaml@2.9.1";

const [path, source] = Deno.args;
if (path === undefined || source === undefined) {
  console.error('usage: tools/ecs_fields.ts ecs_flat.yml "9.5.0-dev (commit b85f757)"');
  Deno.exit(1);
}
const flat = parse(Deno.readTextFileSync(path)) as Record<
  string,
  { type: string; normalize?: string[]; allowed_values?: { name: string }[]; object_type?: string }
>;
const fields: Record<string, { type: string; array?: true; allowed?: string[] }> = {};
for (const [name, f] of Object.entries(flat).sort(([a], [b]) => a < b ? -1 : 1)) {
  fields[name] = {
    type: f.type,
    ...(f.normalize?.includes("array") ? { array: true as const } : {}),
    ...(f.allowed_values ? { allowed: f.allowed_values.map((v) => v.name) } : {}),
  };
}
const out = { source: `elastic/ecs generated/ecs/ecs_flat.yml, ${source}; Apache License 2.0`, fields };
Deno.writeTextFileSync(new URL("../fixtures/ecs_fields.json", import.meta.url), JSON.stringify(out, null, 0) + "\n");
console.error(`${Object.keys(fields).length} fields`);
