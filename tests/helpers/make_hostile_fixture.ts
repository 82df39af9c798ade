/**
 * Writes fixtures/hostile-names.pcap: DNS traffic whose names and TXT
 * strings are built to break every output — ANSI escapes, quotes, newlines,
 * `#`, `:`, leading `=`/`+`/`-`/`@`, commas, tabs, NUL and bytes that are not
 * UTF-8 — under a few parent domains, one of them hostile itself.
 *
 * Run: deno run --allow-write tests/helpers/make_hostile_fixture.ts
 */
import { dnsMessage, ether, ipv4, pcapFile, txtRdata, udp } from "./build.ts";

/** Labels that each try to break a sink. */
export const HOSTILE_LABELS = [
  "\x1b[31mred\x1b[0m",
  "quote\"d'",
  "new\nline",
  "carriage\rreturn",
  "hash#tag",
  "colon:key",
  "=cmd|' /C calc'!A0",
  "+plus",
  "-minus",
  "@at",
  "comma,sep",
  "tab\there",
  "nul\x00byte",
  "bad\xff\xfeutf8",
  "bidi\u202e",
  "yaml: [x, {y: z}]",
  "- list",
  "&anchor *alias !tag",
  "back\\slash",
];

/** Parent domains: ordinary ones, and one whose own label is hostile. */
export const HOSTILE_PARENTS = ["evil-sink.test", "=1+1.test", "\x1b]0;pwn\x07.test"];

function build(): Uint8Array {
  const frames: { ts: number; data: Uint8Array }[] = [];
  let id = 1;
  let t = 1700000000;
  for (const parent of HOSTILE_PARENTS) {
    for (const label of HOSTILE_LABELS) {
      // Byte strings: chars above 0xff are UTF-8 encoded by hand.
      const bytes = Array.from(new TextEncoder().encode(label.replace(/[\x80-\xff]/g, "")));
      const raw = label.replace(/[^\x80-\xff]/g, "");
      const name = String.fromCharCode(...bytes, ...Array.from(raw, (c) => c.charCodeAt(0))).replace(/\./g, "_") + "." +
        parent;
      const q = dnsMessage({ id, questions: [{ name, type: 16 }] });
      const r = dnsMessage({
        id,
        qr: true,
        questions: [{ name, type: 16 }],
        answers: [{ name, type: 16, rdata: txtRdata(name.slice(0, 200), 'v="1"\n#x') }],
      });
      const port = 30000 + id;
      frames.push({ ts: t, data: ether(0x0800, ipv4("10.9.0.2", "10.9.0.1", 17, udp(port, 53, q))) });
      frames.push({ ts: t + 0.01, data: ether(0x0800, ipv4("10.9.0.1", "10.9.0.2", 17, udp(53, port, r))) });
      id++;
      t += 0.5;
    }
  }
  return pcapFile(frames);
}

/** The fixture's bytes. */
export const HOSTILE_PCAP = build();

if (import.meta.main) {
  const out = new URL("../../fixtures/hostile-names.pcap", import.meta.url);
  Deno.writeFileSync(out, HOSTILE_PCAP);
  console.log(`wrote ${out.pathname} (${HOSTILE_PCAP.length} bytes)`);
}
