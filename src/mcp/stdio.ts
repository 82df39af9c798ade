/**
 * The MCP server's stdio transport: one JSON-RPC message per line on stdin,
 * answers on stdout. Unlike the SDK's, every line gets its due under hostile
 * input, in bounded memory:
 *
 * - a line over {@link MAX_MESSAGE_BYTES} is skipped to its end without being
 *   held, and answered -32600 (with its `id` when its first bytes show one);
 *   the server keeps serving;
 * - a line that is not UTF-8 or not JSON is answered -32700 (parse error);
 * - a batch (an array: MCP has none since 2025-06-18), a message without
 *   `"jsonrpc": "2.0"` or of no JSON-RPC shape is answered -32600 (invalid
 *   request);
 * - notifications (no `id`) that are broken are dropped, as JSON-RPC says.
 *
 * @module
 */

import { JSONRPCMessageSchema } from "npm:@modelcontextprotocol/sdk@1.32.2/types.js";
import type { JSONRPCMessage } from "npm:@modelcontextprotocol/sdk@1.32.2/types.js";
import type { Transport } from "npm:@modelcontextprotocol/sdk@1.32.2/shared/transport.js";

/** The longest message read (bytes of one line): a request is a few kilobytes. */
const MAX_MESSAGE_BYTES = 4 << 20;

/** JSON-RPC 2.0 error codes. */
const PARSE_ERROR = -32700, INVALID_REQUEST = -32600;

type Id = string | number | null;

/** The request id a line's first bytes show, or null (for a line that cannot be parsed whole). */
function idOf(head: Uint8Array): Id {
  const text = new TextDecoder().decode(head.subarray(0, 4096));
  const m = /"id"\s*:\s*(-?\d{1,15}(?![\d.eE])|"(?:[^"\\]|\\.){0,200}")/.exec(text);
  if (m === null) return null;
  try {
    return JSON.parse(m[1]);
  } catch {
    return null;
  }
}

/** Reads and writes JSON-RPC lines on the given streams (the process's stdin and stdout by default). */
export class LineTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: <T extends JSONRPCMessage>(message: T) => void;
  readonly #input: ReadableStream<Uint8Array>;
  readonly #output: WritableStream<Uint8Array>;
  #writer: WritableStreamDefaultWriter<Uint8Array> | null = null;
  #reader: ReadableStreamDefaultReader<Uint8Array> | null = null;
  #closed = false;
  /** Writes in order: each waits for the one before. */
  #writing: Promise<void> = Promise.resolve();
  readonly #encoder = new TextEncoder();

  /** A transport over `input` and `output` (stdin and stdout unless given). */
  constructor(
    input: ReadableStream<Uint8Array> = Deno.stdin.readable,
    output: WritableStream<Uint8Array> = Deno.stdout.writable,
  ) {
    this.#input = input;
    this.#output = output;
  }

  /**
   * Starts reading; resolves at once (lines are handled as they come). The
   * end of the input closes nothing: requests still being answered are
   * written, and the process ends when there is nothing left to do.
   */
  start(): Promise<void> {
    this.#writer = this.#output.getWriter();
    this.#reader = this.#input.getReader();
    this.#read().catch((e) => this.onerror?.(e as Error));
    return Promise.resolve();
  }

  async #read(): Promise<void> {
    const reader = this.#reader!;
    // The line being gathered: pieces and their length; past the cap only its head is kept, to find its id.
    let pieces: Uint8Array[] = [];
    let length = 0;
    let head: Uint8Array | null = null;
    const endLine = () => {
      if (head !== null) {
        this.#fail(idOf(head), INVALID_REQUEST, `Invalid Request: a message is at most ${MAX_MESSAGE_BYTES} bytes`);
      } else if (length > 0) {
        const line = new Uint8Array(length);
        let at = 0;
        for (const p of pieces) {
          line.set(p, at);
          at += p.length;
        }
        this.#line(line);
      }
      pieces = [];
      length = 0;
      head = null;
    };
    while (!this.#closed) {
      const { value, done } = await reader.read();
      if (done) break;
      let start = 0;
      while (start < value.length) {
        const nl = value.indexOf(0x0a, start);
        const end = nl < 0 ? value.length : nl;
        const piece = value.subarray(start, end);
        if (head === null) {
          if (length + piece.length > MAX_MESSAGE_BYTES) {
            // Too long: keep its first bytes (for the id), drop the rest as it comes.
            const first = new Uint8Array(Math.min(4096, length + piece.length));
            let at = 0;
            for (const p of [...pieces, piece]) {
              if (at >= first.length) break;
              const n = Math.min(p.length, first.length - at);
              first.set(p.subarray(0, n), at);
              at += n;
            }
            head = first;
            pieces = [];
          } else {
            // Copied: the reader may reuse its chunk.
            pieces.push(piece.slice());
          }
        }
        length += piece.length;
        if (nl < 0) break;
        endLine();
        start = nl + 1;
      }
    }
    endLine();
  }

  /** One whole line: answered when broken, handed on when a JSON-RPC message. */
  #line(bytes: Uint8Array): void {
    let text: string;
    try {
      text = new TextDecoder("utf-8", { fatal: true }).decode(bytes).replace(/\r$/, "");
    } catch {
      this.#fail(null, PARSE_ERROR, "Parse error: the message is not UTF-8");
      return;
    }
    if (text.trim() === "") return;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      this.#fail(null, PARSE_ERROR, "Parse error: the message is not JSON");
      return;
    }
    if (Array.isArray(value)) {
      this.#fail(null, INVALID_REQUEST, "Invalid Request: batches are not supported (MCP sends one message a line)");
      return;
    }
    const o = value !== null && typeof value === "object" ? value as Record<string, unknown> : null;
    const id = o !== null && (typeof o.id === "string" || typeof o.id === "number") ? o.id : null;
    if (o === null || o.jsonrpc !== "2.0") {
      if (o === null || "id" in o) this.#fail(id, INVALID_REQUEST, 'Invalid Request: "jsonrpc" must be "2.0"');
      return;
    }
    const parsed = JSONRPCMessageSchema.safeParse(value);
    if (!parsed.success) {
      if ("id" in o) {
        this.#fail(id, INVALID_REQUEST, "Invalid Request: not a JSON-RPC request, response or notification");
      }
      return;
    }
    this.onmessage?.(parsed.data as JSONRPCMessage);
  }

  #fail(id: Id, code: number, message: string): void {
    this.#write({ jsonrpc: "2.0", id, error: { code, message } }).catch((e) => this.onerror?.(e as Error));
  }

  #write(message: unknown): Promise<void> {
    const bytes = this.#encoder.encode(JSON.stringify(message) + "\n");
    this.#writing = this.#writing.then(() => this.#closed ? undefined : this.#writer!.write(bytes));
    return this.#writing;
  }

  /** Sends one message (after those sent before it). */
  send(message: JSONRPCMessage): Promise<void> {
    return this.#write(message);
  }

  /** Stops reading and writing; says so once. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.#writing.catch(() => {});
    this.#closed = true;
    try {
      this.#reader?.releaseLock();
    } catch {
      // A read is pending: it ends with the process.
    }
    try {
      this.#writer?.releaseLock();
    } catch {
      // Released already.
    }
    this.onclose?.();
  }
}
