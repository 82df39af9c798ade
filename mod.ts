/**
 * Plumbum as a library: read captures and Zeek logs into DNS transactions,
 * score parent domains for tunnelling, store and evaluate the findings.
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
 * A transaction handed to `onTransaction` is recycled once the callback
 * returns (decoding allocates almost nothing per packet): copy it,
 * `{ ...tx }`, to keep it.
 *
 * @module
 */
export * from "./src/ingest/mod.ts";
export { parentDomain } from "./src/analysis/domain.ts";
export { Analyzer, scoreAll } from "./src/analysis/analyze.ts";
export type { AnalyzerOptions, DomainFinding, DomainSummary } from "./src/analysis/analyze.ts";
export { DomainAccumulator } from "./src/analysis/accumulator.ts";
export type { DomainEvidence, DomainFeatures } from "./src/analysis/accumulator.ts";
export { FEATURES, presetModel, PRESETS, scoreDomain, severityOf } from "./src/analysis/model.ts";
export type { Component, ModelConfig, Severity, Thresholds } from "./src/analysis/model.ts";
export { loadConfig, parseConfig, resolveModel } from "./src/config/config.ts";
export { Store } from "./src/store/store.ts";
export { ResultsReader } from "./src/store/reader.ts";
export { DatabaseUnreadableError, SchemaTooNewError, SchemaTooOldError, StoreError } from "./src/store/errors.ts";
export type { RunRecord, SourceRecord, StoredFinding, StoredTransaction } from "./src/store/types.ts";
export { Pipeline } from "./src/run/pipeline.ts";
export type { PipelineOptions } from "./src/run/pipeline.ts";
export { applyFiles } from "./src/run/apply.ts";
export { planFiles } from "./src/run/plan.ts";
export { TumblingWindows } from "./src/analysis/window.ts";
export type { WindowOptions, WindowResult } from "./src/analysis/window.ts";
export { FrameDecoder } from "./src/ingest/frames.ts";
export { evaluate, loadLabeled } from "./src/eval/evaluate.ts";
export { LabelsError, parseLabels } from "./src/eval/labels.ts";
export { tune } from "./src/eval/tune.ts";
export { displayText, escapeTerminal } from "./src/present/escape.ts";
export { VERSION } from "./src/version.ts";
