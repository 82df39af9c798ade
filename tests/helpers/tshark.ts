/**
 * Test helpers: read tshark field dumps and decode captures message by
 * message, with the number of the frame that completed each message.
 */
import { ByteStream } from "../../src/ingest/bytes.ts";
import { isPcapng, readPcap, readPcapng } from "../../src/ingest/capture.ts";
import { type MessageMeta, PacketDecoder } from "../../src/ingest/packet.ts";
import type { DnsMessage } from "../../src/ingest/types.ts";

/** One row of a tshark TSV dump, by column name. */
export type TsharkRow = Record<string, string>;

/** Parse a tshark `-T fields -E header=y` dump. */
export function readTsharkTsv(path: string): TsharkRow[] {
  const lines = Deno.readTextFileSync(path).split("\n").filter((l) => l.length > 0);
  const header = lines[0].split("\t");
  return lines.slice(1).map((l) => {
    const cells = l.split("\t");
    const row: TsharkRow = {};
    header.forEach((h, i) => row[h] = cells[i] ?? "");
    return row;
  });
}

/** A decoded message with the 1-based frame number that completed it. */
export interface FramedMessage {
  frame: number;
  message: DnsMessage;
  meta: MessageMeta;
}

/** Decode every DNS message of a capture file. */
export async function decodeCapture(path: string): Promise<{ messages: FramedMessage[]; malformed: string[] }> {
  const file = await Deno.open(path);
  try {
    const s = new ByteStream((b) => file.read(b));
    const messages: FramedMessage[] = [];
    const malformed: string[] = [];
    let frame = 0;
    const dec = new PacketDecoder(
      (message, meta) => messages.push({ frame, message, meta: { ...meta } }),
      (r) => malformed.push(`frame ${frame}: ${r}`),
    );
    const head = await s.peek(4);
    const read = isPcapng(head) ? readPcapng : readPcap;
    await read(s, {
      frame(f) {
        frame++;
        dec.frame(f);
      },
      problem(r, off) {
        malformed.push(`offset ${off}: ${r}`);
      },
      linkType() {},
    });
    return { messages, malformed };
  } finally {
    file.close();
  }
}
