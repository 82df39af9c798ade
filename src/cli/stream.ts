/**
 * `plumbum stream`: live capture (or a file read as if live), one NDJSON
 * alert per domain per window on stdout, status on stderr, the run stored.
 *
 * @module
 */

import { colors } from "../present/colors.ts";
import { escapeTerminal } from "../present/escape.ts";
import {
  type InterfaceInfo,
  LibpcapMissingError,
  libVersion,
  listInterfaces,
  openLibpcap,
} from "../ingest/live/libpcap.ts";
import { SourceError } from "../ingest/live/source.ts";
import { alertObject } from "../present/export.ts";
import { ecsDocument } from "../present/siem.ts";
import { type StreamAlert, StreamRun, type StreamSource, type StreamStatus } from "../run/stream.ts";
import { checkInput, InputError } from "../ingest/source.ts";
import { err, out, UsageError } from "./common.ts";
import { productionReact } from "./dashboard.ts";
import { envVar } from "../env.ts";
import { ResultsReader } from "../store/reader.ts";
import { parseDnstapListen } from "../ingest/live/dnstap_source.ts";
import { noteExpired, prepareRun } from "./analyst.ts";
import { checkOutputFile, openStore, ownFiles, storeProblem } from "./workspace.ts";

/** Options of `plumbum stream`. */
export interface StreamCliOptions {
  interface?: string;
  listInterfaces?: boolean;
  read?: string;
  dnstap?: string;
  follow?: string;
  includeSuppressed?: boolean;
  format: string;
  speed: string;
  window: number;
  threshold: number;
  filter?: string;
  snaplen: number;
  promisc: boolean;
  bufferSize: number;
  duration: number;
  count: number;
  save?: string;
  storeLimit: number;
  retain: number;
  tui?: boolean;
  quiet?: boolean;
  json?: boolean;
  weights?: string;
  c2Domains?: string[];
  dnsPorts?: number[];
  dir?: string;
}

/** The `setcap` line that lets a binary capture without root. */
function setcapLine(): string {
  return `sudo setcap cap_net_raw,cap_net_admin=eip ${Deno.execPath()}`;
}

/** libpcap opened, or the sentence that says what to do. */
function libpcap(): ReturnType<typeof openLibpcap> {
  try {
    return openLibpcap();
  } catch (e) {
    if (e instanceof LibpcapMissingError) throw new UsageError(e.message);
    if (e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied) {
      throw new UsageError(
        "live capture loads libpcap through FFI: run Deno with --allow-ffi (deno task stream, or the compiled plumbum, grant it)",
      );
    }
    throw e;
  }
}

function interfaceLine(i: InterfaceInfo): string {
  const flags = [
    i.up ? "up" : "down",
    i.running ? "running" : "",
    i.loopback ? "loopback" : "",
    i.wireless ? "wireless" : "",
  ]
    .filter((f) => f !== "").join(",");
  const desc = i.description === null ? "" : `  ${escapeTerminal(i.description)}`;
  return `${escapeTerminal(i.name).padEnd(16)} ${flags.padEnd(20)} ${i.addresses.join(" ") || "-"}${desc}`;
}

/** `plumbum stream --list-interfaces`. */
function runList(o: StreamCliOptions): number {
  const { lib, path } = libpcap();
  try {
    const list = listInterfaces(lib.symbols);
    if (o.json) out(JSON.stringify({ library: path, version: libVersion(lib.symbols), interfaces: list }) + "\n");
    else {
      out(`${"interface".padEnd(16)} ${"flags".padEnd(20)} addresses\n`);
      for (const i of list) out(interfaceLine(i) + "\n");
      if (list.length === 0) out("(none: libpcap lists only the interfaces this user may open; try with sudo)\n");
    }
    return 0;
  } catch (e) {
    throw new UsageError((e as Error).message);
  } finally {
    lib.close();
  }
}

/** Interface names libpcap lists, for an error message ([] when it cannot list them). */
function knownInterfaces(): string[] {
  try {
    const { lib } = openLibpcap();
    try {
      return listInterfaces(lib.symbols).map((i) => i.name);
    } finally {
      lib.close();
    }
  } catch {
    return [];
  }
}

