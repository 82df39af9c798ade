/**
 * The scale bench's capture: N registered domains asked once each (an A
 * query answered with one address), from a few hundred clients over a day,
 * as a busy resolver's long tail looks. Every domain is new, so the
 * analyzer's state per domain is all that grows.
 *
 * @module
 */
import { pcapFile, udpExchange } from "../tests/helpers/build.ts";

/** Bytes one exchange takes in the capture (about). */
export const DOMAIN_EXCHANGE_BYTES = 186;

const WORDS = ["shop", "news", "cloud", "mail", "data", "app", "net", "web", "info", "media", "home", "blog"];
const TLDS = ["com", "net", "org", "de", "io", "co.uk", "fr", "nl"];

/** The i-th domain's name: an ordinary-looking registered domain under a real suffix. */
export function domainName(i: number): string {
  const w = WORDS[i % WORDS.length] + WORDS[(i >>> 4) % WORDS.length];
  return `www.${w}${i.toString(36)}.${TLDS[i % TLDS.length]}`;
}

/** Write (or keep) a capture of `domains` one-query domains at `path`; spread over `secs` seconds. */
export function buildDomainsCapture(path: string, domains: number, secs = 86_400): void {
  const marker = `${path}.domains`;
  try {
    if (Deno.readTextFileSync(marker) === String(domains) && Deno.statSync(path).size > 0) return;
  } catch {
    // build it
  }
  using f = Deno.openSync(path, { write: true, create: true, truncate: true });
  for (let at = 0; at < domains; at += 10_000) {
    const packets: { ts: number; data: Uint8Array }[] = [];
    for (let i = at; i < Math.min(domains, at + 10_000); i++) {
      const name = domainName(i);
      const [q, r] = udpExchange({
        id: i & 0xffff,
        client: `10.0.${(i >>> 8) & 3}.${10 + (i % 200)}`,
        name,
        port: 1024 + (i % 50_000),
        answer: [{ name, type: 1, rdata: [198, 51, (i >>> 8) & 255, i & 255] }],
      });
      const ts = 1_700_000_000 + (i / domains) * secs;
      packets.push({ ts, data: q }, { ts: ts + 0.003, data: r });
    }
    const bytes = pcapFile(packets);
    const part = at === 0 ? bytes : bytes.subarray(24);
    for (let off = 0; off < part.length;) off += f.writeSync(part.subarray(off));
  }
  Deno.writeTextFileSync(marker, String(domains));
}

if (import.meta.main) {
  const [path, n] = Deno.args;
  buildDomainsCapture(path, Number(n));
  console.log(`${path}: ${Deno.statSync(path).size} bytes`);
}
