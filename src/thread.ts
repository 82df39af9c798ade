/**
 * A thread for one piece of work: a worker module that answers one message
 * with one reply and is then stopped (the SHA-256 of a large file, the parse
 * of an edited config.hcl).
 *
 * @module
 */

/** What a worker module uses of its global scope (typed here: a published module may not change the globals' lib). */
export interface WorkerScope<In> {
  onmessage: ((e: MessageEvent<In>) => void | Promise<void>) | null;
  postMessage(message: unknown, transfer?: Transferable[]): void;
}

/** The global scope of the worker this module runs in. */
export function workerScope<In>(): WorkerScope<In> {
  return globalThis as unknown as WorkerScope<In>;
}

/**
 * Worker modules by role: where each is, beside this file, and how a
 * single-file build loads it (literal specifiers, so the build carries
 * every one).
 */
const WORKERS = {
  "plumbum:writer": { path: "./store/writer_worker.ts", load: () => import("./store/writer_worker.ts") },
  "plumbum:hash": { path: "./ingest/hash_worker.ts", load: () => import("./ingest/hash_worker.ts") },
  "plumbum:hcl": { path: "./config/hcl_worker.ts", load: () => import("./config/hcl_worker.ts") },
  "plumbum:pcap": { path: "./ingest/live/pcap_worker.ts", load: () => import("./ingest/live/pcap_worker.ts") },
  "plumbum:file": { path: "./ingest/live/file_worker.ts", load: () => import("./ingest/live/file_worker.ts") },
} as const;

/** A worker module's role (its thread's name). */
export type WorkerRole = keyof typeof WORKERS;

/**
 * Start the worker module of `role`. From source that is the module
 * itself; in a single-file build (`deno task bundle`), where the module is
 * no file of its own, it is the build, which sees its role and runs that
 * module (see {@link serveWorkerRole}).
 */
export function spawnWorker(role: WorkerRole): Worker {
  const bundled = !import.meta.url.endsWith(".ts");
  const url = new URL(bundled ? import.meta.url : WORKERS[role].path, import.meta.url);
  return new Worker(url, { type: "module", name: role });
}

/**
 * In a worker started by {@link spawnWorker} from a single-file build: run
 * the module of its role and say so (true); anywhere else, false.
 */
export async function serveWorkerRole(): Promise<boolean> {
  const g = globalThis as { name?: string; WorkerGlobalScope?: unknown };
  if (g.WorkerGlobalScope === undefined || typeof g.name !== "string" || !Object.hasOwn(WORKERS, g.name)) {
    return false;
  }
  await WORKERS[g.name as WorkerRole].load();
  return true;
}

/**
 * Start the worker module of `role`, send it `message`, and settle with its
 * one reply; the worker is stopped once it replies or fails (`reply` then
 * rejects with its error message). `cancel` stops it early.
 */
export function askThread<R>(role: WorkerRole, message: unknown): { reply: Promise<R>; cancel: () => void } {
  const worker = spawnWorker(role);
  const reply = new Promise<R>((resolve, reject) => {
    worker.onmessage = (e: MessageEvent<R>) => {
      worker.terminate();
      resolve(e.data);
    };
    worker.onerror = (e) => {
      e.preventDefault();
      worker.terminate();
      reject(new Error(e.message));
    };
  });
  worker.postMessage(message);
  return { reply, cancel: () => worker.terminate() };
}
