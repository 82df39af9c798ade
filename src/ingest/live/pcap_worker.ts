/**
 * The capture thread: opens an interface with libpcap, filters it, and
 * loops on `pcap_next_ex`, packing frames into batches for the main thread
 * (see protocol.ts). It blocks in libpcap (up to its read timeout) so the
 * main thread's event loop never does; one FFI call per packet happens
 * here, off the main thread.
 *
 * @module
 */

import { PcapWriter } from "../pcap_writer.ts";
import { openOutput } from "../../workspace/output.ts";
import {
  cString,
  defaultFilter,
  ERRBUF_SIZE,
  errbufText,
  type Libpcap,
  libVersion,
  openLibpcap,
  PCAP_ERROR,
  pktHeaderLayout,
  readCString,
} from "./libpcap.ts";
import {
  BatchPacker,
  type CaptureCounters,
  type CaptureSettings,
  type SourceErrorKind,
  type SourceMessage,
  type SourceShared,
  type SourceStart,
} from "./protocol.ts";
import { workerScope } from "../../thread.ts";

const scope = workerScope<SourceStart>();

/**
 * libpcap's read timeout (ms): the longest a packet waits in the kernel's
 * buffer block before libpcap may see it.
 */
const READ_TIMEOUT_MS = 100;
/**
 * Reads do not block (on Linux a blocking read of a quiet link may never
 * return, whatever the timeout): with nothing to read the thread sleeps
 * this long (ms), waking at once when asked to stop.
 */
const IDLE_MS = 5;
/** How often the kernel's counters are read (ms). */
const COUNTERS_MS = 1000;

const post = (m: SourceMessage) => scope.postMessage(m);

class CaptureError extends Error {
  constructor(readonly kind: SourceErrorKind, message: string) {
    super(message);
  }
}

function statusError(pcap: Libpcap, h: Deno.PointerValue, status: number, device: string): CaptureError {
  const detail = readCString(pcap.pcap_geterr(h)) || readCString(pcap.pcap_statustostr(status));
  switch (status) {
    case PCAP_ERROR.NO_SUCH_DEVICE:
      return new CaptureError("no-device", detail);
    case PCAP_ERROR.PERM_DENIED:
    case PCAP_ERROR.PROMISC_PERM_DENIED:
      return new CaptureError("permission", detail);
    case PCAP_ERROR.IFACE_NOT_UP:
      return new CaptureError("not-up", `${device} is not up`);
    default:
      return new CaptureError("other", detail);
  }
}

function counters(pcap: Libpcap, h: Deno.PointerValue, buf: Uint32Array<ArrayBuffer>): CaptureCounters | null {
  if (pcap.pcap_stats(h, buf) !== 0) return null;
  return { received: buf[0], dropped: buf[1], ifDropped: buf[2] };
}

