/**
 * Worker threads, the mechanism only: a thread for one piece of work (a
 * worker module that answers one message with one reply and is then
 * stopped: the SHA-256 of a large file, the parse of an edited config.hcl),
 * and a few threads answering a list of requests side by side, the answers
 * in the list's order (`validate --jobs`, `eval --jobs`).
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
 * A worker module: its role (the thread's name, which a single-file build
 * runs it by; see `src/workers.ts`) and where it is, beside the module
 * that starts it (`new URL("./x_worker.ts", import.meta.url)`).
 */
export interface WorkerModule {
  role: string;
  url: URL;
}

/**
 * Start the worker module `w`. From source that is the module itself; in a
 * single-file build (`deno task bundle`), where the module is no file of its
 * own, it is the build, which sees its role and runs that module (see
 * {@link serveWorkerRole}).
 */
export function spawnWorker(w: WorkerModule): Worker {
  const bundled = !import.meta.url.endsWith(".ts");
  return new Worker(bundled ? new URL(import.meta.url) : w.url, { type: "module", name: w.role });
}

/**
 * In a worker started by {@link spawnWorker} from a single-file build: run
 * the module of its role, from `modules` (the build's manifest of literal
 * imports), and say so (true); anywhere else, false.
 */
export async function serveWorkerRole(modules: Record<string, () => Promise<unknown>>): Promise<boolean> {
  const g = globalThis as { name?: string; WorkerGlobalScope?: unknown };
  if (g.WorkerGlobalScope === undefined || typeof g.name !== "string" || !Object.hasOwn(modules, g.name)) {
    return false;
  }
  await modules[g.name]();
  return true;
}

/**
 * Start the worker module `w`, send it `message`, and settle with its
 * one reply; the worker is stopped once it replies or fails (`reply` then
 * rejects with its error message). `cancel` stops it early.
 */
export function askThread<R>(w: WorkerModule, message: unknown): { reply: Promise<R>; cancel: () => void } {
  const worker = spawnWorker(w);
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

/** Threads to use: `jobs` when given, else the machine's cores. */
export function threadCount(jobs?: number): number {
  return jobs ?? navigator.hardwareConcurrency ?? 1;
}

/** A request of {@link mapInThreads} as a thread receives it: which one it is, and what is asked. */
export interface ThreadRequest<Req> {
  index: number;
  request: Req;
}

/** A thread's answer to the request numbered `index`. */
export interface ThreadReply<Rep> {
  index: number;
  reply: Rep;
}

/**
 * Each of `requests` answered by a thread of worker module `w` (up to
 * `jobs` threads; a thread takes the next request once it has answered
 * one), the answers in the order of `requests`, whatever order they came
 * in. `onDone` hears of each. A thread that fails rejects the whole with
 * its error (the work it could not do has no answer to give); every thread
 * is stopped before this settles. The module answers with
 * {@link answerRequests}.
 */
export async function mapInThreads<Req, Rep>(
  w: WorkerModule,
  requests: readonly Req[],
  jobs: number,
  onDone?: (done: number, of: number) => void,
): Promise<Rep[]> {
  const out: Rep[] = new Array(requests.length);
  let next = 0, done = 0;
  const workers = Array.from({ length: Math.max(1, Math.min(jobs, requests.length)) }, () => spawnWorker(w));
  const what = w.role.replace(/^.*:/, "");
  try {
    await Promise.all(workers.map((worker) =>
      new Promise<void>((resolve, reject) => {
        const give = () => {
          if (next >= requests.length) return resolve();
          const index = next++;
          worker.postMessage({ index, request: requests[index] } satisfies ThreadRequest<Req>);
        };
        worker.onmessage = (e: MessageEvent<ThreadReply<Rep>>) => {
          out[e.data.index] = e.data.reply;
          onDone?.(++done, requests.length);
          give();
        };
        worker.onerror = (e) => {
          e.preventDefault();
          reject(new Error(`a ${what} thread failed: ${e.message}`));
        };
        give();
      })
    ));
  } finally {
    for (const worker of workers) worker.terminate();
  }
  return out;
}

/** In a worker module of {@link mapInThreads}: answer each request with what `answer` gives. */
export function answerRequests<Req, Rep>(answer: (request: Req) => Rep | Promise<Rep>): void {
  const scope = workerScope<ThreadRequest<Req>>();
  scope.onmessage = async (e: MessageEvent<ThreadRequest<Req>>) => {
    const { index, request } = e.data;
    scope.postMessage({ index, reply: await answer(request) } satisfies ThreadReply<Rep>);
  };
}
