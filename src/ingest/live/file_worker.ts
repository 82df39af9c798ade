/**
 * The thread that reads a capture file as if it were live (`stream
 * --read`): Plumbum's own readers (pcap, pcapng, gzip, damage counted)
 * hand frames to a packer instead of a decoder, paced at the capture's own
 * speed or a multiple of it, with the capture clock posted while it waits
 * so the main thread closes windows on time.
 *
 * @module
 */

import { captureFrames, InputError, openInput } from "../source.ts";
import { BatchPacker, type FileSettings, type SourceMessage, type SourceShared, type SourceStart } from "./protocol.ts";
import { workerScope } from "../../thread.ts";

const scope = workerScope<SourceStart>();

/** How often the capture clock is posted while pacing (ms). */
const CLOCK_MS = 200;

const post = (m: SourceMessage) => scope.postMessage(m);

/** Thrown out of the frame sink to end a read the main thread stopped. */
class Stopped extends Error {}

async function read(s: FileSettings, shared: SourceShared): Promise<void> {
  const packer = new BatchPacker(shared, post);
  let first = -1;
  let wallStart = 0;
  let seen = 0;
  let readyLink = -1;
  /** Wait until the capture clock, run at `speed`, reaches `ts`. */
  const pace = (ts: number) => {
    if (first < 0) {
      first = ts;
      wallStart = performance.now();
    }
    for (let n = 0; n < 1e6; n++) {
      const wait = (ts - first) * 1000 / s.speed - (performance.now() - wallStart);
      if (wait <= 0 || packer.stopped) return;
      packer.flush();
      packer.sleep(Math.min(wait, CLOCK_MS));
      post({ kind: "clock", now: first + (performance.now() - wallStart) * s.speed / 1000 });
    }
  };
  const input = await openInput(s.path);
  try {
    const logs = input.stats.format === "dnstap" ? "dnstap" : "logs";
    await captureFrames(input, `--read replays packets (analyze ${logs} with apply)`)({
      frame(f) {
        if (readyLink < 0) {
          readyLink = f.linkType;
          post({ kind: "ready", linkType: f.linkType, warning: null, version: "", filter: null });
        }
        if (s.speed > 0) pace(f.ts);
        if (packer.stopped) throw new Stopped();
        const caplen = f.end - f.start;
        const at = packer.reserve(f.ts, caplen, f.origLen, f.linkType);
        packer.bytes.set(f.data.subarray(f.start, f.end), at);
        if (packer.due(performance.now())) packer.flush();
        if (s.count > 0 && ++seen >= s.count) throw new Stopped();
      },
      problem(reason, offset) {
        packer.flush();
        post({ kind: "problem", reason, offset });
      },
      linkType() {},
      end() {},
    });
  } catch (e) {
    if (!(e instanceof Stopped)) throw e;
  } finally {
    await input.close();
  }
  packer.flush();
  if (readyLink < 0) post({ kind: "ready", linkType: 1, warning: null, version: "", filter: null });
}

scope.onmessage = async (e: MessageEvent<SourceStart>) => {
  const m = e.data;
  if (m.kind !== "file") return;
  try {
    await read(m.settings, m);
    post({ kind: "end", counters: null });
  } catch (err) {
    post({ kind: "error", error: err instanceof InputError ? "file" : "other", message: (err as Error).message });
  }
};

export {};
