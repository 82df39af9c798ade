/**
 * libpcap through Deno's FFI: finding the library where the OS keeps it,
 * the functions Plumbum calls, and the few structures it reads (interfaces
 * and their addresses, packet headers, statistics). Nothing here captures
 * by itself; the capture thread (pcap_worker.ts) and `--list-interfaces`
 * use it.
 *
 * @module
 */

import { envVar } from "../../env.ts";

/** libpcap's functions, as Plumbum binds them. */
const SYMBOLS = {
  pcap_lib_version: { parameters: [], result: "pointer" },
  pcap_findalldevs: { parameters: ["buffer", "buffer"], result: "i32" },
  pcap_freealldevs: { parameters: ["pointer"], result: "void" },
  pcap_create: { parameters: ["buffer", "buffer"], result: "pointer" },
  pcap_open_offline: { parameters: ["buffer", "buffer"], result: "pointer" },
  pcap_set_snaplen: { parameters: ["pointer", "i32"], result: "i32" },
  pcap_set_promisc: { parameters: ["pointer", "i32"], result: "i32" },
  pcap_set_timeout: { parameters: ["pointer", "i32"], result: "i32" },
  pcap_set_buffer_size: { parameters: ["pointer", "i32"], result: "i32" },
  pcap_set_immediate_mode: { parameters: ["pointer", "i32"], result: "i32" },
  pcap_activate: { parameters: ["pointer"], result: "i32" },
  pcap_setnonblock: { parameters: ["pointer", "i32", "buffer"], result: "i32" },
  pcap_geterr: { parameters: ["pointer"], result: "pointer" },
  pcap_statustostr: { parameters: ["i32"], result: "pointer" },
  pcap_compile: { parameters: ["pointer", "buffer", "buffer", "i32", "u32"], result: "i32" },
  pcap_setfilter: { parameters: ["pointer", "buffer"], result: "i32" },
  pcap_freecode: { parameters: ["buffer"], result: "void" },
  pcap_datalink: { parameters: ["pointer"], result: "i32" },
  pcap_next_ex: { parameters: ["pointer", "buffer", "buffer"], result: "i32" },
  pcap_stats: { parameters: ["pointer", "buffer"], result: "i32" },
  pcap_close: { parameters: ["pointer"], result: "void" },
} as const satisfies Deno.ForeignLibraryInterface;

/** The bound library. */
export type Libpcap = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

/** Where each OS keeps libpcap, most likely first. */
function libpcapNames(os: string = Deno.build.os): string[] {
  if (os === "darwin") return ["libpcap.A.dylib", "libpcap.dylib", "/usr/lib/libpcap.A.dylib"];
  if (os === "windows") return ["wpcap.dll", "C:\\Windows\\System32\\Npcap\\wpcap.dll"];
  return [
    "libpcap.so.1",
    "libpcap.so.0.8",
    "libpcap.so",
    "/usr/lib/x86_64-linux-gnu/libpcap.so.0.8",
    "/usr/lib/aarch64-linux-gnu/libpcap.so.0.8",
    "/usr/lib64/libpcap.so.1",
    "/usr/lib/libpcap.so.1",
  ];
}

/** What to install when libpcap is missing, per OS. */
function installHint(os: string = Deno.build.os): string {
  if (os === "darwin") return "libpcap ships with macOS; reinstall the Command Line Tools or `brew install libpcap`";
  if (os === "windows") return "install Npcap (https://npcap.com) with its WinPcap-compatible mode";
  return "install libpcap (Debian/Ubuntu: apt-get install libpcap0.8; Fedora/RHEL: dnf install libpcap; Alpine: apk add libpcap)";
}

/** libpcap could not be found or loaded. */
export class LibpcapMissingError extends Error {
  constructor(tried: string[]) {
    super(
      `libpcap was not found (tried ${tried.join(", ")}): ${installHint()}, or name the library in PLUMBUM_LIBPCAP`,
    );
    this.name = "LibpcapMissingError";
  }
}

/** Open libpcap: `PLUMBUM_LIBPCAP` when set, else the OS's usual names. Returns the library and the name that loaded. */
export function openLibpcap(
  candidates: string[] = libpcapCandidates(),
): { lib: Deno.DynamicLibrary<typeof SYMBOLS>; path: string } {
  for (const path of candidates) {
    try {
      return { lib: Deno.dlopen(path, SYMBOLS), path };
    } catch (e) {
      if (e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied) throw e;
    }
  }
  throw new LibpcapMissingError(candidates);
}

/** The names tried: the one in `PLUMBUM_LIBPCAP` alone when it is set. */
function libpcapCandidates(): string[] {
  const named = envVar("PLUMBUM_LIBPCAP");
  return named !== undefined && named !== "" ? [named] : libpcapNames();
}

const encoder = new TextEncoder();

/** A NUL-terminated C string. */
export function cString(s: string): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(encoder.encode(s).length + 1);
  encoder.encodeInto(s, b);
  return b;
}

/** The C string at `p` ("" for NULL). */
export function readCString(p: Deno.PointerValue): string {
  return p === null ? "" : new Deno.UnsafePointerView(p).getCString();
}

/** libpcap's error buffer size (PCAP_ERRBUF_SIZE). */
export const ERRBUF_SIZE = 256;

/** The text in an error buffer. */
export function errbufText(b: Uint8Array): string {
  const end = b.indexOf(0);
  return new TextDecoder().decode(b.subarray(0, end < 0 ? b.length : end)).trim();
}

