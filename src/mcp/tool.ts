/**
 * A tool of the MCP server, as each file in `tools/` defines it and the
 * server registers it: the arguments' schema drives both the SDK's parsing
 * and the server's check of a call before it runs.
 *
 * @module
 */

import type { z } from "npm:zod@4.6.7";
import type { Args, ToolResult } from "./answer.ts";
import type { Workspace } from "./workspace.ts";

/** One tool: its name, what a client is told of it, its arguments and its answer. */
export interface ToolDef<S extends z.ZodRawShape> {
  name: string;
  title: string;
  description: string;
  /** Its arguments (checked before it runs: a bad one is a protocol error). */
  input: S;
  /** Its structured answer. */
  output: z.ZodRawShape;
  /** Answer `a` from the workspace `ws`. */
  run(ws: Workspace, a: Args<S>): ToolResult | Promise<ToolResult>;
}

/** A tool of any arguments, as the server registers it. */
export type Tool = ToolDef<z.ZodRawShape>;

/** `t`, its arguments' type kept inside it. */
export function defineTool<S extends z.ZodRawShape>(t: ToolDef<S>): Tool {
  return t as unknown as Tool;
}
