/**
 * A thread for one piece of work: a worker module that answers one message
 * with one reply and is then stopped (the SHA-256 of a large file, the parse
 * of an edited config.hcl).
 *
 * @module
 */

/**
 * Start the worker module at `url`, send it `message`, and settle with its
 * one reply; the worker is stopped once it replies or fails (`reply` then
 * rejects with its error message). `cancel` stops it early.
 */
export function askThread<R>(url: URL, message: unknown): { reply: Promise<R>; cancel: () => void } {
  const worker = new Worker(url, { type: "module" });
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
