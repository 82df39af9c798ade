/**
 * Headless Chromium driven over the DevTools protocol: open a page, record
 * what it logged, threw and requested, ask the DOM, take screenshots.
 * Only loopback traffic (Deno to the browser's debugging port); the page
 * itself is a file. `chromium` from Debian; tests skip without it.
 */

/** The Chromium binary, or null when none is installed. */
export function chromiumPath(): string | null {
  for (const p of ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"]) {
    try {
      if (Deno.statSync(p).isFile) return p;
    } catch {
      // next
    }
  }
  return null;
}

/** What the page did while it loaded. */
export interface PageLog {
  /** Console messages of level error, exceptions, and browser log errors (CSP violations among them). */
  errors: string[];
  /** Every URL the page asked for, the page's own included. */
  requests: string[];
  /** Milliseconds from navigation to the load event. */
  loadMs: number;
}

type Message = {
  id?: number;
  method?: string;
  params?: Record<string, unknown>;
  result?: Record<string, unknown>;
  error?: { message: string };
  sessionId?: string;
};

/** One headless browser with one page. */
export class Browser {
  readonly #proc: Deno.ChildProcess;
  readonly #dir: string;
  #ws!: WebSocket;
  #id = 0;
  #session = "";
  readonly #pending = new Map<number, { resolve: (m: Message) => void; reject: (e: Error) => void }>();
  readonly #listeners: ((m: Message) => void)[] = [];

  private constructor(proc: Deno.ChildProcess, dir: string) {
    this.#proc = proc;
    this.#dir = dir;
  }

