/**
 * Time as supervision sees it: wall-clock milliseconds (litestream's trackers stamp uploads
 * with `Date`, and the watchdog compares against them) and timers that can be cancelled.
 * The lease has its own monotonic `LeaseClock` (lease/lease.ts): its expiry never meets a
 * tracker's timestamps. Tests inject a fake clock and move time by hand.
 *
 * @packageDocumentation
 */

/** Cancels a timer; calling it again, or after the timer fired, does nothing. */
export type Cancel = () => void;

/** What a supervision policy needs of time. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /**
   * Calls `fn` once after `ms`. The timer does not keep the process alive unless
   * `keepAlive` is set (a restart that is due does: the app is still replicating).
   */
  setTimeout(fn: () => void, ms: number, options?: { keepAlive?: boolean }): Cancel;
  /** Calls `fn` every `ms`, without keeping the process alive, until cancelled. */
  setInterval(fn: () => void, ms: number): Cancel;
}

/** The real clock. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn, ms, options) {
    const timer = setTimeout(fn, Math.max(0, ms));
    if (!options?.keepAlive) timer.unref();
    return () => clearTimeout(timer);
  },
  setInterval(fn, ms) {
    const timer = setInterval(fn, ms);
    timer.unref();
    return () => clearInterval(timer);
  },
};
