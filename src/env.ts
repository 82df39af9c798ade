/**
 * Environment variables read only where Deno grants them: a reader run
 * with `--allow-read` alone (no `--allow-env`) treats an unreadable
 * variable as unset instead of failing.
 *
 * @module
 */

/** The value of `name`, or undefined when unset or not readable under the granted permissions. */
export function envVar(name: string): string | undefined {
  if (Deno.permissions.querySync({ name: "env", variable: name }).state !== "granted") return undefined;
  return Deno.env.get(name);
}
