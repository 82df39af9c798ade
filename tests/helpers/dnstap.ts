/**
 * dnstap built for tests: Dnstap protobufs written with @bufbuild/protobuf's
 * wire writer, in Frame Streams files (START, data frames, STOP).
 */
import { BinaryWriter, WireType } from "npm:@bufbuild/protobuf@2.17.0/wire";
import { concat, ip6Bytes } from "./build.ts";
import { encodeControl } from "../../src/ingest/dnstap.ts";

/** One dnstap message's fields (see dnstap.proto). */
export interface TapMessage {
  type: number;
  queryAddress: string;
  responseAddress: string;
  queryPort: number;
  responsePort?: number;
  /** Seconds since the epoch. */
  time: number;
  message: Uint8Array;
  protocol?: number;
}

function addressBytes(a: string): Uint8Array {
  return a.includes(":") ? Uint8Array.from(ip6Bytes(a)) : Uint8Array.from(a.split(".").map(Number));
}

/** A Dnstap protobuf of type MESSAGE. */
export function dnstapFrame(m: TapMessage, identity = "test-resolver"): Uint8Array {
  const query = m.type % 2 === 1;
  const sec = Math.floor(m.time), nsec = Math.round((m.time - sec) * 1e9);
  const inner = new BinaryWriter()
    .tag(1, WireType.Varint).int32(m.type)
    .tag(2, WireType.Varint).int32(m.queryAddress.includes(":") ? 2 : 1)
    .tag(3, WireType.Varint).int32(m.protocol ?? 1)
    .tag(4, WireType.LengthDelimited).bytes(addressBytes(m.queryAddress))
    .tag(5, WireType.LengthDelimited).bytes(addressBytes(m.responseAddress))
    .tag(6, WireType.Varint).uint32(m.queryPort)
    .tag(7, WireType.Varint).uint32(m.responsePort ?? 53)
    .tag(query ? 8 : 12, WireType.Varint).uint64(sec)
    .tag(query ? 9 : 13, WireType.Bit32).fixed32(nsec)
    .tag(query ? 10 : 14, WireType.LengthDelimited).bytes(m.message)
    .finish();
  return new BinaryWriter()
    .tag(1, WireType.LengthDelimited).bytes(new TextEncoder().encode(identity))
    .tag(15, WireType.Varint).int32(1)
    .tag(14, WireType.LengthDelimited).bytes(inner)
    .finish();
}

/** A data frame: its length, then its bytes. */
export function dataFrame(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + payload.length);
  new DataView(out.buffer).setUint32(0, payload.length);
  out.set(payload, 4);
  return out;
}

export const DNSTAP = "protobuf:dnstap.Dnstap";

/** A Frame Streams file of dnstap: START, the frames, STOP. */
export function frameStreamFile(frames: Uint8Array[]): Uint8Array {
  return concat(encodeControl(2, DNSTAP), ...frames.map(dataFrame), encodeControl(3));
}
