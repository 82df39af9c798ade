/**
 * A live run's timers. On a live link or socket the wall clock moves the
 * windows when nothing arrives (a quiet link still closes its windows); a
 * capture file and a followed log move them by their own timestamps only.
 * And a run given a duration stops when it has passed.
 *
 * @module
 */

/** How often the live clock moves (ms). */
const TICK_MS = 250;

/** Options of {@link RunClock.start}. */
export interface ClockOptions {
  /** Whether the source's clock is the wall clock (then `advance` is called every {@link TICK_MS}). */
  wall: boolean;
  /** Move the run to `now` (seconds since the epoch). */
  advance(now: number): void;
  /** Seconds the run lasts (0: no limit). */
  durationSecs: number;
  /** The duration passed. */
  expired(): void;
}

/** The timers of one run: started once its source is open, stopped when it ends. */
export class RunClock {
  #tick: ReturnType<typeof setInterval> | undefined;
  #timeout: ReturnType<typeof setTimeout> | undefined;

  /** Start the timers `o` asks for. */
  start(o: ClockOptions): void {
    if (o.wall) this.#tick = setInterval(() => o.advance(Date.now() / 1000), TICK_MS);
    if (o.durationSecs > 0) this.#timeout = setTimeout(() => o.expired(), o.durationSecs * 1000);
  }

  /** Stop them (safe to call more than once, or before `start`). */
  stop(): void {
    clearInterval(this.#tick);
    clearTimeout(this.#timeout);
    this.#tick = this.#timeout = undefined;
  }
}
