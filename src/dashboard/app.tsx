/** @jsxImportSource npm:react@19.3.1 */
/**
 * The dashboard's screen (ink + React): a header, the findings table (only
 * the rows on screen are read), a domain's detail, the runs list and the
 * keys. It reads through {@link DashboardData} and refreshes when a writer
 * commits (an `apply` completing, a stream's window closing).
 *
 * @module
 */

// @ts-types="npm:@types/react@19.3.3"
import { type ReactElement, useEffect, useMemo, useState } from "npm:react@19.3.1";
import { Box, Text, useApp, useInput } from "npm:ink@8.0.0";
import type { Severity } from "../analysis/model.ts";
import type { RunRecord } from "../store/types.ts";
import { escapeTerminal } from "../present/escape.ts";
import { saveReport } from "../workspace/report.ts";
import { carve, payloadSummary } from "../evidence/carve.ts";
import { payloadEvidence } from "../present/carve.ts";
import { keepCarving } from "../workspace/carving.ts";
import {
  clock,
  count,
  cut,
  type DashboardData,
  detailLines,
  fit,
  FLOORS,
  headerLine,
  rowLine,
  runLine,
  runSpan,
  SORTS,
  storedLive,
  type TableView,
} from "./model.ts";

/** Live figures of a stream shown in the header (for `stream --tui`). */
export interface LiveFigures {
  packetsPerSec: number;
  dnsPerSec: number;
  dropped: number | null;
  windows: number;
  alerts: number;
}

/** Props of {@link Dashboard}. */
export interface DashboardProps {
  data: DashboardData;
  workspace: string;
  /** Terminal size. */
  cols: number;
  rows: number;
  /** Colours (off with NO_COLOR). */
  color: boolean;
  /** How often to look for new commits (ms). */
  pollMs?: number;
  /** Live figures, when a stream runs in this process. */
  live?: () => LiveFigures | null;
}

const SEVERITY_COLOR: Record<Severity, string> = { CRITICAL: "red", HIGH: "yellow", MEDIUM: "cyan", LOW: "gray" };
/** The foreground SGR codes of those colours. */
const SGR: Record<string, string> = { red: "\x1b[31m", yellow: "\x1b[33m", cyan: "\x1b[36m", gray: "\x1b[90m" };
const HELP = [
  "Keys",
  "  ↑ ↓  j k        move",
  "  PgUp PgDn       a page",
  "  Home End  g G   first, last",
  "  Enter           explain the selected domain",
  "  Esc             back",
  "  /               filter by text (Enter keeps it, Esc clears it)",
  "  f               severity floor: all, MEDIUM+, HIGH+, CRITICAL",
  "  s               sort: score, queries, capacity, name",
  "  r               runs (Enter picks one)",
  "  p               write the run's HTML report (reports/run-N.html in the workspace)",
  "  c               (explanation) carve: what the domain's traffic carried, read from the sources",
  "  ?               this help",
  "  q  Ctrl-C       quit",
  "",
  "Names are shown escaped (\\xHH) and cut to fit: they come from the traffic.",
];

type View = "table" | "detail" | "runs" | "help";

/** Carve `domain` of `run` (kept with the run when the dashboard may write); what to say of it. */
async function carveNote(data: DashboardData, run: RunRecord, domain: string): Promise<string> {
  try {
    const c = await carve(run, domain, { pcap: null });
    const read = c.sources.filter((s) => s.status === "read").length;
    if (read === 0) {
      return `not carved: ${c.sources.map((s) => `${escapeTerminal(s.path)} ${s.status}`).join(", ")}`;
    }
    let kept = "kept with the run";
    try {
      keepCarving(data.reader.path, c);
    } catch (e) {
      kept = e instanceof Deno.errors.NotCapable ? "not kept (the dashboard has no write access)" : "not kept";
    }
    return `payload ${escapeTerminal(payloadEvidence(payloadSummary(c)))}; ${kept}`;
  } catch (e) {
    return `not carved: ${escapeTerminal((e as Error).message)}`;
  }
}

