/**
 * Restart with backoff: a child that exits unexpectedly is started again after a delay
 * that doubles with each quick crash (with jitter, so that many instances do not restart in
 * step), up to a ceiling; a child that ran long enough was healthy, and its crash starts
 * the sequence over.
 *
 * @packageDocumentation
 */
import type { Cancel, Clock } from './clock.js';

/** The restart delays (the config's `supervisor` options). */
export interface BackoffSettings {
  /** First restart delay. */
  readonly initialBackoffMs: number;
  /** Longest restart delay. */
  readonly maxBackoffMs: number;
  /** A child that ran this long resets the backoff. */
  readonly resetAfterMs: number;
}

/** The `attempt`-th delay (from 0) before jitter: doubling from the first, up to the longest. */
export function backoffCeiling(
  settings: Pick<BackoffSettings, 'initialBackoffMs' | 'maxBackoffMs'>,
  attempt: number,
): number {
  return Math.min(settings.maxBackoffMs, settings.initialBackoffMs * 2 ** attempt);
}

/** Schedules restarts after unexpected exits. */
export class RestartBackoff {
  readonly #settings: BackoffSettings;
  readonly #clock: Clock;
  readonly #random: () => number;
  #attempt = 0;
  #restarts = 0;
  #cancel: Cancel | undefined;

  /** `random` (0 ≤ x < 1) spreads each delay over its upper half; tests fix it. */
  constructor(settings: BackoffSettings, clock: Clock, random: () => number = Math.random) {
    this.#settings = settings;
    this.#clock = clock;
    this.#random = random;
  }

  /** How many restarts were scheduled. */
  get restarts(): number {
    return this.#restarts;
  }

  /** A restart is scheduled and has not run yet. */
  get pending(): boolean {
    return this.#cancel !== undefined;
  }

  /**
   * After a child that ran `ranForMs` exited unexpectedly: calls `restart` after the next
   * delay, and returns that delay. A restart scheduled before is replaced.
   */
  schedule(ranForMs: number, restart: () => void): number {
    if (ranForMs >= this.#settings.resetAfterMs) this.#attempt = 0;
    const ceiling = backoffCeiling(this.#settings, this.#attempt);
    const delayMs = Math.round(ceiling * (0.5 + this.#random() / 2));
    this.#attempt++;
    this.#restarts++;
    this.cancel();
    const cancel = this.#clock.setTimeout(
      () => {
        this.#cancel = undefined;
        restart();
      },
      delayMs,
      // A restart that is due keeps the process alive: the app is still replicating.
      { keepAlive: true },
    );
    this.#cancel = cancel;
    return delayMs;
  }

  /** Drops a scheduled restart (a stop, or a pause for the lease, takes over). */
  cancel(): void {
    this.#cancel?.();
    this.#cancel = undefined;
  }
}
