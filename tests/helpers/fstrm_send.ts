/**
 * A Frame Streams writer for tests, run as its own process (it needs net
 * access, which the test runner is not given for Unix sockets):
 *
 *   deno run --allow-net --allow-read --allow-write fstrm_send.ts ADDRESS FRAMES_FILE
 *
 * ADDRESS is unix:/path or tcp:HOST:PORT; FRAMES_FILE holds data frames
 * (each a 32-bit length and its bytes). It sends READY, expects ACCEPT,
 * sends START, the frames and STOP, expects FINISH, and prints "FINISH".
 */
import { decodeControl, encodeControl, FSTRM } from "../../src/ingest/dnstap.ts";

const [address, framesFile] = Deno.args;
const conn = address.startsWith("unix:")
  ? await Deno.connect({ transport: "unix", path: address.slice(5) })
  : await Deno.connect({ hostname: address.split(":")[1], port: Number(address.split(":")[2]) });
const write = async (b: Uint8Array) => {
  for (let o = 0; o < b.length;) o += await conn.write(b.subarray(o));
};
async function readControl(): Promise<number> {
  const head = new Uint8Array(8);
  for (let o = 0; o < 8;) o += (await conn.read(head.subarray(o))) ?? Infinity;
  const body = new Uint8Array(new DataView(head.buffer).getUint32(4));
  for (let o = 0; o < body.length;) o += (await conn.read(body.subarray(o))) ?? Infinity;
  return decodeControl(body)!.type;
}
const dnstap = "protobuf:dnstap.Dnstap";
await write(encodeControl(FSTRM.READY, dnstap));
if (await readControl() !== FSTRM.ACCEPT) throw new Error("no ACCEPT");
await write(encodeControl(FSTRM.START, dnstap));
await write(Deno.readFileSync(framesFile));
await write(encodeControl(FSTRM.STOP));
if (await readControl() !== FSTRM.FINISH) throw new Error("no FINISH");
conn.close();
console.log("FINISH");
