/**
 * Network namespaces for live tests: two namespaces joined by a veth pair,
 * with addresses of their own, and the processes started in them, all
 * removed again (by PID, then the namespaces) however the test ends.
 * Nothing here sends traffic anywhere but between the two namespaces.
 */
import { cliArgs } from "./cli.ts";

function has(cmd: string): boolean {
  try {
    return new Deno.Command("sh", { args: ["-c", `command -v ${cmd}`], stdout: "null", stderr: "null" }).outputSync()
      .success;
  } catch {
    return false;
  }
}

function hasLibpcap(): boolean {
  const r = new Deno.Command("sh", { args: ["-c", "ldconfig -p | grep -q libpcap.so"] }).outputSync();
  return r.success;
}

/** Why live tests cannot run here (null: they can). `tools` are commands they also need. */
export function liveSkipReason(tools: string[] = []): string | null {
  if (Deno.build.os !== "linux") return "needs Linux network namespaces";
  if (Deno.uid() !== 0) return "needs root (network namespaces, capture)";
  if (!hasLibpcap()) return "needs libpcap (apt-get install libpcap0.8)";
  for (const t of ["ip", ...tools]) if (!has(t)) return `needs ${t} (CI installs it)`;
  return null;
}

/** A child process whose output is collected as it comes. */
export class Proc {
  readonly child: Deno.ChildProcess;
  stdout = "";
  stderr = "";
  readonly done: Promise<Deno.CommandStatus>;

  constructor(cmd: string, args: string[], env: Record<string, string> = {}) {
    this.child = new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped", stdin: "null", env }).spawn();
    const dec = new TextDecoder();
    const pump = async (s: ReadableStream<Uint8Array>, onText: (t: string) => void) => {
      for await (const chunk of s) onText(dec.decode(chunk, { stream: true }));
    };
    const out = pump(this.child.stdout, (t) => this.stdout += t);
    const err = pump(this.child.stderr, (t) => this.stderr += t);
    this.done = Promise.all([out, err]).then(() => this.child.status);
  }

  /** Wait (up to `ms`) until `test` holds; returns whether it did. */
  async until(test: () => boolean, ms: number): Promise<boolean> {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      if (test()) return true;
      const exited = await Promise.race([this.done.then(() => true), new Promise((r) => setTimeout(r, 100, false))]);
      if (exited) return test();
    }
    return test();
  }

  signal(s: Deno.Signal): void {
    try {
      this.child.kill(s);
    } catch { /* gone already */ }
  }
}

/** Two namespaces `a` and `b` joined by a veth pair: `a` has `ifA`/`ipA`, `b` has `ifB`/`ipB`. */
export class NetPair {
  readonly a: string;
  readonly b: string;
  readonly ifA: string;
  readonly ifB: string;
  readonly ipA = "10.77.0.1";
  readonly ipB = "10.77.0.2";
  readonly #procs: Proc[] = [];

  private constructor(tag: string) {
    const id = `${tag}${Deno.pid % 10000}`;
    this.a = `pbA${id}`;
    this.b = `pbB${id}`;
    this.ifA = `pa${id}`.slice(0, 15);
    this.ifB = `pb${id}`.slice(0, 15);
  }

  static create(tag: string): NetPair {
    const n = new NetPair(tag);
    n.#ip("netns", "add", n.a);
    n.#ip("netns", "add", n.b);
    n.#ip("link", "add", n.ifA, "netns", n.a, "type", "veth", "peer", "name", n.ifB, "netns", n.b);
    n.#ip("-n", n.a, "addr", "add", `${n.ipA}/24`, "dev", n.ifA);
    n.#ip("-n", n.b, "addr", "add", `${n.ipB}/24`, "dev", n.ifB);
    for (const [ns, dev] of [[n.a, n.ifA], [n.b, n.ifB], [n.a, "lo"], [n.b, "lo"]]) {
      n.#ip("-n", ns, "link", "set", dev, "up");
    }
    return n;
  }

  #ip(...args: string[]): void {
    const r = new Deno.Command("ip", { args, stderr: "piped" }).outputSync();
    if (!r.success) throw new Error(`ip ${args.join(" ")}: ${new TextDecoder().decode(r.stderr)}`);
  }

  /** Start `cmd args` in namespace `ns`; it is killed on close. */
  spawn(ns: string, cmd: string, args: string[], env: Record<string, string> = {}): Proc {
    const p = new Proc("ip", ["netns", "exec", ns, cmd, ...args], env);
    this.#procs.push(p);
    return p;
  }

  /** Run `cmd args` in `ns` to the end. */
  async run(ns: string, cmd: string, args: string[]): Promise<Deno.CommandOutput> {
    return await new Deno.Command("ip", { args: ["netns", "exec", ns, cmd, ...args], stdout: "piped", stderr: "piped" })
      .output();
  }

  /** `plumbum stream ARGS` in `ns` (with FFI, as stream needs). */
  stream(ns: string, args: string[], env: Record<string, string> = {}): Proc {
    return this.spawn(ns, Deno.execPath(), cliArgs(["stream", ...args], { ffi: true }), { NO_COLOR: "1", ...env });
  }

  /** Kill every process started here (by PID), wait for them, remove the namespaces. */
  async close(): Promise<void> {
    for (const p of this.#procs) p.signal("SIGKILL");
    await Promise.allSettled(this.#procs.map((p) => p.done));
    for (const ns of [this.a, this.b]) {
      new Deno.Command("ip", { args: ["netns", "del", ns], stderr: "null" }).outputSync();
    }
  }
}

/** A deno one-liner run in namespace `ns` (network access only). */
export function denoEval(net: NetPair, ns: string, code: string): Proc {
  return net.spawn(ns, Deno.execPath(), ["eval", "--quiet", "--unstable-net", code]);
}

/**
 * `bytes` sent down a tunnel: a listener on `address` port 7000 in `net.b`
 * writes them, a client in `net.a` connects (retrying while the tunnel
 * comes up) and prints how many it read. Returns both processes.
 */
export function tunnelTransfer(net: NetPair, address: string, bytes: number): { sink: Proc; fetch: Proc } {
  const sink = denoEval(
    net,
    net.b,
    `const l = Deno.listen({ hostname: "${address}", port: 7000 }); const c = await l.accept(); const b = new Uint8Array(${bytes}).map((_, i) => (i * 7919) & 255); for (let o = 0; o < b.length;) o += await c.write(b.subarray(o)); c.close(); l.close();`,
  );
  const fetch = denoEval(
    net,
    net.a,
    `let c; for (let i = 0; i < 40 && c === undefined; i++) { try { c = await Deno.connect({ hostname: "${address}", port: 7000 }); } catch { await new Promise((r) => setTimeout(r, 500)); } } let n = 0; const b = new Uint8Array(65536); for (let r; (r = await c.read(b)) !== null;) n += r; console.log(n);`,
  );
  return { sink, fetch };
}