function capture(pcap: Libpcap, s: CaptureSettings, shared: SourceShared): CaptureCounters | null {
  const errbuf = new Uint8Array(ERRBUF_SIZE);
  const h = pcap.pcap_create(cString(s.device), errbuf);
  if (h === null) throw new CaptureError("other", errbufText(errbuf));
  const statsBuf = new Uint32Array(4);
  let dumper: PcapWriter | null = null;
  try {
    pcap.pcap_set_snaplen(h, s.snaplen);
    pcap.pcap_set_promisc(h, s.promisc ? 1 : 0);
    pcap.pcap_set_timeout(h, READ_TIMEOUT_MS);
    if (s.bufferBytes > 0) pcap.pcap_set_buffer_size(h, s.bufferBytes);
    const status = pcap.pcap_activate(h);
    if (status < 0) throw statusError(pcap, h, status, s.device);
    const warning = status > 0
      ? (readCString(pcap.pcap_geterr(h)) || readCString(pcap.pcap_statustostr(status)))
      : null;
    if (pcap.pcap_setnonblock(h, 1, errbuf) !== 0) throw new CaptureError("other", errbufText(errbuf));
    const linkType = pcap.pcap_datalink(h);
    const filter = s.filter ?? defaultFilter(s.dnsPorts, linkType);
    const program = new Uint8Array(16);
    if (pcap.pcap_compile(h, program, cString(filter), 1, 0xffffffff) !== 0) {
      throw new CaptureError("filter", readCString(pcap.pcap_geterr(h)));
    }
    const set = pcap.pcap_setfilter(h, program);
    pcap.pcap_freecode(program);
    if (set !== 0) throw new CaptureError("filter", readCString(pcap.pcap_geterr(h)));
    if (s.save !== null) {
      // Opened here, proved by the handle to be none of the workspace's files, and written only through it.
      try {
        dumper = new PcapWriter(
          openOutput(s.save, s.protect, { option: "--save", what: "the capture", shown: s.saveShown }),
          linkType,
          s.snaplen,
        );
      } catch (e) {
        throw new CaptureError("file", (e as Error).message);
      }
    }
    post({ kind: "ready", linkType, warning, version: libVersion(pcap), filter });

    const layout = pktHeaderLayout();
    const hdrOut = new BigUint64Array(1);
    const dataOut = new BigUint64Array(1);
    const packer = new BatchPacker(shared, post);
    let seen = 0;
    let countersAt = performance.now();
    while (!packer.stopped) {
      if (packer.behind) {
        // The main thread is behind: stop reading, so the kernel's buffer (and its drop counter) takes the excess.
        packer.waitBehind(READ_TIMEOUT_MS);
        continue;
      }
      const r = pcap.pcap_next_ex(h, hdrOut, dataOut);
      if (r === 1) {
        const hdr = Deno.UnsafePointer.create(hdrOut[0])!;
        const data = Deno.UnsafePointer.create(dataOut[0])!;
        const v = new Deno.UnsafePointerView(hdr);
        const sec = layout.longSize === 8 ? v.getUint32(0) + v.getInt32(4) * 4294967296 : v.getInt32(0);
        const usec = layout.longSize === 8 ? v.getUint32(8) : v.getInt32(4);
        const caplen = v.getUint32(layout.caplen);
        const at = packer.reserve(sec + usec / 1e6, caplen, v.getUint32(layout.len), linkType);
        Deno.UnsafePointerView.copyInto(data, packer.bytes.subarray(at, at + caplen));
        if (dumper !== null) {
          try {
            dumper.add(sec + usec / 1e6, packer.bytes.subarray(at, at + caplen), v.getUint32(layout.len));
          } catch (e) {
            throw new CaptureError("file", `--save: cannot write ${s.saveShown}: ${(e as Error).message}`);
          }
        }
        if (s.count > 0 && ++seen >= s.count) break;
      } else if (r === -2) break;
      else if (r < 0) throw new CaptureError("other", readCString(pcap.pcap_geterr(h)));
      const now = performance.now();
      if (r === 0 || packer.due(now)) packer.flush();
      if (r === 0) packer.sleep(IDLE_MS);
      if (now - countersAt >= COUNTERS_MS) {
        countersAt = now;
        const c = counters(pcap, h, statsBuf);
        if (c !== null) post({ kind: "counters", counters: c });
      }
    }
    packer.flush();
    if (dumper !== null) {
      const d = dumper;
      dumper = null;
      try {
        d.close();
      } catch (e) {
        throw new CaptureError("file", `--save: cannot write ${s.saveShown}: ${(e as Error).message}`);
      }
    }
    return counters(pcap, h, statsBuf);
  } finally {
    try {
      dumper?.close();
    } catch {
      // Failing already: the first error is the one said.
    }
    pcap.pcap_close(h);
  }
}

scope.onmessage = (e: MessageEvent<SourceStart>) => {
  const m = e.data;
  if (m.kind !== "capture") return;
  let lib: Deno.DynamicLibrary<Record<string, Deno.ForeignFunction>> | null = null;
  try {
    const opened = openLibpcap([m.settings.library]);
    lib = opened.lib;
    const final = capture(opened.lib.symbols, m.settings, m);
    post({ kind: "end", counters: final });
  } catch (err) {
    const kind = err instanceof CaptureError ? err.kind : "other";
    post({ kind: "error", error: kind, message: (err as Error).message });
  } finally {
    lib?.close();
  }
};

export {};
