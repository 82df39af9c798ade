/**
 * The bench's second capture: three tunnels whose every query name and TXT
 * answer is new, as a real tunnel's are (the repeated mixed capture asks
 * the same names in every copy, so it never reaches the paths that new
 * names take: building their strings, public-suffix lookups, entropy,
 * distinct counting past the exact limit, compression).
 *
 * @module
 */
import { pcapFile, txtRdata, udpExchange } from "../tests/helpers/build.ts";

/** Bytes one exchange (query and response) takes in the capture. */
const EXCHANGE_BYTES = 534;

/** Write a capture of about `targetBytes` to `path` (kept when one of that many exchanges is there); returns its exchanges. */
export function buildTunnelCapture(path: string, targetBytes: number): number {
  const exchanges = Math.max(1, Math.round(targetBytes / EXCHANGE_BYTES));
  const marker = `${path}.exchanges`;
  try {
    if (Deno.readTextFileSync(marker) === String(exchanges) && Deno.statSync(path).size > 0) return exchanges;
  } catch {
    // build it
  }
  const alphabet = "abcdefghijklmnopqrstuvwxyz234567";
  let seed = 12345;
  const text = (n: number) => {
    let s = "";
    for (let i = 0; i < n; i++) {
      seed = (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff;
      s += alphabet[(seed >>> 16) & 31];
    }
    return s;
  };
  using f = Deno.openSync(path, { write: true, create: true, truncate: true });
  for (let at = 0; at < exchanges; at += 10_000) {
    const packets: { ts: number; data: Uint8Array }[] = [];
    for (let i = at; i < Math.min(exchanges, at + 10_000); i++) {
      const name = `${text(50)}.${text(10)}.t.tun${i % 3}.test`;
      const [q, r] = udpExchange({
        id: i & 0xffff,
        name,
        type: 16,
        port: 1024 + (i % 50_000),
        answer: [{ name, type: 16, rdata: txtRdata(text(150)) }],
      });
      const ts = 1_700_000_000 + i * 0.01;
      packets.push({ ts, data: q }, { ts: ts + 0.002, data: r });
    }
    const bytes = pcapFile(packets);
    // One file header, then each part's records.
    const part = at === 0 ? bytes : bytes.subarray(24);
    for (let off = 0; off < part.length;) off += f.writeSync(part.subarray(off));
  }
  Deno.writeTextFileSync(marker, String(exchanges));
  return exchanges;
}
