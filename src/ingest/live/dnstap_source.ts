/**
 * dnstap live: Plumbum listens where a resolver sends its dnstap (a Unix
 * socket or a TCP port) and reads Frame Streams from each connection,
 * answering the bidirectional handshake (READY → ACCEPT, then START; STOP →
 * FINISH) so that BIND, Unbound, Knot Resolver, dnsdist and `fstrm_replay`
 * connect to it directly. Several resolvers may connect at once.
 *
 * No message is dropped here: while the store is behind, reading waits,
 * and the resolver's own queue holds (or drops and counts) what it cannot
 * send.
 *
 * @module
 */

import { ByteStream } from "../bytes.ts";
import { type ControlFrame, DNSTAP_CONTENT_TYPE, encodeControl, FSTRM, readFrameStream } from "../dnstap.ts";
import type { CaptureCounters } from "./protocol.ts";
import { SourceError, type SourceReady } from "./source.ts";

/** Where to listen: `unix:/path/to.sock` or `tcp:HOST:PORT`. */
export interface DnstapSettings {
  listen: string;
  /** Messages to read before stopping (0 or absent: no end). */
  count?: number;
}

/** An address to listen on, parsed from {@link DnstapSettings.listen}. */
export type DnstapListen = { transport: "unix"; path: string } | { transport: "tcp"; hostname: string; port: number };

/** Parse `unix:/path` or `tcp:HOST:PORT` (an IPv6 host in brackets); a string says what is wrong. */
export function parseDnstapListen(text: string): DnstapListen | string {
  if (text.startsWith("unix:")) {
    const path = text.slice(5);
    if (path === "") return "unix: needs a socket path, e.g. unix:/run/plumbum/dnstap.sock";
    return { transport: "unix", path };
  }
  if (text.startsWith("tcp:")) {
    const m = /^tcp:(?:\[([0-9a-fA-F:.]+)\]|([^:\[\]]+)):(\d{1,5})$/.exec(text);
    const port = m === null ? NaN : Number(m[3]);
    if (m === null || !(port >= 1 && port <= 65535)) return "tcp: needs HOST:PORT, e.g. tcp:127.0.0.1:6000";
    return { transport: "tcp", hostname: m[1] ?? m[2], port };
  }
  return `"${text}" is neither unix:/path nor tcp:HOST:PORT`;
}

/** What a dnstap source hands on. */
export interface DnstapHandlers {
  /** One data frame, `buf[start..end)` (valid during the call). */
  data(buf: Uint8Array, start: number, end: number): void;
  /** A connection's stream is broken (it is closed; others go on). */
  problem(reason: string): void;
  /** Awaited before reading more of a connection. */
  pause?(): Promise<void>;
}

/** Most connections served at once (a resolver fleet's; more wait in the listen queue). */
const MAX_CONNECTIONS = 64;

/** A listening dnstap source (see the module's notes). */
export class DnstapSource {
  /** Resolves when it listens (rejects with a {@link SourceError} when it cannot). */
  readonly ready: Promise<SourceReady>;
  /** Resolves when stopped and every connection has ended. */
  readonly done: Promise<CaptureCounters | null>;
  /** Data frames received, connections accepted. */
  readonly counts = { frames: 0, connections: 0 };
  readonly #listen: DnstapListen;
  #listener: Deno.Listener | null = null;
  readonly #conns = new Set<Deno.Conn>();
  #stopped = false;
  /** The socket file made, and its identity (removed on stop only if it is still that file). */
  #socket: { path: string; ino: number | null } | null = null;

  private constructor(listen: DnstapListen, h: DnstapHandlers) {
    this.#listen = listen;
    this.ready = this.#open();
    this.done = this.ready.then(() => this.#serve(h));
    this.done.catch(() => {});
  }

  /** Listen as `settings` say. */
  static listen(settings: DnstapSettings, handlers: DnstapHandlers): DnstapSource {
    const where = parseDnstapListen(settings.listen);
    if (typeof where === "string") throw new SourceError("other", `--dnstap: ${where}`);
    return new DnstapSource(where, handlers);
  }

  async #open(): Promise<SourceReady> {
    const l = this.#listen;
    try {
      if (l.transport === "unix") {
        await removeStaleSocket(l.path);
        this.#listener = Deno.listen({ transport: "unix", path: l.path });
        this.#socket = { path: l.path, ino: Deno.lstatSync(l.path).ino };
      } else this.#listener = Deno.listen({ transport: "tcp", hostname: l.hostname, port: l.port });
    } catch (e) {
      throw listenError(e as Error, l);
    }
    return { linkType: -1, warning: null, version: "", filter: null };
  }