  /** Start Chromium and open a blank page (throws when it does not come up within 30 s). */
  static async start(binary: string): Promise<Browser> {
    const dir = Deno.makeTempDirSync({ prefix: "plumbum-chromium-" });
    const proc = new Deno.Command(binary, {
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--remote-debugging-address=127.0.0.1",
        "--remote-debugging-port=0",
        `--user-data-dir=${dir}`,
        "about:blank",
      ],
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const b = new Browser(proc, dir);
    const reader = proc.stderr.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    const deadline = Date.now() + 30_000;
    let url: string | null = null;
    while (url === null && Date.now() < deadline) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
      url = /DevTools listening on (ws:\/\/\S+)/.exec(text)?.[1] ?? null;
    }
    // Keep draining stderr so the browser never blocks on it.
    (async () => {
      try {
        while (!(await reader.read()).done) { /* drain */ }
      } catch { /* gone */ }
    })();
    if (url === null) {
      await b.close();
      throw new Error(`chromium did not start:\n${text.slice(-1500)}`);
    }
    b.#ws = new WebSocket(url);
    await new Promise((resolve, reject) => {
      b.#ws.onopen = resolve;
      b.#ws.onerror = () => reject(new Error("cannot reach chromium's debugging port"));
    });
    b.#ws.onmessage = (e) => b.#receive(JSON.parse(e.data as string));
    const { targetId } = (await b.#send("Target.createTarget", { url: "about:blank" })) as { targetId: string };
    const { sessionId } = (await b.#send("Target.attachToTarget", { targetId, flatten: true })) as {
      sessionId: string;
    };
    b.#session = sessionId;
    for (const domain of ["Page", "Runtime", "Log", "Network"]) await b.#send(`${domain}.enable`, {}, true);
    return b;
  }

  #receive(m: Message): void {
    if (m.id !== undefined) {
      const p = this.#pending.get(m.id);
      this.#pending.delete(m.id);
      if (m.error) p?.reject(new Error(m.error.message));
      else p?.resolve(m);
      return;
    }
    for (const l of this.#listeners) l(m);
  }

  #send(method: string, params: Record<string, unknown> = {}, page = false): Promise<Record<string, unknown>> {
    const id = ++this.#id;
    this.#ws.send(JSON.stringify({ id, method, params, ...(page ? { sessionId: this.#session } : {}) }));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`${method}: no answer in 60 s`));
      }, 60_000);
      this.#pending.set(id, {
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m.result ?? {});
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
    });
  }

  /** Open `url` at `width`×`height` and wait for its load event (and `settleMs` more for scripts). */
  async open(url: string, o: { width?: number; height?: number; settleMs?: number } = {}): Promise<PageLog> {
    const log: PageLog = { errors: [], requests: [], loadMs: NaN };
    await this.#send("Emulation.setDeviceMetricsOverride", {
      width: o.width ?? 1200,
      height: o.height ?? 900,
      deviceScaleFactor: 1,
      mobile: false,
    }, true);
    let loaded!: () => void;
    const load = new Promise<void>((r) => loaded = r);
    const t0 = performance.now();
    this.#listeners.push((m) => {
      if (m.sessionId !== this.#session) return;
      const p = m.params ?? {};
      if (m.method === "Page.loadEventFired") {
        log.loadMs = performance.now() - t0;
        loaded();
      } else if (m.method === "Network.requestWillBeSent") {
        log.requests.push((p.request as { url: string }).url);
      } else if (m.method === "Runtime.exceptionThrown") {
        log.errors.push(`exception: ${JSON.stringify(p.exceptionDetails).slice(0, 500)}`);
      } else if (m.method === "Runtime.consoleAPICalled" && (p.type === "error" || p.type === "assert")) {
        log.errors.push(`console.${p.type}: ${JSON.stringify(p.args).slice(0, 500)}`);
      } else if (m.method === "Log.entryAdded") {
        const e = p.entry as { level: string; text: string; source: string };
        if (e.level === "error") log.errors.push(`${e.source}: ${e.text}`);
      }
    });
    await this.#send("Page.navigate", { url }, true);
    await Promise.race([
      load,
      new Promise((_, reject) => setTimeout(() => reject(new Error(`${url} did not load in 120 s`)), 120_000)),
    ]);
    await new Promise((r) => setTimeout(r, o.settleMs ?? 300));
    return log;
  }

  /** The value of `expression` in the page. */
  async evaluate<T>(expression: string): Promise<T> {
    const r = await this.#send("Runtime.evaluate", { expression, returnByValue: true }, true) as {
      result: { value: T };
      exceptionDetails?: unknown;
    };
    if (r.exceptionDetails) throw new Error(`${expression}: ${JSON.stringify(r.exceptionDetails).slice(0, 300)}`);
    return r.result.value;
  }

  /** A PNG of the page's part from `y` (CSS pixels) down `height`, or of the whole viewport. */
  async screenshot(clip?: { x: number; y: number; width: number; height: number }): Promise<Uint8Array> {
    const r = await this.#send("Page.captureScreenshot", {
      format: "png",
      ...(clip ? { clip: { ...clip, scale: 1 }, captureBeyondViewport: true } : {}),
    }, true) as { data: string };
    return Uint8Array.from(atob(r.data), (c) => c.charCodeAt(0));
  }

  /** The page printed to PDF on A4 (as a person would print it), and its number of pages. */
  async pdf(): Promise<{ bytes: Uint8Array; pages: number }> {
    const r = await this.#send(
      "Page.printToPDF",
      { paperWidth: 8.27, paperHeight: 11.69, printBackground: false },
      true,
    ) as {
      data: string;
    };
    const bytes = Uint8Array.from(atob(r.data), (c) => c.charCodeAt(0));
    const text = new TextDecoder("latin1").decode(bytes);
    return { bytes, pages: (text.match(/\/Type\s*\/Page(?![s\w])/g) ?? []).length };
  }

  /** Close the browser (asked, then killed after 5 s) and remove its profile. */
  async close(): Promise<void> {
    try {
      await Promise.race([this.#send("Browser.close"), new Promise((r) => setTimeout(r, 5000))]);
    } catch { /* gone */ }
    const ended = await Promise.race([
      this.#proc.status.then(() => true),
      new Promise((r) => setTimeout(r, 5000, false)),
    ]);
    if (!ended) {
      try {
        this.#proc.kill("SIGKILL");
      } catch { /* gone */ }
      await this.#proc.status;
    }
    try {
      this.#ws?.close();
    } catch { /* closed */ }
    // Its helper processes may still be writing the profile for a moment.
    for (let i = 0; i < 20; i++) {
      try {
        Deno.removeSync(this.#dir, { recursive: true });
        return;
      } catch {
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  }
}
