/**
 * Progress on stderr: only when stderr is a terminal and the work has taken
 * more than a second, redrawn at most a few times a second, erased at the end.
 *
 * @module
 */

/**
 * The erase-line sequence, from ansi-escapes once a progress line is drawn
 * on a terminal: the package reads the environment when loaded, which a
 * reader run without --allow-env may not do.
 */
let eraseLine: string | null = null;
function loadEraseLine(): void {
  if (eraseLine !== null) return;
  eraseLine = "";
  import("npm:ansi-escapes@7.3.0").then(
    (m) => eraseLine = m.default.eraseLine,
    () => eraseLine = "\x1b[2K",
  );
}

/** A progress line. */
export interface Progress {
  update(text: string): void;
  done(): void;
}

/** A progress line on stderr (silent when stderr is not a terminal). */
export function progressLine(): Progress {
  const tty = Deno.stderr.isTerminal();
  if (tty) loadEraseLine();
  const start = performance.now();
  let last = 0;
  let shown = false;
  const enc = new TextEncoder();
  return {
    update(text) {
      if (!tty) return;
      const now = performance.now();
      if (now - start < 1000 || now - last < 200) return;
      last = now;
      shown = true;
      Deno.stderr.writeSync(enc.encode(eraseLine + "\r" + text));
    },
    done() {
      if (shown) Deno.stderr.writeSync(enc.encode(eraseLine + "\r"));
    },
  };
}

/** Human-readable byte count. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}
