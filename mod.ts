/**
 * Plumbum as a library: read captures and Zeek logs into DNS transactions,
 * score parent domains for tunnelling (as a whole, and in tumbling windows),
 * store runs and read them back.
 *
 * @example
 * ```ts
 * import { ingestFile } from "./mod.ts";
 * const stats = await ingestFile("fixtures/sample.pcap", {
 *   onTransaction: (tx) => {
 *     if (tx.qtype === 16) console.log(tx.queryKey);
 *   },
 * });
 * console.log(`${stats.transactions} transactions, ${stats.malformed} malformed`);
 * ```
 *
 * @example
 * ```ts
 * import { Pipeline, presetModel } from "./mod.ts";
 * const p = new Pipeline({ model: presetModel("tunnel") });
 * await p.ingest(["fixtures/sample.pcap"]);
 * await p.end();
 * console.log(p.findings()[0].domain); // "vale-flow.test"
 * ```
 *
 * A transaction handed to `onTransaction` is recycled once the callback
 * returns (decoding allocates almost nothing per packet): copy it,
 * `{ ...tx }`, to keep it.
 *
 * @module
 */
export * from "./src/ingest/types.ts";
export { captureFrames, ingestFile, ingestFiles, InputError, openInput, sniffFormat } from "./src/ingest/source.ts";
export type {
  IngestOptions,
  Input,
  InputFormat,
  InputReader,
  OpenedInput,
  OpenOptions,
  ReadableInput,
} from "./src/ingest/source.ts";
export { PAIRING_MAX_HELD, PAIRING_MAX_PENDING, PAIRING_TIMEOUT_SECS } from "./src/ingest/transactions.ts";
export type { PairingOptions } from "./src/ingest/transactions.ts";
export type { DnsMessageSink } from "./src/ingest/dnstap.ts";
export type { ZeekSink } from "./src/ingest/zeek.ts";
export { DnsDecoder, rcodeName, typeName } from "./src/ingest/dns/mod.ts";
export type { Name, ReusableMessage } from "./src/ingest/dns/mod.ts";
export type { NameTable } from "./src/ingest/dns/names.ts";
export type { MessageView } from "./src/ingest/dns/words.ts";
export type { AddressTable } from "./src/ingest/dns/addresses.ts";
export type { RDataDecoder } from "./src/ingest/dns/rdata.ts";
export { FrameDecoder, frameOf } from "./src/ingest/frames.ts";
export type { FrameDecoderOptions, FrameSink } from "./src/ingest/frames.ts";
export type { MessageMeta } from "./src/ingest/packet.ts";
export { parentDomain } from "./src/analysis/domain.ts";
export { Analyzer } from "./src/analysis/analyze.ts";
export type { AnalyzerOptions, DomainFinding, DomainSummary, SiteOptions } from "./src/analysis/analyze.ts";
export type {
  DomainEvidence,
  DomainFeatures,
  Lookalike,
  PayloadStream,
  PayloadSummary,
  Suppression,
  ToolMatch,
} from "./src/analysis/types.ts";
export { FEATURES, presetModel, PRESETS, severityOf } from "./src/analysis/model.ts";
export type { Component, FeatureDef, ModelConfig, Normalization, Severity, Thresholds } from "./src/analysis/model.ts";
export { TumblingWindows } from "./src/analysis/window.ts";
export type { SeedSpill } from "./src/analysis/seed.ts";
export { DeflatePool } from "./src/analysis/deflate_pool.ts";
export type { AllowEntry } from "./src/analysis/allow.ts";
export type { WindowOptions, WindowResult } from "./src/analysis/window.ts";
export { ConfigError, loadConfig, parseConfig, resolveModel } from "./src/config/config.ts";
export type { ConfigOverrides, PlumbumConfig } from "./src/config/config.ts";
export { Pipeline } from "./src/run/pipeline.ts";
export type { PipelineOptions, RunSettings } from "./src/run/pipeline.ts";
export type { SourcesProgress } from "./src/run/ingest.ts";
export { applyFiles } from "./src/run/apply.ts";
export type { ApplyFilesOptions, ApplyResult } from "./src/run/apply.ts";
export { Store } from "./src/store/store.ts";
export { SqliteSeedSpill } from "./src/store/seed_spill.ts";
export { ResultsReader } from "./src/store/reader.ts";
export type { FindingsQuery, TableRow } from "./src/store/reader.ts";
export type { TransactionWriter } from "./src/store/writer.ts";
export {
  DatabaseUnreadableError,
  SchemaTooNewError,
  SchemaTooOldError,
  SchemaVersionError,
  StoreError,
} from "./src/store/errors.ts";
export type { RunRecord, RunResults, SourceRecord, StoredFinding, StoredTransaction } from "./src/store/types.ts";
export { displayText, escapeTerminal } from "./src/present/escape.ts";
export { VERSION } from "./src/version.ts";
