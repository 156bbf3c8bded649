/**
 * The stall watchdog: once a second it looks for replica uploads that have been in flight
 * too long. A stalled one makes status unhealthy and is warned about once; one that hangs
 * gets the child killed, and the restart policy starts it again over a new connection
 * (litestream 0.3.13 sets no HTTP timeouts: a half-open connection blocks it for good).
 *
 * @packageDocumentation
 */
import type { Logger } from '../logging/logger.js';
import type { Cancel, Clock } from './clock.js';
import type { ChildProcessLike } from './core.js';

/** An upload in flight this long (at least) is a stalled replica. */
export const MIN_STALL_MS = 5_000;
/** The upload speed below which a replica counts as stalled rather than slow. */
const SLOW_UPLOAD_BYTES_PER_S = 1024 * 1024;
/** How often the watchdog looks. */
const CHECK_EVERY_MS = 1_000;

/** What kind of upload is in flight. */
export type UploadKind = 'snapshot' | 'wal';

/** See {@link StallWatchdog}. */
export interface StallWatchdogOptions {
  readonly clock: Clock;
  readonly logger: Logger;
  /** An upload in flight this long is stalled: status is unhealthy, a warning is logged. */
  readonly stallMs: number;
  /** One in flight this long hangs: the child is killed (doubled after each kill that got nothing through). */
  readonly restartStalledAfterMs: number;
  /** The databases with an upload in flight for at least `allowedMs(db, kind)` at `now` (the tracker's). */
  stalled(allowedMs: (db: string, kind: UploadKind) => number, now: number): string[];
  /** A database's size in bytes: a snapshot of a large one is slow, not stalled. */
  sizeOf(db: string): number;
  /** The child while it replicates; undefined when there is nothing to watch. */
  running(): ChildProcessLike | undefined;
  /** Runs before each look while the child replicates (the supervisor's own once-a-second check). */
  onCheck?(): void;
}

/** Tells stalled uploads, and kills a child whose upload hangs. */
export class StallWatchdog {
  readonly #options: StallWatchdogOptions;
  /** Databases already warned about (once per stall). */
  readonly #warned = new Set<string>();
  /** Kills for a hung upload since the last upload that completed. */
  #kills = 0;
  #cancel: Cancel | undefined;

  constructor(options: StallWatchdogOptions) {
    this.#options = options;
  }

  start(): void {
    this.#cancel ??= this.#options.clock.setInterval(() => this.check(), CHECK_EVERY_MS);
  }

  stop(): void {
    this.#cancel?.();
    this.#cancel = undefined;
  }

  /** The databases whose upload has stalled now (for status). */
  stalledNow(): string[] {
    return this.#stalled(this.#options.stallMs);
  }

  /** An upload reached the replica: the patience for the next hang starts over. */
  uploadCompleted(): void {
    this.#kills = 0;
  }

  /** One look (the timer's; tests call it too). */
  check(): void {
    const child = this.#options.running();
    if (!child) return;
    this.#options.onCheck?.();
    const { logger, stallMs } = this.#options;
    const stalled = this.stalledNow();
    for (const db of stalled) {
      if (this.#warned.has(db)) continue;
      this.#warned.add(db);
      logger.warn(
        { db, stalledForMs: stallMs },
        'replica upload is not progressing: the replica may be unreachable (status is unhealthy until it completes)',
      );
    }
    for (const db of this.#warned) if (!stalled.includes(db)) this.#warned.delete(db);
    // Each kill that did not get an upload through doubles the patience (a huge snapshot on
    // a slow link must not be killed over and over); a completed upload resets it.
    const restartAfterMs = this.#options.restartStalledAfterMs * 2 ** this.#kills;
    const hung = this.#stalled(restartAfterMs);
    if (hung.length > 0 && !child.killed) {
      logger.error(
        { databases: hung, stalledForMs: restartAfterMs, litestreamPid: child.pid },
        'replica upload hung; restarting litestream to reconnect',
      );
      this.#kills++;
      child.kill('SIGKILL');
    }
  }

  #stalled(baseMs: number): string[] {
    return this.#options.stalled((db, kind) => this.#allowedMs(db, kind, baseMs), this.#options.clock.now());
  }

  /**
   * How long an upload may take before it counts as stalled: `baseMs`, plus, for a
   * snapshot, the time to send the database at a slow 1 MiB/s. (A WAL segment's size is not
   * known while it uploads; a huge one on a slow link is covered by the doubling after each
   * fruitless restart.)
   */
  #allowedMs(db: string, kind: UploadKind, baseMs: number): number {
    const bytes = kind === 'snapshot' ? Math.max(0, this.#options.sizeOf(db)) : 0;
    return baseMs + (bytes / SLOW_UPLOAD_BYTES_PER_S) * 1000;
  }
}