/** A source error as the sentence that says what to do. */
function sourceMessage(e: SourceError, o: StreamCliOptions): string {
  if (o.dnstap !== undefined || o.follow !== undefined) return escapeTerminal(e.message);
  const dev = escapeTerminal(o.interface ?? "");
  switch (e.kind) {
    case "no-device": {
      const known = knownInterfaces();
      return `there is no interface "${dev}"${
        known.length > 0 ? `; there are: ${known.map(escapeTerminal).join(", ")}` : ""
      } (plumbum stream --list-interfaces)`;
    }
    case "permission":
      return `capturing on ${dev} needs root or CAP_NET_RAW and CAP_NET_ADMIN (${
        escapeTerminal(e.message)
      }): run with sudo, or grant them once with \`${setcapLine()}\`; without privileges, --read FILE replays a capture`;
    case "not-up":
      return `${dev} is down: bring it up (ip link set ${dev} up) or pick another interface`;
    case "filter":
      return `--filter: libpcap cannot use "${escapeTerminal(o.filter ?? "")}": ${escapeTerminal(e.message)}`;
    case "file":
      return escapeTerminal(e.message);
    default:
      return `capture on ${dev} failed: ${escapeTerminal(e.message)}`;
  }
}

/** `--speed`: max, realtime or a multiple of real time. */
function parseSpeed(v: string): number {
  if (v === "max") return 0;
  if (v === "realtime") return 1;
  const n = Number(v);
  if (!(n > 0) || !Number.isFinite(n)) {
    throw new UsageError(`--speed: "${escapeTerminal(v)}" is not max, realtime or a positive multiple (e.g. 10)`);
  }
  return n;
}

/** The status line: totals, and rates since the line before. */
class StatusLine {
  #packets = 0;
  #transactions = 0;
  #at = performance.now();

  constructor(readonly label: string, readonly unit = "packets") {}

