/**
 * The DNS wire-format decoder, in parts: {@link ./codes.ts} (numbers and
 * names), {@link ./names.ts} (domain names), {@link ./addresses.ts},
 * {@link ./rdata.ts} (record data and the answer table),
 * {@link ./message.ts} (whole messages: {@link DnsDecoder}) and
 * {@link ./strings.ts} (byte strings).
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
} from "./codes.ts";
export { ipv6 } from "./addresses.ts";
export type { Name } from "./names.ts";
export { DnsDecoder, ReusableMessage } from "./message.ts";
export { bytesToByteString, copyBytes, readCharacterStrings } from "./strings.ts";