/** Write `run`'s report into the workspace; what to say of it. */
function writeReport(data: DashboardData, run: RunRecord, workspace: string): string {
  try {
    const saved = saveReport(data.reader, run, workspace);
    return `wrote ${escapeTerminal(saved.path)} (${(saved.bytes / 1e6).toFixed(2)} MB): open it in a browser`;
  } catch (e) {
    const why = e instanceof Deno.errors.NotCapable
      ? "the dashboard was not given write access: run it with --allow-write to write reports"
      : escapeTerminal((e as Error).message);
    return `no report written: ${why}`;
  }
}

/** The whole screen. */
export function Dashboard(p: DashboardProps): ReactElement {
  const { exit } = useApp();
  const [tick, setTick] = useState(0);
  const [runId, setRunId] = useState<number | null>(null);
  const [table, setTable] = useState<TableView>({ sort: "score", floor: null, text: "" });
  const [typing, setTyping] = useState<string | null>(null);
  const [cursor, setCursor] = useState(0);
  const [top, setTop] = useState(0);
  const [view, setView] = useState<View>("table");
  const [runCursor, setRunCursor] = useState(0);
  const [detailTop, setDetailTop] = useState(0);
  /** What the last action said (the report written, or why not), shown in the footer until the next key. */
  const [note, setNote] = useState<string | null>(null);

  // New commits: drop caches and draw again (a following view moves to the newest run).
  useEffect(() => {
    const t = setInterval(() => {
      if (p.data.refresh() || p.live !== undefined) setTick((n) => n + 1);
    }, p.pollMs ?? 1000);
    return () => clearInterval(t);
  }, [p.data, p.pollMs, p.live]);

  const runs = useMemo(() => p.data.runs(), [p.data, tick]);
  const run: RunRecord | null = (runId === null ? p.data.defaultRun() : runs.find((r) => r.id === runId)) ?? null;
  const order = useMemo(() => run === null ? [] : p.data.order(run.id, table), [p.data, run?.id, table, tick]);
  const bodyRows = Math.max(3, p.rows - 5);
  const cur = Math.min(cursor, Math.max(0, order.length - 1));
  const first = Math.min(Math.max(top, cur - bodyRows + 1, 0), cur);
  const selectedId = order[cur];
  const selected = selectedId === undefined || run === null ? undefined : p.data.rows(run.id, [selectedId])[0]?.domain;
  const counts = useMemo(() => run === null ? null : p.data.reader.severityCounts(run.id), [p.data, run?.id, tick]);

  const move = (to: number) => {
    const c = Math.max(0, Math.min(order.length - 1, to));
    setCursor(c);
    if (c < first) setTop(c);
    else if (c >= first + bodyRows) setTop(c - bodyRows + 1);
  };

  useInput((input, key) => {
    setNote(null);
    if (typing !== null) {
      if (key.return) {
        setTable({ ...table, text: typing });
        setTyping(null);
        move(0);
      } else if (key.escape) {
        setTyping(null);
        setTable({ ...table, text: "" });
      } else if (key.backspace || key.delete) setTyping(typing.slice(0, -1));
      else if (input !== "" && !key.ctrl && !key.meta && typing.length < 253) {
        setTyping(typing + input.replace(/[^\x20-\x7e]/g, ""));
      }
      return;
    }
    if (input === "q" || (key.ctrl && input === "c")) {
      exit();
      return;
    }
    if (view === "help") {
      setView("table");
      return;
    }
    if (view === "runs") {
      if (key.escape || input === "r") setView("table");
      else if (key.upArrow || input === "k") setRunCursor(Math.max(0, runCursor - 1));
      else if (key.downArrow || input === "j") setRunCursor(Math.min(runs.length - 1, runCursor + 1));
      else if (key.return && runs[runCursor] !== undefined) {
        setRunId(runs[runCursor].id);
        setCursor(0);
        setTop(0);
        setView("table");
      }
      return;
    }
    if (view === "detail") {
      if (key.escape || key.leftArrow || key.backspace) setView("table");
      else if (key.downArrow || input === "j") setDetailTop(detailTop + 1);
      else if (key.upArrow || input === "k") setDetailTop(Math.max(0, detailTop - 1));
      else if (key.pageDown || input === " ") setDetailTop(detailTop + bodyRows);
      else if (key.pageUp) setDetailTop(Math.max(0, detailTop - bodyRows));
      else if (input === "c" && run !== null && selected !== undefined) {
        setNote("carving: reading the run's sources again …");
        carveNote(p.data, run, selected).then(setNote);
      }
      return;
    }
    if (key.upArrow || input === "k") move(cur - 1);
    else if (key.downArrow || input === "j") move(cur + 1);
    else if (key.pageDown) move(cur + bodyRows);
    else if (key.pageUp) move(cur - bodyRows);
    else if (key.home || input === "g") move(0);
    else if (key.end || input === "G") move(order.length - 1);
    else if (key.return && selected !== undefined) {
      setDetailTop(0);
      setView("detail");
    } else if (input === "/") setTyping(table.text);
    else if (input === "s") {
      setTable({ ...table, sort: SORTS[(SORTS.indexOf(table.sort) + 1) % SORTS.length] });
      move(0);
    } else if (input === "f") {
      setTable({ ...table, floor: FLOORS[(FLOORS.indexOf(table.floor) + 1) % FLOORS.length] });
      move(0);
    } else if (input === "r") {
      setRunCursor(Math.max(0, runs.findIndex((r) => r.id === run?.id)));
      setView("runs");
    } else if (input === "?") setView("help");
    else if (input === "p" && run !== null) setNote(writeReport(p.data, run, p.workspace));
    else if (key.escape && table.text !== "") setTable({ ...table, text: "" });
  });

  const color = (c: string) => (p.color ? c : undefined);
  // A stream in this process gives its figures; one in another process is read from its last window's commit.
  const stored = run === null || run.status !== "running" ? null : storedLive(run);
  const [seen, setSeen] = useState<{ at: number; packets: number; rate: number } | null>(null);
  useEffect(() => {
    if (stored === null) return;
    const now = Date.now() / 1000;
    if (seen === null || stored.packets < seen.packets) setSeen({ at: now, packets: stored.packets, rate: 0 });
    else if (stored.packets > seen.packets) {
      setSeen({ at: now, packets: stored.packets, rate: (stored.packets - seen.packets) / Math.max(1, now - seen.at) });
    }
  }, [stored?.packets]);
  const live = p.live?.() ??
    (stored === null ? null : {
      packetsPerSec: seen?.rate ?? 0,
      dnsPerSec: NaN,
      dropped: stored.dropped,
      windows: stored.windows,
      alerts: NaN,
    });
  const header = (
    <Box flexDirection="column">
      <Text bold wrap="truncate">
        {cut(`Plumbum · ${escapeTerminal(p.workspace)} · ${run === null ? "no run yet" : runLine(run)}`, p.cols)}
      </Text>
      {p.data.stale === null
        ? null
        : <Text color={color("yellow")} wrap="truncate">{escapeTerminal(p.data.stale)}</Text>}
      <Text wrap="truncate">
        {counts === null
          ? ""
          : (["CRITICAL", "HIGH", "MEDIUM", "LOW"] as Severity[]).map((s) => (
            <Text key={s} color={color(SEVERITY_COLOR[s])}>{`${s} ${counts[s]}  `}</Text>
          ))}
        {run === null || runSpan(run) === "" ? "" : `${runSpan(run)} · `}
        {`sort: ${table.sort} · severity: ${table.floor === null ? "all" : `${table.floor}+`}${
          table.text === "" ? "" : ` · filter: "${fit(table.text, 40)}"`
        }`}
        {live === null
          ? ""
          : ` · live: ${count(live.packetsPerSec)} pkt/s${
            Number.isNaN(live.dnsPerSec) ? "" : `, ${count(live.dnsPerSec)} DNS/s`
          }, drops ${live.dropped ?? "-"}, ${live.windows} windows${
            Number.isNaN(live.alerts) ? "" : `, ${live.alerts} alerts`
          }`}
      </Text>
    </Box>
  );

  let body: ReactElement;
  if (run === null) {
    body = (
      <Text>
        {`No results in ${
          fit(p.workspace, 60)
        } yet: run \`plumbum apply CAPTURE\` (or \`plumbum stream\`) there; this screen shows the run when it completes.`}
      </Text>
    );
  } else if (view === "help") {
    body = <Text>{HELP.join("\n")}</Text>;
  } else if (view === "runs") {
    body = (
      <Box flexDirection="column">
        <Text bold>Runs (Enter shows one, Esc goes back)</Text>
        {runs.slice(Math.max(0, runCursor - bodyRows + 2), Math.max(0, runCursor - bodyRows + 2) + bodyRows - 1).map((
          r,
        ) => (
          <Text key={r.id} inverse={r.id === runs[runCursor]?.id} wrap="truncate">
            {cut(`${r.id === run.id ? "*" : " "} ${r.started_at.slice(0, 19)}  ${runLine(r)}`, p.cols)}
          </Text>
        ))}
      </Box>
    );
  } else if (view === "detail" && selected !== undefined) {
    const f = p.data.finding(run.id, selected);
    const lines = f === null ? ["(this domain is gone from the run)"] : detailLines(
      f,
      run.id,
      p.data.history(selected),
      p.cols,
    );
    const start = Math.min(detailTop, Math.max(0, lines.length - bodyRows));
    body = (
      <Box flexDirection="column">
        {lines.slice(start, start + bodyRows).map((l, i) => <Text key={i} wrap="truncate">{l === "" ? " " : l}</Text>)}
      </Box>
    );
  } else {
    const visible = p.data.rows(run.id, order.slice(first, first + bodyRows));
    body = (
      <Box flexDirection="column">
        <Text bold wrap="truncate">{headerLine(p.cols)}</Text>
        {visible.length === 0
          ? (
            <Text>
              {table.text !== "" || table.floor !== null
                ? "No domain matches (Esc clears the filter, f the floor)."
                : "No domains in this run."}
            </Text>
          )
          : (
            // One text for every row (a component a row made a key's frame ~3x slower to lay out); the styles
            // are SGR codes around Plumbum's own text, the names in it already escaped.
            <Text wrap="truncate">
              {visible.map((r) => {
                const l = rowLine(r, p.cols);
                const sev = p.color ? `${SGR[SEVERITY_COLOR[r.severity]]}${l.severity}\x1b[39m` : l.severity;
                return r.id === selectedId ? `\x1b[7m${sev}${l.rest}\x1b[27m` : sev + l.rest;
              }).join("\n")}
            </Text>
          )}
      </Box>
    );
  }

  const footer = note !== null
    ? note
    : typing !== null
    ? `/${fit(typing, p.cols - 30)}▏  (Enter keeps the filter, Esc clears it)`
    : view === "detail"
    ? "↑↓ scroll · PgUp PgDn · c carve (what its traffic carried) · Esc back · q quit"
    : `↑↓ move · Enter explain · / filter · f severity · s sort · r runs · ? help · q quit   ${
      order.length === 0 ? 0 : cur + 1
    }/${order.length}${run !== null && run.status === "running" ? ` · updated ${clock(Date.now() / 1000)}` : ""}`;

  return (
    <Box flexDirection="column" width={p.cols} height={p.rows}>
      {header}
      <Box flexDirection="column" flexGrow={1}>{body}</Box>
      <Text dimColor wrap="truncate">{footer}</Text>
    </Box>
  );
}