  text(s: StreamStatus): string {
    const now = performance.now();
    const secs = (now - this.#at) / 1000;
    const rate = (n: number) => (secs > 0 ? Math.round(n / secs) : 0).toLocaleString("en-US");
    const packets = rate(s.packets - this.#packets), dns = rate(s.transactions - this.#transactions);
    [this.#packets, this.#transactions, this.#at] = [s.packets, s.transactions, now];
    const c = s.counters;
    const drops = c === null ? "" : ` · drops ${c.dropped}${c.ifDropped > 0 ? `+${c.ifDropped}` : ""}`;
    return `${this.label} · ${s.packets.toLocaleString("en-US")} ${this.unit} (${packets}/s) · ${
      s.transactions.toLocaleString("en-US")
    } DNS (${dns}/s)${drops}${
      s.malformed > 0 ? ` · ${s.malformed.toLocaleString("en-US")} malformed` : ""
    } · ${s.domains} domains · ${s.windows} windows · ${s.alerts} alerts`;
  }
}

/**
 * `stream --tui`: the dashboard over the workspace while the stream writes
 * it, with the capture's figures in its header; quitting it stops the
 * stream (the open window closes and the run completes).
 */
async function streamDashboard(
  run: StreamRun,
  running: Promise<unknown>,
  opened: Promise<number>,
  dbPath: string,
  dir: string,
): Promise<void> {
  // Until the source is open there is nothing to show; a source that cannot open ends the run with its error.
  const started = await Promise.race([opened, running.then(() => null, () => null)]);
  if (started === null) return;
  const { showDashboard } = await import("../dashboard/run.tsx");
  const reader = ResultsReader.open(dbPath);
  let last = { at: performance.now(), packets: 0, transactions: 0 };
  let figures = { packetsPerSec: 0, dnsPerSec: 0 };
  try {
    await showDashboard(reader, {
      workspace: dir,
      color: envVar("NO_COLOR") === undefined,
      pollMs: 500,
      live: () => {
        const s = run.status();
        const now = performance.now();
        if (now - last.at >= 1000) {
          const secs = (now - last.at) / 1000;
          figures = {
            packetsPerSec: (s.packets - last.packets) / secs,
            dnsPerSec: (s.transactions - last.transactions) / secs,
          };
          last = { at: now, packets: s.packets, transactions: s.transactions };
        }
        return { ...figures, dropped: s.counters?.dropped ?? null, windows: s.windows, alerts: s.alerts };
      },
    });
  } finally {
    // showDashboard closed the reader.
    run.stop();
  }
}

/** `plumbum stream`. */
export async function runStream(o: StreamCliOptions): Promise<number> {
  if (o.listInterfaces) return runList(o);
  if ([o.interface, o.read, o.dnstap, o.follow].filter((x) => x !== undefined).length !== 1) {
    throw new UsageError(
      "say where DNS comes from, once: -i INTERFACE to capture (plumbum stream --list-interfaces), --read FILE to replay a capture, --dnstap unix:/path.sock (or tcp:HOST:PORT) for a resolver's dnstap, or --follow LOG for a growing Zeek or resolver log",
    );
  }
  if (o.interface === undefined && o.save !== undefined) {
    throw new UsageError("--save goes with -i (a --read file is saved already; dnstap is the resolver's own log)");
  }
  const format = o.format.toLowerCase();
  if (format !== "plumbum" && format !== "ecs") {
    throw new UsageError(`--format must be plumbum or ecs, not "${escapeTerminal(o.format)}"`);
  }
  const ecs = format === "ecs";
  const dnstapAt = o.dnstap === undefined ? null : parseDnstapListen(o.dnstap);
  if (typeof dnstapAt === "string") throw new UsageError(`--dnstap: ${escapeTerminal(dnstapAt)}`);
  if (o.read === undefined && o.speed !== "max") throw new UsageError("--speed goes with --read");
  const speed = parseSpeed(o.speed);
  if (!(o.threshold >= 0 && o.threshold <= 100)) throw new UsageError("--threshold: a score from 0 to 100");
  const { ws, cfg, model, c2Domains, dnsPorts, resolvers, allow } = await prepareRun(o);
  noteExpired(allow ?? []);
  // Said before a run is recorded; the capture thread proves it again on the file it opens.
  if (o.save !== undefined) checkOutputFile(o.save, ws, "--save", "the capture");
  let source: StreamSource;
  if (o.read !== undefined) {
    try {
      checkInput(o.read);
    } catch (e) {
      if (e instanceof InputError) throw new UsageError(escapeTerminal(e.message));
      throw e;
    }
    source = { kind: "file", settings: { path: o.read, speed, count: o.count } };
  } else if (o.dnstap !== undefined) {
    source = { kind: "dnstap", settings: { listen: o.dnstap, count: o.count } };
  } else if (o.follow !== undefined) {
    source = { kind: "follow", settings: { path: o.follow, count: o.count } };
  } else {
    const { lib, path } = libpcap();
    lib.close();
    source = {
      kind: "capture",
      settings: {
        library: path,
        device: o.interface!,
        filter: o.filter ?? null,
        dnsPorts,
        snaplen: o.snaplen,
        promisc: o.promisc,
        bufferBytes: o.bufferSize,
        count: o.count,
        save: o.save ?? null,
        saveShown: escapeTerminal(o.save ?? ""),
        protect: ownFiles(ws),
      },
    };
  }
  if (o.tui) {
    productionReact();
    const { terminalProblem } = await import("../dashboard/run.tsx");
    const why = terminalProblem(envVar("TERM"));
    if (why !== null) {
      throw new UsageError(`--tui needs a terminal (${why}): without it, stream prints NDJSON alerts for pipes`);
    }
  }
  // The screen is the dashboard's with --tui: no alerts, status or window lines on it.
  const quiet = o.quiet || o.tui === true;
  const tty = Deno.stderr.isTerminal() && !quiet;
  const label = o.read !== undefined
    ? `replaying ${escapeTerminal(o.read)}`
    : o.dnstap !== undefined
    ? `listening for dnstap on ${escapeTerminal(o.dnstap)}`
    : o.follow !== undefined
    ? `following ${escapeTerminal(o.follow)}`
    : `capturing on ${escapeTerminal(o.interface!)}`;
  const unit = o.dnstap !== undefined ? "dnstap messages" : o.follow !== undefined ? "lines" : "packets";
  const store = openStore(ws);
  const started = performance.now();
  const secs = () => (performance.now() - started) / 1000;
  const encoder = new TextEncoder();
  const status = new StatusLine(label, unit);
  let readerGone = false;
  let alertsLost: Error | null = null;
  let ready: (runId: number) => void = () => {};
  /** The run's number, once the source is open (ECS alerts name it). */
  let runId = 0;
  const opened = new Promise<number>((resolve) => ready = resolve);
  const run = new StreamRun(store, {
    model,
    c2Domains,
    dnsPorts,
    resolvers,
    allow,
    source,
    windowSecs: o.window,
    threshold: o.threshold,
    storeTransactions: cfg.storeTransactions,
    storeLimit: o.storeLimit,
    durationSecs: o.duration,
    retainWindows: o.retain,
    includeSuppressed: o.includeSuppressed,
    onAlert(a: StreamAlert) {
      if (readerGone || o.tui) return;
      try {
        // Written whole and at once: a reader of the pipe sees each alert as its window closes.
        out(JSON.stringify(ecs ? ecsDocument(a.finding, { runId, alert: a }) : alertObject(a)) + "\n");
      } catch (e) {
        // Whoever read the alerts has gone (`| head`), or they cannot be written (a full disk): stop as on
        // Ctrl-C, store the run, and say so when it was not the reader's choice.
        readerGone = true;
        if (!(e instanceof Deno.errors.BrokenPipe)) alertsLost = e as Error;
        run.stop();
      }
    },
    onWindow(w) {
      if (quiet || tty) return;
      err(
        `window ${w.index} ${w.start} – ${w.end}: ${w.transactions} DNS transactions${
          w.late > 0 ? ` (${w.late} late)` : ""
        }, ${w.domains} domains, ${w.alerts} alerts · ${status.text(run.status())}`,
      );
    },
    onReady(r) {
      runId = r.runId;
      ready(r.runId);
      if (quiet) return;
      if (r.warning !== null) err(`plumbum: warning from libpcap: ${escapeTerminal(r.warning)}`);
      err(
        `${label}${
          r.filter !== null ? ` (filter: ${r.filter})` : ""
        }: run #${r.runId}, windows of ${o.window} s, alerts at ${o.threshold}+ on stdout; Ctrl-C stops`,
      );
    },
  });
  let interrupts = 0;
  const onSignal = () => {
    if (++interrupts === 1) {
      if (!quiet) err(`${tty ? "\n" : ""}stopping: closing the open window (Ctrl-C again to quit at once)`);
      run.stop();
    } else {
      run.kill();
      err("plumbum: stopped at once; the open window is lost (closed windows are stored)");
      Deno.exit(130);
    }
  };
  const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
  for (const s of signals) Deno.addSignalListener(s, onSignal);
  const ticker = tty
    ? setInterval(
      () => Deno.stderr.writeSync(encoder.encode(`\r\x1b[2K${status.text(run.status())}`)),
      1000,
    )
    : undefined;
  try {
    const running = run.run();
    if (o.tui) await streamDashboard(run, running, opened, ws.dbPath, ws.dir);
    const result = await running;
    if (tty) Deno.stderr.writeSync(encoder.encode("\r\x1b[2K"));
    const s = result.status;
    if (!o.quiet || result.error !== null) {
      const c = s.counters;
      err(
        `${
          result.error === null ? "Stored" : "Failed;"
        } run #${result.run.id}: ${s.packets} ${unit}, ${s.transactions} DNS transactions, ${s.malformed} malformed packets or messages skipped, ${s.domains} domains, ${s.windows} windows, ${s.alerts} alerts${
          s.suppressed > 0 ? ` (${s.suppressed} held back by the allow-list)` : ""
        }${c === null ? "" : `; dropped by the kernel ${c.dropped}, by the interface ${c.ifDropped}`}${
          s.unstored > 0 ? `; ${s.unstored} transactions past the per-window store limit not stored` : ""
        } (${secs().toFixed(1)} s). Read it with plumbum show --run ${result.run.id}.`,
      );
    }
    if (result.error !== null) {
      const problem = storeProblem(result.error, ws);
      if (problem !== null) throw problem;
      const msg = result.error instanceof SourceError ? sourceMessage(result.error, o) : result.error.message;
      throw new UsageError(`${msg}; the closed windows are kept in run #${result.run.id}`);
    }
    if (alertsLost !== null) {
      throw new UsageError(
        `alerts: ${
          escapeTerminal((alertsLost as Error).message)
        }: free space or send them elsewhere; the run stopped there and is stored as run #${result.run.id}`,
      );
    }
    if (!o.quiet && s.counters !== null && s.counters.dropped > 0) {
      err(
        `${
          colors(Deno.stderr).yellow("note")
        }: the kernel dropped ${s.counters.dropped} packets: raise --buffer-size, or narrow --filter`,
      );
    }
    return 0;
  } catch (e) {
    if (e instanceof SourceError) throw new UsageError(sourceMessage(e, o));
    if (e instanceof UsageError) throw e;
    throw storeProblem(e, ws) ?? e;
  } finally {
    clearInterval(ticker);
    for (const s of signals) Deno.removeSignalListener(s, onSignal);
    store.close();
  }
}
