/**
 * The `plumbum` command line.
 *
 * @module
 */
import { Command, CommanderError, Option } from "npm:commander@15.1.0";
import { VERSION } from "../version.ts";
import { err, Exit, out, parsePorts, UsageError } from "./common.ts";
import { runPlan } from "./plan.ts";
import { runValidate } from "./validate.ts";

const EXAMPLES = `
Examples:
  plumbum validate capture.pcap            what a file holds, malformed parts counted
  plumbum plan capture.pcap                dry run: domains, clients, types, time
  plumbum validate --json a.pcap b.log.gz  the same as one JSON document

Inputs are recognised by their bytes, not their names: classic PCAP (either
byte order, micro- or nanosecond), pcapng, and Zeek dns.log (TSV or JSON
lines, plain or gzip). Use - for standard input.

Exit codes: 0 success, 1 bad usage or input, 2 internal error.`;

function listOption(v: string): string[] {
  return v.split(",").map((s) => s.trim().toLowerCase().replace(/\.$/, "")).filter((s) => s !== "");
}

/** Build the program; `run` collects the chosen command's exit code. */
export function buildProgram(result: { code: number }): Command {
  const program = new Command();
  program
    .name("plumbum")
    .description("Find DNS tunnels in packet captures and Zeek logs, and explain every finding.")
    .version(VERSION, "-V, --version", "print the version")
    .showHelpAfterError("(run with --help for usage)")
    .addHelpText("after", EXAMPLES)
    .exitOverride()
    .configureOutput({ writeOut: (s) => out(s), writeErr: (s) => err(s.replace(/\n$/, "")) });

  const dnsPorts = new Option(
    "--dns-ports <ports>",
    "ports that carry plain DNS (comma-separated; 5353/5355 always decoded as mDNS/LLMNR)",
  )
    .default([53], "53")
    .argParser(parsePorts);

  program.command("validate")
    .description("parse each file and report what it holds: packets, DNS messages, transactions, malformed parts")
    .argument("<files...>", "captures or Zeek dns.log files (- for standard input)")
    .option("--json", "print one JSON document")
    .addOption(dnsPorts)
    .action(async (files: string[], o: { json?: boolean; dnsPorts: number[] }) => {
      result.code = await runValidate(files, o);
    });

  program.command("plan")
    .description("dry run: what apply would analyze (files, time span, domains, clients, record types, expected time)")
    .argument("<files...>", "captures or Zeek dns.log files (- for standard input)")
    .option("--json", "print one JSON document")
    .option("--c2-domains <suffixes>", "known C2 suffixes that win over the public-suffix grouping", listOption)
    .addOption(dnsPorts)
    .action(async (files: string[], o: { json?: boolean; dnsPorts: number[]; c2Domains?: string[] }) => {
      result.code = await runPlan(files, o);
    });

  program.command("version")
    .description("print Plumbum's, Deno's and SQLite's versions")
    .option("--json", "print JSON")
    .action(async (o: { json?: boolean }) => {
      const v = {
        plumbum: VERSION,
        deno: Deno.version.deno,
        v8: Deno.version.v8,
        typescript: Deno.version.typescript,
        sqlite: await sqliteVersion(),
      };
      out(
        o.json ? JSON.stringify(v) + "\n" : Object.entries(v).map(([k, x]) => `${k.padEnd(11)} ${x}`).join("\n") + "\n",
      );
      result.code = 0;
    });
  return program;
}

async function sqliteVersion(): Promise<string> {
  try {
    const { DatabaseSync } = await import("node:sqlite");
    const db = new DatabaseSync(":memory:");
    const row = db.prepare("select sqlite_version() as v").get() as { v: string };
    db.close();
    return row.v;
  } catch {
    return "unavailable";
  }
}

/** Run the CLI with `args`; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const result = { code: 0 };
  const program = buildProgram(result);
  try {
    await program.parseAsync(args, { from: "user" });
    return result.code;
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version exit 0; usage errors were already printed.
      return e.exitCode === 0 ? Exit.OK : Exit.USAGE;
    }
    if (e instanceof UsageError) {
      err(`plumbum: ${e.message}`);
      return Exit.USAGE;
    }
    err(`plumbum: internal error: ${(e as Error)?.stack ?? e}`);
    err("This is a bug in Plumbum; please report it with the command you ran.");
    return Exit.INTERNAL;
  }
}
