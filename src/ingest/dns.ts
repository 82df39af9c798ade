/**
 * The DNS wire-format decoder, in parts: {@link ./dns/codes.ts} (numbers and
 * names), {@link ./dns/names.ts} (domain names), {@link ./dns/addresses.ts},
 * {@link ./dns/rdata.ts} (record data and the answer table),
 * {@link ./dns/message.ts} (whole messages: {@link DnsDecoder}) and
 * {@link ./dns/strings.ts} (byte strings).
 *
 * @module
 */

export {
  asciiLower,
  MAX_NAME_LENGTH,
  MAX_POINTER_JUMPS,
  MAX_RECORDS_PER_SECTION,
  rcodeName,
  RRType,
  typeName,
} from "./dns/codes.ts";
export { ipv6 } from "./dns/addresses.ts";
export type { Name } from "./dns/names.ts";
export { DnsDecoder, ReusableMessage } from "./dns/message.ts";
export { bytesToByteString, copyBytes, readCharacterStrings } from "./dns/strings.ts";
