/**
 * Colours only on a terminal and never with NO_COLOR.
 *
 * @module
 */
import type pcModule from "npm:picocolors@1.1.1";
import { envVar } from "../env.ts";

/** Colour functions, plain when colour is off. */
export type Colors = ReturnType<typeof pcModule.createColors>;

// picocolors reads the environment when loaded: a reader run without --allow-env prints plain text.
const pc: typeof pcModule | null = Deno.permissions.querySync({ name: "env" }).state === "granted"
  ? (await import("npm:picocolors@1.1.1")).default
  : null;

/** Every colour function as the identity (what picocolors gives with colour off). */
const plain = new Proxy({}, {
  get: (_, key) => key === "isColorSupported" ? false : (s: unknown) => String(s),
}) as Colors;

/** Whether stdout should be coloured. */
function colorEnabled(stream: { isTerminal(): boolean } = Deno.stdout): boolean {
  const noColor = envVar("NO_COLOR");
  return pc !== null && stream.isTerminal() && (noColor === undefined || noColor === "");
}

/** Colour functions for stdout (or a given stream). */
export function colors(stream: { isTerminal(): boolean } = Deno.stdout): Colors {
  return pc === null ? plain : pc.createColors(colorEnabled(stream));
}
