/**
 * A small cache keyed by the decoder's name numbers ({@link Transaction.queryRef}):
 * one slot per value of a number's low bits, holding the last number seen
 * there. The decoder numbers names in the order it first builds them, so
 * the names asked lately have distinct low bits, and a lookup is one array
 * read instead of hashing the name.
 *
 * @module
 */
import type { Transaction } from "./types.ts";

/** Values by name number; numbers of 0 or less (none) are never kept. */
export class ByNameRef<V> {
  readonly #keys: Float64Array;
  readonly #values: (V | undefined)[];
  readonly #mask: number;

  constructor(bits: number) {
    this.#keys = new Float64Array(1 << bits);
    this.#values = new Array(1 << bits).fill(undefined);
    this.#mask = (1 << bits) - 1;
  }

  /** The value kept for `ref`, if it is still the one in its slot. */
  get(ref: number): V | undefined {
    // The low bits of a number past 2^31 too (ToInt32 keeps them).
    const at = ref & this.#mask;
    return ref > 0 && this.#keys[at] === ref ? this.#values[at] : undefined;
  }

  /** Keep `value` for `ref` (in place of whatever shared its slot). */
  set(ref: number, value: V): void {
    if (!(ref > 0)) return;
    const at = ref & this.#mask;
    this.#keys[at] = ref;
    this.#values[at] = value;
  }

  /** Forget every value. */
  clear(): void {
    this.#keys.fill(0);
    this.#values.fill(undefined);
  }
}

/** The name number of a transaction's query (0: none). */
export function queryRefOf(tx: Transaction): number {
  return tx.queryRef ?? 0;
}