/** The size of `struct pcap_pkthdr` and where its fields sit: a `struct timeval` of two longs, then caplen and len. */
export function pktHeaderLayout(os: string = Deno.build.os): { caplen: number; len: number; longSize: number } {
  // A long is 8 bytes on 64-bit Linux and macOS, 4 on Windows (LLP64).
  const longSize = os === "windows" ? 4 : 8;
  return { caplen: 2 * longSize, len: 2 * longSize + 4, longSize };
}

/** Status codes of pcap_activate and friends (pcap.h). */
export const PCAP_ERROR = {
  ERROR: -1,
  NO_SUCH_DEVICE: -5,
  PERM_DENIED: -8,
  IFACE_NOT_UP: -9,
  PROMISC_PERM_DENIED: -11,
} as const;

/** Link types that may carry 802.1Q tags in the frame (DLT_EN10MB). */
const ETHERNET = 1;

/**
 * The capture filter that passes what the file path decodes: DNS on
 * `ports` (and mDNS 5353, LLMNR 5355) over UDP and TCP, IPv4 and IPv6, the
 * IP fragments that may belong to them, and on Ethernet the same inside
 * VLAN tags.
 */
export function defaultFilter(ports: number[], linkType: number): string {
  const all = [...new Set([...ports, 5353, 5355])].sort((a, b) => a - b);
  const dns = `(${
    all.map((p) => `port ${p}`).join(" or ")
  } or (ip and ip[6:2] & 0x1fff != 0) or (ip6 and ip6[6] == 44))`;
  return linkType === ETHERNET ? `${dns} or (vlan and ${dns})` : dns;
}

/** An interface libpcap can capture on. */
export interface InterfaceInfo {
  name: string;
  description: string | null;
  addresses: string[];
  loopback: boolean;
  up: boolean;
  running: boolean;
  wireless: boolean;
}

const IF_LOOPBACK = 1, IF_UP = 2, IF_RUNNING = 4, IF_WIRELESS = 8;

/** An address from a `struct sockaddr` (IPv4 and IPv6; others are left out). */
function sockaddrText(p: Deno.PointerValue, os: string): string | null {
  if (p === null) return null;
  const v = new Deno.UnsafePointerView(p);
  // BSD-style sockaddrs start with a length byte, then a one-byte family.
  const bsd = os === "darwin" || os === "freebsd" || os === "openbsd";
  const family = bsd ? v.getUint8(1) : v.getUint16(0);
  const inet6 = os === "darwin" ? 30 : os === "windows" ? 23 : os === "freebsd" ? 28 : 10;
  if (family === 2) return [4, 5, 6, 7].map((i) => v.getUint8(i)).join(".");
  if (family !== inet6) return null;
  const words: string[] = [];
  for (let i = 0; i < 8; i++) words.push(((v.getUint8(8 + 2 * i) << 8) | v.getUint8(9 + 2 * i)).toString(16));
  return compressV6(words);
}

/** The shortest text of an IPv6 address's eight words (RFC 5952: the longest run of zeros as ::). */
function compressV6(words: string[]): string {
  let best = -1, bestLen = 1;
  for (let i = 0; i < 8;) {
    if (words[i] !== "0") {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === "0") j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j;
  }
  if (best < 0) return words.join(":");
  return `${words.slice(0, best).join(":")}::${words.slice(best + bestLen).join(":")}`;
}

/** Every interface libpcap can open (pcap_findalldevs). Throws with libpcap's message when it cannot list them. */
export function listInterfaces(pcap: Libpcap, os: string = Deno.build.os): InterfaceInfo[] {
  const out = new BigUint64Array(1);
  const errbuf = new Uint8Array(ERRBUF_SIZE);
  if (pcap.pcap_findalldevs(out, errbuf) !== 0) throw new Error(`cannot list interfaces: ${errbufText(errbuf)}`);
  const head = Deno.UnsafePointer.create(out[0]);
  const found: InterfaceInfo[] = [];
  try {
    // struct pcap_if { next; name; description; addresses; flags } (pointers, then a u32).
    for (let p = head, n = 0; p !== null && n < 4096; n++) {
      const v = new Deno.UnsafePointerView(p);
      const flags = v.getUint32(32);
      const addresses: string[] = [];
      // struct pcap_addr { next; addr; netmask; broadaddr; dstaddr }.
      for (let a = v.getPointer(24), m = 0; a !== null && m < 256; m++) {
        const av = new Deno.UnsafePointerView(a);
        const text = sockaddrText(av.getPointer(8), os);
        if (text !== null) addresses.push(text);
        a = av.getPointer(0);
      }
      const description = readCString(v.getPointer(16));
      found.push({
        name: readCString(v.getPointer(8)),
        description: description === "" ? null : description,
        addresses,
        loopback: (flags & IF_LOOPBACK) !== 0,
        up: (flags & IF_UP) !== 0,
        running: (flags & IF_RUNNING) !== 0,
        wireless: (flags & IF_WIRELESS) !== 0,
      });
      p = v.getPointer(0);
    }
  } finally {
    if (head !== null) pcap.pcap_freealldevs(head);
  }
  return found;
}

/** libpcap's version line. */
export function libVersion(pcap: Libpcap): string {
  return readCString(pcap.pcap_lib_version());
}
