/**
 * How the hashing thread keeps pace with the decoder: a shared pair of
 * 32-bit cells. The decoder stores how far it has read (in units of
 * {@link PACE_UNIT} bytes) and, once it stops reading, sets the free cell;
 * the hashing thread reads no further than the decoder until then.
 *
 * Hashing runs at ~1 GB/s, decoding at ~300 MB/s: unpaced, the hashing
 * thread takes a core for the first second of a run while the decoder and
 * the writer thread want both, and sits idle after.
 *
 * @module
 */

/** Cell: bytes the decoder has read, in units of {@link PACE_UNIT}. */
export const PACE_READ = 0;
/** Cell: 1 once the decoder reads no more (the rest may be hashed at full speed). */
export const PACE_FREE = 1;
/** Bytes per unit of {@link PACE_READ} (so the count fits 32 bits up to 128 TB). */
export const PACE_UNIT = 1 << 16;
/** How often a waiting hashing thread looks at the decoder's progress again (it is not woken for it). */
export const PACE_POLL_MS = 5;
