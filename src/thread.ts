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

/** Worker modules by role: what a single-file build runs when it is started as one of them. */
export const WORKER_ROLES = {
  "plumbum:writer": "./store/writer_worker.ts",
  "plumbum:hash": "./ingest/hash_worker.ts",
  "plumbum:hcl": "./config/hcl_worker.ts",
  "plumbum:pcap": "./ingest/live/pcap_worker.ts",
  "plumbum:file": "./ingest/live/file_worker.ts",
} as const;

/** A role of {@link WORKER_ROLES}. */
export type WorkerRole = keyof typeof WORKER_ROLES;

/**
 * Start the worker module at `url` in role `role`. From source that is the
 * module itself; in a single-file build (`deno task bundle`), where the
 * module is no file of its own, it is the build, which sees its role and
 * runs that module (see {@link serveWorkerRole}).
 */
export function spawnWorker(url: URL, role: WorkerRole): Worker {
  const bundled = !import.meta.url.endsWith(".ts");
  return new Worker(bundled ? new URL(import.meta.url) : url, { type: "module", name: role });
}

/**
 * In a worker started by {@link spawnWorker} from a single-file build: run
 * the module of its role and say so (true); anywhere else, false.
 */
export async function serveWorkerRole(): Promise<boolean> {
  const g = globalThis as { name?: string; WorkerGlobalScope?: unknown };
  if (g.WorkerGlobalScope === undefined || typeof g.name !== "string" || !(g.name in WORKER_ROLES)) return false;
  // Literal specifiers, so a single-file build carries every worker module.
  switch (g.name as WorkerRole) {
    case "plumbum:writer":
      await import("./store/writer_worker.ts");
      break;
    case "plumbum:hash":
      await import("./ingest/hash_worker.ts");
      break;
    case "plumbum:hcl":
      await import("./config/hcl_worker.ts");
      break;
    case "plumbum:pcap":
      await import("./ingest/live/pcap_worker.ts");
      break;
    case "plumbum:file":
      await import("./ingest/live/file_worker.ts");
      break;
  }
  return true;
}

/**
 * Start the worker module at `url`, send it `message`, and settle with its
 * one reply; the worker is stopped once it replies or fails (`reply` then
 * rejects with its error message). `cancel` stops it early.
 */
export function askThread<R>(
  url: URL,
  role: WorkerRole,
  message: unknown,
): { reply: Promise<R>; cancel: () => void } {
  const worker = spawnWorker(url, role);
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
