/**
 * Colours only on a terminal and never with NO_COLOR.
 *
 * @module
 */
import pc from "npm:picocolors@1.1.1";

/** Whether stdout should be coloured. */
export function colorEnabled(stream: { isTerminal(): boolean } = Deno.stdout): boolean {
  const noColor = Deno.env.get("NO_COLOR");
  return stream.isTerminal() && (noColor === undefined || noColor === "");
}

/** Colour functions, plain when colour is off. */
export type Colors = ReturnType<typeof pc.createColors>;

/** Colour functions for stdout (or a given stream). */
export function colors(stream: { isTerminal(): boolean } = Deno.stdout): Colors {
  return pc.createColors(colorEnabled(stream));
}
