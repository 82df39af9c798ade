/**
 * Plumbum as a library: read captures and Zeek logs into DNS transactions,
 * and (as the analysis layer lands) score parent domains for tunnelling.
 *
 * @example
 * ```ts
 * import { ingestFile } from "./mod.ts";
 * const stats = await ingestFile("capture.pcap", {
 *   onTransaction: (tx) => {
 *     if (tx.qtype === 16) console.log(tx.queryKey);
 *   },
 * });
 * console.log(`${stats.transactions} transactions, ${stats.malformed} malformed`);
 * ```
 *
 * @module
 */
export * from "./src/ingest/mod.ts";
export { parentDomain } from "./src/analysis/domain.ts";
export { displayText, escapeTerminal } from "./src/present/escape.ts";
export { VERSION } from "./src/version.ts";
