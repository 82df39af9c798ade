/**
 * The `plumbum` command line.
 *
 * @module
 */
import { Command, CommanderError, Option } from "npm:commander@15.1.0";
import { VERSION } from "../version.ts";
import { escapeTerminal } from "../present/escape.ts";
import { err, Exit, out, parsePorts, UsageError } from "./common.ts";

/**
 * Each command's module, loaded when its command runs: a light command
 * (`validate`, `show`) does not load the analysis, the stream or the
 * evaluation (startup 0.34 s → 0.15 s for `validate`).
 */
const analyst = () => import("./analyst.ts");
const evaluation = () => import("./eval.ts");
const planning = () => import("./plan.ts");
const validation = () => import("./validate.ts");
const streaming = () => import("./stream.ts");
const dashboardCommand = () => import("./dashboard.ts");

const EXAMPLES = `
Examples:
  plumbum init                             create .plumbum/ (config.hcl, plumbum.db)
  plumbum validate capture.pcap            what a file holds, malformed parts counted
  plumbum plan capture.pcap                dry run: domains, clients, types, time
  plumbum apply capture.pcap --c2-domains evil.tk
                                           score every parent domain, store the run
  plumbum explain evil.tk                  where every point of a score comes from
  plumbum export --format sigma -o rule.yml
  plumbum runs                             earlier runs; --run N reads one of them
  plumbum dashboard                        a terminal UI: findings, explanations, runs
  sudo plumbum stream -i eth0              live: an NDJSON alert per tunnel per window

Inputs are recognised by their bytes, not their names: classic PCAP (either
byte order, micro- or nanosecond), pcapng, and Zeek dns.log (TSV or JSON
lines, plain or gzip). Use - for standard input.

Exit codes: 0 success, 1 bad usage or input, 2 internal error.`;

function listOption(v: string): string[] {
  return v.split(",").map((s) => s.trim().toLowerCase().replace(/\.$/, "")).filter((s) => s !== "");
}