  async #serve(h: DnstapHandlers): Promise<CaptureCounters | null> {
    const listener = this.#listener!;
    const serving = new Set<Promise<void>>();
    try {
      for await (const conn of listener) {
        if (this.#stopped || this.#conns.size >= MAX_CONNECTIONS) {
          conn.close();
          continue;
        }
        this.counts.connections++;
        this.#conns.add(conn);
        const p = this.#connection(conn, h).finally(() => {
          this.#conns.delete(conn);
          serving.delete(p);
        });
        serving.add(p);
      }
    } catch (e) {
      if (!this.#stopped) throw new SourceError("other", `dnstap listener failed: ${(e as Error).message}`);
    }
    await Promise.allSettled([...serving]);
    return { received: this.counts.frames, dropped: 0, ifDropped: 0 };
  }

  async #connection(conn: Deno.Conn, h: DnstapHandlers): Promise<void> {
    const write = async (b: Uint8Array) => {
      for (let o = 0; o < b.length;) o += await conn.write(b.subarray(o));
    };
    const s = new ByteStream((b) => conn.read(b), { maxWindow: 1 << 20 });
    try {
      await readFrameStream(s, {
        data: (buf, start, end) => {
          this.counts.frames++;
          h.data(buf, start, end);
        },
        problem: (reason, _offset, fatal) => {
          if (fatal) h.problem(reason);
        },
        control: async (c: ControlFrame) => {
          if (c.type === FSTRM.READY) await write(encodeControl(FSTRM.ACCEPT, DNSTAP_CONTENT_TYPE));
          else if (c.type === FSTRM.STOP) await write(encodeControl(FSTRM.FINISH));
        },
        pause: h.pause,
      });
    } catch (e) {
      // A connection reset, closed by stop(), or gone before our FINISH: what it sent so far is counted.
      const gone = e instanceof Deno.errors.ConnectionReset || e instanceof Deno.errors.BadResource ||
        e instanceof Deno.errors.BrokenPipe;
      if (!this.#stopped && !gone) {
        h.problem(`dnstap connection failed: ${(e as Error).message}`);
      }
    } finally {
      try {
        conn.close();
      } catch { /* closed already */ }
    }
  }

  /** Stop listening and close every connection; {@link done} resolves once they have ended. */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    try {
      this.#listener?.close();
    } catch { /* closed already */ }
    for (const c of this.#conns) {
      try {
        c.close();
      } catch { /* closed already */ }
    }
    const sock = this.#socket;
    if (sock !== null) {
      try {
        // Only the socket this source made: a file put there since is not ours to remove.
        const st = Deno.lstatSync(sock.path);
        if (st.isSocket && st.ino === sock.ino) Deno.removeSync(sock.path);
      } catch { /* gone already */ }
    }
  }

  /** As {@link stop}. */
  kill(): void {
    this.stop();
  }
}

/** A socket file nobody listens on (left by a Plumbum that is gone) is removed; any other file is an error. */
async function removeStaleSocket(path: string): Promise<void> {
  let st: Deno.FileInfo;
  try {
    st = Deno.lstatSync(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return;
    throw e;
  }
  if (!st.isSocket) throw new SourceError("other", `${path} exists and is not a socket: name a new path for --dnstap`);
  try {
    (await Deno.connect({ transport: "unix", path })).close();
  } catch (e) {
    if (!(e instanceof Deno.errors.ConnectionRefused)) throw e;
    Deno.removeSync(path);
    return;
  }
  throw new SourceError("other", `${path} is in use: another program listens on it (pick another --dnstap path)`);
}

function listenError(e: Error, l: DnstapListen): Error {
  if (e instanceof SourceError) return e;
  const where = l.transport === "unix" ? l.path : `${l.hostname}:${l.port}`;
  if (e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied) {
    // Deno asks net access for Unix sockets too; a folder this user may not write is the system's no.
    return new SourceError(
      "permission",
      e instanceof Deno.errors.NotCapable
        ? `Deno was not given net access to listen for dnstap on ${where}: run again with --allow-net`
        : `this user may not make the socket ${where}: pick a folder it may write`,
    );
  }
  if (e instanceof Deno.errors.AddrInUse) return new SourceError("other", `${where} is in use: pick another --dnstap`);
  return new SourceError("other", `cannot listen on ${where}: ${e.message}`);
}
