/**
 * The buffered reader under every parser: whatever the sizes of the reads
 * beneath it and of the records asked of it, with or without reading ahead,
 * the window holds the input's bytes at the offsets it claims.
 */
import assert from "node:assert/strict";
import fc from "npm:fast-check@4.11.0";
import { ByteStream } from "../src/ingest/bytes.ts";

/** Input of `size` bytes, each telling its own offset apart from its neighbours'. */
const WHOLE = (() => {
  const b = new Uint8Array(10 << 20);
  for (let i = 0; i < b.length; i++) b[i] = (i * 131 + (i >> 8) * 7) & 0xff;
  return b;
})();
function input(size: number): Uint8Array {
  return WHOLE.subarray(0, size);
}

/** A read function handing out `src` in pieces of the given sizes (in turn), asynchronously. */
function pieces(
  src: Uint8Array,
  sizes: number[],
): { read: (b: Uint8Array) => Promise<number | null>; reads: () => number } {
  let at = 0;
  let calls = 0;
  let inFlight = 0;
  return {
    read: async (into) => {
      calls++;
      inFlight++;
      assert.equal(inFlight, 1, "two reads in flight at once");
      await null;
      inFlight--;
      if (at >= src.length) return null;
      const n = Math.min(into.length, src.length - at, sizes[calls % sizes.length]);
      into.set(src.subarray(at, at + n));
      at += n;
      return n;
    },
    reads: () => calls,
  };
}

Deno.test("ByteStream: the window holds the input's bytes at its offsets, reading ahead or not, for any read and record sizes", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 0, max: 3 << 20 }),
      // Read sizes: some tiny (the first pieces of a pipe), most large.
      fc.array(fc.oneof(fc.integer({ min: 1, max: 64 }), fc.integer({ min: 4096, max: 1 << 20 })), {
        minLength: 1,
        maxLength: 8,
      }).filter((a) => a.some((n) => n >= 4096)),
      // Record sizes: small ones and some above the read-ahead's 512 KB room.
      fc.array(fc.oneof(fc.integer({ min: 1, max: 4096 }), fc.integer({ min: 1, max: 1_200_000 })), {
        minLength: 1,
        maxLength: 12,
      }),
      fc.boolean(),
      async (size, readSizes, records, readAhead) => {
        const src = input(size);
        const { read } = pieces(src, readSizes);
        const s = new ByteStream(read, { readAhead });
        let pos = 0;
        for (let i = 0; pos < size; i++) {
          const n = records[i % records.length];
          const ok = await s.fill(n);
          assert.equal(ok, size - pos >= n, `fill(${n}) at ${pos} of ${size}`);
          assert.equal(s.offset, pos);
          const have = Math.min(n, size - pos);
          assert.ok(s.available >= have);
          // Byte for byte (a deepEqual of megabytes takes seconds).
          const got = s.buf.subarray(s.start, s.start + have);
          let same = got.length === have;
          for (let k = 0; same && k < have; k++) same = got[k] === src[pos + k];
          assert.ok(same, `bytes at ${pos}..${pos + have} differ`);
          s.start += have;
          pos += have;
        }
        assert.equal(await s.fill(1), false);
        assert.equal(s.offset, size);
        await s.settle();
      },
    ),
    { numRuns: 60 },
  );
});

Deno.test("ByteStream: reading ahead keeps one read in flight, and settle() waits for it", async () => {
  const src = input(10 << 20);
  const { read, reads } = pieces(src, [1 << 20]);
  const s = new ByteStream(read, { readAhead: true });
  assert.ok(await s.fill(100));
  // The first read filled the window; the next one is already on its way.
  assert.equal(reads(), 2);
  s.start = s.end;
  assert.ok(await s.fill(100));
  assert.equal(s.offset, 1 << 20);
  assert.equal(reads(), 3);
  // A record larger than the room before the read-ahead's bytes, with more than that room left unread:
  // the rest and the read-ahead's bytes are joined by copying.
  s.start += 300_000;
  assert.ok(await s.fill(1_000_000));
  assert.equal(s.offset, (1 << 20) + 300_000);
  for (let k = 0; k < 1_000_000; k += 997) assert.equal(s.buf[s.start + k], src[s.offset + k], `byte ${k}`);
  assert.equal(reads(), 4);
  await s.settle();
  assert.equal(reads(), 4);
  // Without reading ahead, nothing is read before it is needed.
  const lazy = pieces(src, [1 << 20]);
  const t = new ByteStream(lazy.read);
  assert.ok(await t.fill(100));
  assert.equal(lazy.reads(), 1);
});
