/**
 * Every worker module by role, as literal imports: the manifest a
 * single-file build needs to carry them all and to run one in a worker
 * thread (`serveWorkerRole` in `src/thread.ts`). Imported by the entry
 * points only (`cli.ts`, `mcp.ts`); each module that starts a worker names
 * its own by URL.
 *
 * @module
 */

/** Role → the import that runs the worker module. */
export const WORKER_MODULES: Record<string, () => Promise<unknown>> = {
  "plumbum:writer": () => import("./store/writer_worker.ts"),
  "plumbum:hash": () => import("./ingest/hash_worker.ts"),
  "plumbum:hcl": () => import("./config/hcl_worker.ts"),
  "plumbum:pcap": () => import("./ingest/live/pcap_worker.ts"),
  "plumbum:file": () => import("./ingest/live/file_worker.ts"),
  "plumbum:validate": () => import("./ingest/validate_worker.ts"),
  "plumbum:deflate": () => import("./analysis/deflate_worker.ts"),
  "plumbum:summarize": () => import("./eval/summarize_worker.ts"),
};