/** Build the program; `run` collects the chosen command's exit code. */
function buildProgram(result: { code: number }): Command {
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

  const applyPorts = () =>
    new Option("--dns-ports <ports>", "ports that carry plain DNS (default from config.hcl, else 53)").argParser(
      parsePorts,
    );
  const dirOpt = () => new Option("--dir <path>", "workspace folder (default .plumbum, or $PLUMBUM_DIR)");
  const runOpt = () =>
    new Option("--run <n>", "read run N instead of the latest complete one").argParser((v: string) => {
      const n = Number(v);
      // Past 2^53 a number is not itself: 9007199254740993 would read run 9007199254740992.
      if (!/^\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < 1) {
        throw new UsageError(`--run: "${escapeTerminal(v)}" is not a run number (plumbum runs lists them)`);
      }
      return n;
    });
  const c2Opt = () =>
    new Option(
      "--c2-domains <suffixes>",
      "known C2 suffixes (comma-separated) that win over the public-suffix grouping",
    ).argParser(listOption);

  const collect = (v: string, prev: string[]) => [...prev, v];
  const numOpt = (name: string, min: number) => (v: string) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min || v.trim() === "") {
      throw new UsageError(`${name}: "${v}" is not a number ≥ ${min}`);
    }
    return n;
  };
  const intOpt = (name: string, min: number) => (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new UsageError(`${name}: "${v}" is not a whole number ≥ ${min}`);
    return n;
  };
  const jobsOpt = (what: string, when?: string) =>
    new Option(
      "--jobs <n>",
      `${what} (default: the machine's cores${when === undefined ? "" : ` for ${when}, else 1`})`,
    ).argParser(intOpt("--jobs", 1));

  program.command("validate")
    .description("parse each file and report what it holds: packets, DNS messages, transactions, malformed parts")
    .argument("<files...>", "captures, dnstap or Zeek dns.log files (- for standard input)")
    .option("--json", "print one JSON document")
    .addOption(dnsPorts)
    .addOption(jobsOpt("files read side by side, a thread each"))
    .action(async (files: string[], o: { json?: boolean; dnsPorts: number[]; jobs?: number }) => {
      result.code = await (await validation()).runValidate(files, o);
    });

  program.command("plan")
    .description(
      "dry run: what apply would analyze (files, time span, domains, distinct names, clients, record types, expected time)",
    )
    .argument("<files...>", "captures, dnstap or Zeek dns.log files (- for standard input)")
    .option("--json", "print one JSON document")
    .addOption(c2Opt())
    .addOption(dnsPorts)
    .action(async (files: string[], o: { json?: boolean; dnsPorts: number[]; c2Domains?: string[] }) => {
      result.code = await (await planning()).runPlan(files, o);
    });

  program.command("init")
    .description("create the workspace: config.hcl with every setting commented, and plumbum.db")
    .option("--force", "rewrite config.hcl with defaults even if it was edited")
    .addOption(dirOpt())
    .action(async (o: { force?: boolean; dir?: string }) => {
      result.code = await (await analyst()).runInit(o);
    });

  program.command("apply")
    .description("ingest, score every parent domain, store the run, print the findings")
    .argument("<files...>", "captures, dnstap or Zeek dns.log files (- for standard input)")
    .addOption(c2Opt())
    .option(
      "--weights <preset>",
      "weight preset: tunnel (the default), regularized, default, optimized (overrides config.hcl)",
    )
    .option("--json", "print the export JSON document instead of the table")
    .option("--all", "list LOW domains too")
    .option("--include-suppressed", "list the domains config.hcl's allow-list suppressed too")
    .addOption(applyPorts())
    .addOption(dirOpt())
    .action(async (files: string[], o) => {
      result.code = await (await analyst()).runApply(files, o);
    });

  program.command("show")
    .description("a domain's score, severity, raw features and evidence")
    .argument("<domain>", "a scored parent domain")
    .option("--json", "print JSON")
    .addOption(runOpt())
    .addOption(dirOpt())
    .action(async (domain: string, o) => {
      result.code = (await analyst()).runShow(domain, o);
    });

  program.command("explain")
    .description(
      "the score taken apart: each feature's raw and normalized value, weight, contribution and share, then the evidence",
    )
    .argument("<domain>", "a scored parent domain")
    .option(
      "--feature <name>",
      "drill into one feature (e.g. answer_variety shows the distinct answers and TXT samples behind it)",
    )
    .option("--json", "print the domain's export object plus its evidence")
    .addOption(runOpt())
    .addOption(dirOpt())
    .action(async (domain: string, o) => {
      result.code = (await analyst()).runExplain(domain, o);
    });

  program.command("export")
    .description("write the findings as JSON, CSV, a Sigma rule, ECS documents for a SIEM, or a Response Policy Zone")
    .addOption(
      new Option(
        "--format <format>",
        "json, csv, sigma, ecs (NDJSON, Elastic Common Schema) or rpz (a zone that answers the domains NXDOMAIN)",
      ).default("json"),
    )
    .option("-o, --output <file>", "write to FILE (- for stdout, the default)")
    .option(
      "--min-severity <level>",
      "only domains at this severity or above (LOW, MEDIUM, HIGH, CRITICAL; Sigma defaults to MEDIUM, rpz to HIGH)",
    )
    .option("--include-suppressed", "include the domains config.hcl's allow-list suppressed (marked so)")
    .addOption(runOpt())
    .addOption(dirOpt())
    .action(async (o) => {
      result.code = (await analyst()).runExport(o);
    });

  program.command("carve")
    .description("a finding's packets and the data its names and answers carried, decoded")
    .argument("<domain>", "a scored domain (as Plumbum shows it)")
    .option("-o, --output <dir>", "the folder to write (default: carve-DOMAIN)")
    .option("--client <address>", "only this client")
    .option("--no-pcap", "do not write the domain's packets")
    .option("--force", "write into an existing folder that is not empty")
    .option("--json", "print carve.json")
    .addOption(runOpt())
    .addOption(dirOpt())
    .addHelpText(
      "after",
      `
Reads the run's sources again (a source gone or changed since the run is said)
and writes into the folder:
  DOMAIN.pcap                 every packet of the domain
  upstream-CLIENT.bin         what the client's query names carried, decoded
  downstream-CLIENT.bin       what the answers carried
  carve.json                  how it was decoded, sizes, SHA-256, what it looks like
Encodings: hex, base32, base64, base64url; framings: DNSExfiltrator (init. header,
numbered chunks), dnscat2 (packets by sequence number); otherwise the names' data
in query order, said so. Carving never changes a score.

  plumbum carve evil.example -o /tmp/evil
  plumbum carve evil.example --client 10.0.0.5 --json`,
    )
    .action(async (domain: string, o) => {
      result.code = await (await analyst()).runCarve(domain, o);
    });

  program.command("report")
    .description("write one self-contained HTML page of a run: summary, every domain, each finding taken apart")
    .option("-o, --output <file>", "the page to write (- for stdout)")
    .option(
      "--min-severity <level>",
      "write findings out in full from this severity up (LOW, MEDIUM, HIGH, CRITICAL; default MEDIUM)",
    )
    .addOption(runOpt())
    .addOption(dirOpt())
    .addHelpText(
      "after",
      `
The page holds everything it shows (styles, charts, data): it opens from disk in any
browser, offline, and a Content-Security-Policy lets no request leave it. Names from
traffic are escaped. Each finding prints as its own page.

  plumbum report -o report.html
  plumbum report --run 3 --min-severity HIGH -o incident-42.html`,
    )
    .action(async (o) => {
      result.code = (await analyst()).runReport(o);
    });

  program.command("runs")
    .description("list runs: complete, failed and interrupted")
    .option("--json", "print JSON")
    .addOption(dirOpt())
    .action(async (o) => {
      result.code = (await analyst()).runRuns(o);
    });

  program.command("eval")
    .description(
      "detection quality on labeled captures: per-domain scores, recall, false positives, ROC AUC, and why the wrong ones are wrong",
    )
    .argument("[captures...]", "labeled captures (default: every file the labels name, beside the labels file)")
    .option(
      "--labels <file>",
      "labels TSV: file, suffix, label (tunnel:* or benign:*; suffix * = every other domain); repeatable",
      collect,
      [],
    )
    .option("--weights <preset>", "weight preset to evaluate (default from config.hcl)")
    .option("--all", "list every domain, not only labeled and wrong ones")
    .addOption(
      new Option(
        "--window <secs>",
        "replay each capture in tumbling windows of SECS seconds, as stream does: per-window recall, false alarms, time to detect",
      ).argParser(numOpt("--window", 0.001)),
    )
    .option("--json", "print the evaluation document")
    .addOption(
      jobsOpt("captures read side by side, a thread each; the figures are the same", "captures of 256 MB and more"),
    )
    .addOption(c2Opt())
    .addOption(applyPorts())
    .addOption(dirOpt())
    .action(async (captures: string[], o) => {
      result.code = await (await evaluation()).runEval(captures, o);
    });

  program.command("tune")
    .description(
      "simulated annealing over the weights on labeled captures, with k-fold cross-validation; prints an HCL block for config.hcl",
    )
    .argument("[captures...]", "labeled captures (default: every file the labels name)")
    .option("--labels <file>", "labels TSV (repeatable)", collect, [])
    .option("--weights <preset>", "preset whose features (and starting weights) to tune")
    .addOption(
      new Option("--seed <n>", "random seed (same seed, same result)").default(1).argParser(intOpt("--seed", 0)),
    )
    .addOption(new Option("--folds <k>", "cross-validation folds").default(5).argParser(intOpt("--folds", 2)))
    .addOption(
      new Option("--iterations <n>", "annealing steps per fold").default(600).argParser(intOpt("--iterations", 1)),
    )
    .option("--json", "print JSON")
    .addOption(
      jobsOpt("captures read side by side, a thread each; the result is the same", "captures of 256 MB and more"),
    )
    .addOption(c2Opt())
    .addOption(applyPorts())
    .addOption(dirOpt())
    .action(async (captures: string[], o) => {
      result.code = await (await evaluation()).runTune(captures, o);
    });

  program.command("dashboard")
    .description(
      "a navigable terminal UI over the workspace's runs: findings, explanations, evidence; live while a stream runs",
    )
    .addOption(dirOpt())
    .addHelpText(
      "after",
      `
Keys: arrows or j/k move, PgUp/PgDn, Home/End, Enter explains the selected
domain, Esc goes back, / filters by text, f sets a severity floor, s sorts
(score, queries, capacity, name), r lists runs, ? shows help, q quits.
It needs a terminal; for scripts use show, explain and export.`,
    )
    .action(async (o: { dir?: string }) => {
      result.code = await (await dashboardCommand()).runDashboard(o);
    });

  program.command("stream")
    .description(
      "live capture (libpcap) or a capture replayed as if live: windows scored as they close, one NDJSON alert per domain at or over the threshold, the run stored",
    )
    .option("-i, --interface <name>", "interface to capture on (any: all of them on Linux)")
    .option("--list-interfaces", "list the interfaces libpcap can open, and exit")
    .option("--read <file>", "replay a capture (pcap, pcapng, gzip) through the live path instead; needs no privileges")
    .option("--speed <speed>", "with --read: max, realtime, or a multiple of real time", "max")
    .option(
      "--follow <log>",
      "follow a growing Zeek dns.log or BIND/Unbound query log instead, through rotation (windows on its own times)",
    )
    .option(
      "--dnstap <address>",
      "listen for resolvers' dnstap instead (unix:/path.sock or tcp:HOST:PORT): the real client behind the resolver",
    )
    .addOption(
      new Option("--window <secs>", "window length in seconds").default(60).argParser(numOpt("--window", 0.001)),
    )
    .addOption(
      new Option("--threshold <score>", "alert at this window score or more (0-100)").default(40).argParser(
        numOpt("--threshold", 0),
      ),
    )
    .option("--filter <expr>", "BPF filter instead of the default (the DNS ports over UDP and TCP, fragments, VLANs)")
    .addOption(
      new Option("--snaplen <bytes>", "bytes kept per packet").default(65535).argParser(intOpt("--snaplen", 64)),
    )
    .option("--no-promisc", "do not put the interface in promiscuous mode")
    .addOption(
      new Option("--buffer-size <bytes>", "kernel capture buffer (bytes)").default(32 << 20).argParser(
        intOpt("--buffer-size", 0),
      ),
    )
    .addOption(
      new Option("--duration <secs>", "stop after this many seconds").default(0).argParser(numOpt("--duration", 0)),
    )
    .addOption(
      new Option(
        "--count <n>",
        "stop after this many packets (a log's DNS lines with --follow, messages with --dnstap)",
      )
        .default(0).argParser(intOpt("--count", 0)),
    )
    .option("--save <file>", "also write every captured packet to a pcap file (for a later apply)")
    .addOption(
      new Option("--store-limit <n>", "transactions stored per window at most (the rest are counted)").default(200000)
        .argParser(intOpt("--store-limit", 0)),
    )
    .addOption(
      new Option("--retain <windows>", "keep stored transactions of the last N windows only (0: all)").default(0)
        .argParser(intOpt("--retain", 0)),
    )
    .option("--format <format>", "alert lines: plumbum (the fields below) or ecs (Elastic Common Schema)", "plumbum")
    .option("--include-suppressed", "alert for domains config.hcl's allow-list suppressed too (marked so)")
    .option("-q, --quiet", "no status on stderr (alerts only)")
    .option("--tui", "show the dashboard over the live run instead of NDJSON (q stops the stream)")
    .option("--json", "with --list-interfaces: print JSON")
    .option("--weights <preset>", "weight preset (default from config.hcl)")
    .addOption(c2Opt())
    .addOption(applyPorts())
    .addOption(dirOpt())
    .addHelpText(
      "after",
      `
Alerts go to stdout, one JSON object per line: horizon, domain, score,
severity, query_count, client_count, subdomain_count, mean_entropy, cv,
mean_txt_length, window_secs, is_c2, window_start, window_end, components
and evidence. horizon "window" scores one window; "stream" scores the
stream from its start, checked at each window's close, and alerts once for
a domain no single window showed (a channel too slow for one window).
Status goes to stderr. Ctrl-C (or SIGTERM) closes the open window, stores
the run and exits 0; a second Ctrl-C quits at once.

Capturing needs root, or CAP_NET_RAW and CAP_NET_ADMIN on the executable:
  sudo setcap cap_net_raw,cap_net_admin=eip "$(command -v plumbum)"

Examples:
  sudo plumbum stream -i eth0 --window 60 --threshold 40
  plumbum stream --list-interfaces
  sudo plumbum stream -i any | jq 'select(.severity == "CRITICAL")'
  plumbum stream --read capture.pcap --speed 10 --window 30
  plumbum stream --dnstap unix:/run/plumbum/dnstap.sock --window 60
  plumbum stream --follow /opt/zeek/logs/current/dns.log

With --dnstap, point the resolver at the socket (BIND: dnstap { client; };
dnstap-output unix "/run/plumbum/dnstap.sock"; Unbound: dnstap-enable: yes,
dnstap-socket-path, dnstap-log-client-query-messages and
dnstap-log-client-response-messages: yes). The resolver's own upstream
messages are counted and left out: the clients are the ones asking it.`,
    )
    .action(async (o) => {
      result.code = await (await streaming()).runStream(o);
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

/**
 * A permission Deno was not given, as one sentence with the flag to add
 * (the README's Permissions table says what each command needs); null
 * when `e` is something else.
 */
function permissionProblem(e: unknown): string | null {
  if (!(e instanceof Deno.errors.NotCapable)) return null;
  const m = /Requires (\w+) access(?: to (.*?))?, (?:run again with|specify) the (--allow-[\w-]+) flag/.exec(e.message);
  if (m === null) return `Deno refused a permission (${e.message}): grant it, as the README's Permissions table says`;
  return `Deno was not given ${m[1]} access${
    m[2] === undefined ? "" : ` (to ${escapeTerminal(m[2])})`
  }: run again with ${m[3]} (the README's Permissions table lists what each command needs)`;
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
    // Whoever read stdout has gone (`| head`): nothing more to say.
    if (e instanceof Deno.errors.BrokenPipe) return Exit.OK;
    const denied = permissionProblem(e);
    if (denied !== null) {
      err(`plumbum: ${denied}`);
      return Exit.USAGE;
    }
    err(`plumbum: internal error: ${(e as Error)?.stack ?? e}`);
    err("This is a bug in Plumbum; please report it with the command you ran.");
    return Exit.INTERNAL;
  }
}
