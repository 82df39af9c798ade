/**
 * The scale bench's inputs: N registered domains asked once each (an A
 * query answered with one address), from a few hundred clients over a day,
 * as a busy resolver's long tail looks, as a capture and as the Zeek
 * dns.log of the same exchanges. Every domain is new, so the analyzer's
 * state per domain is all that grows.
 *
 *   deno run -A bench/domains.ts PATH N     (PATH ending in .log: the Zeek log)
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

/** The i-th exchange of `domains`: its time, client, client port and id, name and answer (one A record). */
function exchange(i: number, domains: number, secs: number) {
  return {
    ts: 1_700_000_000 + (i / domains) * secs,
    client: `10.0.${(i >>> 8) & 3}.${10 + (i % 200)}`,
    port: 1024 + (i % 50_000),
    id: i & 0xffff,
    name: domainName(i),
    address: [198, 51, (i >>> 8) & 255, i & 255],
  };
}

/** Write `path` in parts of 10 000 exchanges (`part(from, to)` gives their bytes), unless a marker says it is there. */
function buildOnce(path: string, domains: number, part: (from: number, to: number) => Uint8Array): void {
  const marker = `${path}.domains`;
  try {
    if (Deno.readTextFileSync(marker) === String(domains) && Deno.statSync(path).size > 0) return;
  } catch {
    // build it
  }
  using f = Deno.openSync(path, { write: true, create: true, truncate: true });
  for (let at = 0; at < domains; at += 10_000) {
    const bytes = part(at, Math.min(domains, at + 10_000));
    for (let off = 0; off < bytes.length;) off += f.writeSync(bytes.subarray(off));
  }
  Deno.writeTextFileSync(marker, String(domains));
}

/** Write (or keep) a capture of `domains` one-query domains at `path`; spread over `secs` seconds. */
export function buildDomainsCapture(path: string, domains: number, secs = 86_400): void {
  buildOnce(path, domains, (from, to) => {
    const packets: { ts: number; data: Uint8Array }[] = [];
    for (let i = from; i < to; i++) {
      const x = exchange(i, domains, secs);
      const [q, r] = udpExchange({
        id: x.id,
        client: x.client,
        name: x.name,
        port: x.port,
        answer: [{ name: x.name, type: 1, rdata: x.address }],
      });
      packets.push({ ts: x.ts, data: q }, { ts: x.ts + 0.003, data: r });
    }
    const bytes = pcapFile(packets);
    return from === 0 ? bytes : bytes.subarray(24);
  });
}

/** The header of Zeek's dns.log (TSV), as Zeek 6 writes it. */
const ZEEK_HEADER = [
  "#separator \\x09",
  "#set_separator\t,",
  "#empty_field\t(empty)",
  "#unset_field\t-",
  "#path\tdns",
  "#open\t2023-11-14-22-13-20",
  "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\ttrans_id\trtt\tquery\tqclass\tqclass_name\tqtype\tqtype_name\trcode\trcode_name\tAA\tTC\tRD\tRA\tZ\tanswers\tTTLs\trejected",
  "#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tcount\tinterval\tstring\tcount\tstring\tcount\tstring\tcount\tstring\tbool\tbool\tbool\tbool\tcount\tvector[string]\tvector[interval]\tbool",
].join("\n") + "\n";

/** Write (or keep) the same exchanges as {@link buildDomainsCapture} as Zeek's dns.log at `path` (a day's log). */
export function buildDomainsZeekLog(path: string, domains: number, secs = 86_400): void {
  const enc = new TextEncoder();
  buildOnce(path, domains, (from, to) => {
    let text = from === 0 ? ZEEK_HEADER : "";
    for (let i = from; i < to; i++) {
      const x = exchange(i, domains, secs);
      text +=
        `${x.ts.toFixed(6)}\tC${
          i.toString(36)
        }\t${x.client}\t${x.port}\t10.0.0.1\t53\tudp\t${x.id}\t0.003000\t${x.name}` +
        `\t1\tC_INTERNET\t1\tA\t0\tNOERROR\tF\tF\tT\tT\t0\t${x.address.join(".")}\t300.000000\tF\n`;
    }
    if (to === domains) text += "#close\t2023-11-15-22-13-20\n";
    return enc.encode(text);
  });
}

if (import.meta.main) {
  const [path, n] = Deno.args;
  (path.endsWith(".log") ? buildDomainsZeekLog : buildDomainsCapture)(path, Number(n));
  console.log(`${path}: ${Deno.statSync(path).size} bytes`);
}
