/**
 * The ingest layer: bytes and formats in, DNS transactions out.
 *
 * @module
 */
export * from "./types.ts";
export { ingestFile, ingestFiles, InputError, sniffFormat } from "./source.ts";
export type { IngestOptions, InputFormat } from "./source.ts";
export { DnsDecoder, rcodeName, ReusableMessage, RRType, typeName } from "./dns.ts";
export type { Name } from "./dns.ts";
export { LinkType, linkTypeName, PacketDecoder } from "./packet.ts";
export type { MessageMeta, PacketDecoderOptions } from "./packet.ts";
export { TransactionAssembler } from "./transactions.ts";
