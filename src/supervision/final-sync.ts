/**
 * The final sync on stop: SIGTERM once, wait for the child's last sync to reach the
 * replica, SIGKILL only at the deadline — or earlier when it has gone silent (hung: run it
 * again), or when it is stuck after a final sync that did land (litestream 0.3.13's
 * shutdown deadlock). A failed final sync is tried again, up to three runs in all. What
 * litestream logged decides whether the stop was clean, not only its exit status.
 *
 * @packageDocumentation
 */
import type { Engine, ReplicationTracker } from '../engine/engine.js';
import type { Logger } from '../logger.js';
import type { Clock } from './clock.js';
import type { SupervisedProcess } from './core.js';

/** How many times a stop runs litestream to get a final sync through. */
const MAX_ATTEMPTS = 3;
/** How long a stop lets a replica upload in flight finish before SIGTERM. */
const UPLOAD_GRACE_MS = 10_000;
/** Silence after SIGTERM that means litestream hung (at least; a quarter of the timeout if longer). */
const MIN_HANG_MS = 5_000;
/** A litestream that finished its final syncs exits within milliseconds; one still there this much later is stuck. */
const STUCK_GRACE_MS = 500;

/** What the final sync reads of litestream's log. */
export type FinalSyncTracker = Pick<
  ReplicationTracker,
  'isShuttingDown' | 'finalSyncLanded' | 'hasOpenUpload' | 'allInitialized' | 'allSynced' | 'writing'
>;

/** What the release line's shutdown is known to do. */
export type ShutdownFacts = Pick<Engine, 'shutdown' | 'exitCodeProvesFinalSync' | 'finalSyncRetryWaitsForCatchUp'>;

/** How one SIGTERM (and maybe SIGKILL) ended. */
export interface TerminateOutcome {
  /** Killed before its final sync was known to be complete. */
  readonly killed: boolean;
  /** Killed for going silent, not for running out of time: running it again may help. */
  readonly hung: boolean;
  /** The log shows every database's final sync in the replica (whatever the exit). */
  readonly landed: boolean;
  readonly exitCode: number | undefined;
  /** The signal it died of, if it did (then `exitCode` is undefined). */
  readonly signal: string | undefined;
}

/** Nothing was running to stop. */
export const NOTHING_RAN: TerminateOutcome = Object.freeze({
  killed: false,
  hung: false,
  landed: false,
  exitCode: undefined,
  signal: undefined,
});

/** See {@link FinalSync}. */
export interface FinalSyncOptions {
  readonly process: SupervisedProcess;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Aborts the wait: the stop was given up (the child is killed by whoever aborted). */
  readonly signal: AbortSignal;
  /** The configured databases, in config order (the order litestream closes them). */
  readonly databases: readonly string[];
  /** A database that holds no data has nothing to sync. */
  hasContent(db: string): boolean;
  tracker(): FinalSyncTracker;
  /** The release line's shutdown facts, once known. */
  engine(): ShutdownFacts | undefined;
}

/** What {@link FinalSync.run} may do between attempts. */
export interface FinalSyncRun {
  readonly deadline: number;
  readonly timeoutMs: number;
  /** Starts litestream again to finish a failed final sync. */
  respawn(): Promise<void>;
  /** Replication errors the current litestream has logged. */
  errorsThisRun(): number;
  /** The replica must not be written now (its lease is not held): no further attempt. */
  paused(): boolean;
}

/** Runs a stop's final sync and says how it went. */
export class FinalSync {
  readonly #options: FinalSyncOptions;
  /** Errors of the current attempt (and the stop's own). */
  #errors: string[] = [];
  /** Errors of earlier attempts, reported when none succeeded. */
  readonly #earlierErrors: string[] = [];
  #last: TerminateOutcome = NOTHING_RAN;

  constructor(options: FinalSyncOptions) {
    this.#options = options;
  }

  /** An error during the stop: a line litestream logged, or why no final sync is possible. */
  noteError(text: string): void {
    this.#errors.push(text);
  }

  /** How the last {@link terminate} ended (nothing ran, before the first). */
  get lastOutcome(): TerminateOutcome {
    return this.#last;
  }

  /** SIGTERM, and run litestream again while a final sync failed in a way another run may fix. */
  async run(run: FinalSyncRun): Promise<TerminateOutcome> {
    const { clock, logger, process, signal } = this.#options;
    for (let attempt = 1; ; attempt++) {
      const outcome = await this.terminate(run.deadline, run.timeoutMs);
      const failed = !this.done(outcome);
      const hopeless = outcome.killed && !outcome.hung;
      const stopped = signal.aborted || run.paused();
      if (!failed || hopeless || stopped || attempt >= MAX_ATTEMPTS || clock.now() >= run.deadline) return outcome;
      // The final sync can fail when a regular sync was still writing the same segment
      // (seen with file replicas). Run litestream again: it resumes from its shadow WAL.
      logger.warn({ attempt, errors: this.#errors }, 'final sync failed; running litestream again to finish it');
      this.#earlierErrors.push(...this.#errors);
      this.#errors = [];
      await run.respawn();
      // Until it has caught up, or has failed again (then the next attempt reports it).
      if (this.#options.engine()?.finalSyncRetryWaitsForCatchUp !== false) {
        await process.waitUntil(
          () =>
            run.errorsThisRun() > 0 || this.#options.tracker().allSynced(true, (db) => !this.#options.hasContent(db)),
          run.deadline,
          signal,
        );
      }
    }
  }

  /**
   * SIGTERM once and wait for the final sync; SIGKILL at the deadline, or earlier when
   * litestream has gone silent for `hangMs` (`hung`: worth running it again).
   */
  async terminate(deadline: number, timeoutMs: number): Promise<TerminateOutcome> {
    const { clock, logger, process, signal } = this.#options;
    const child = process.child;
    if (!child) return NOTHING_RAN;
    const tracker = () => this.#options.tracker();
    // Before litestream opens a database, SIGTERM skips its final sync (and before its
    // first log line, SIGTERM kills it outright). A database that does not exist yet has
    // nothing to sync.
    await process.waitUntil(
      () => process.spoke && tracker().allInitialized((db) => !this.#options.hasContent(db)),
      deadline,
      signal,
    );
    // An upload in flight when SIGTERM lands makes a hang (below) likelier: let it finish.
    // This narrows the race, it cannot close it — the check after SIGTERM does.
    // (A litestream already shutting down, signalled by someone else, has nothing to wait for.)
    const quirks = this.#options.engine()?.shutdown;
    if (quirks?.hangsOnSignalDuringUpload !== false) {
      await process.waitUntil(
        () => !tracker().writing() || tracker().isShuttingDown,
        // A quarter of the timeout at most: the final sync needs the rest.
        Math.min(deadline, clock.now() + Math.min(UPLOAD_GRACE_MS, timeoutMs / 4)),
        signal,
      );
    }
    // From the child itself: it may have exited during the waits above, before any waiter.
    const exited = process.done.then(() => 'exited' as const);
    child.kill('SIGTERM');
    process.resetSilence();
    // Silence means a hang only where litestream talks through its final sync (0.3); 0.5
    // retries a slow replica silently, and gives up by itself at its shutdown-sync-timeout.
    const hangMs = quirks?.silentWhileRetrying ? Number.POSITIVE_INFINITY : Math.max(MIN_HANG_MS, timeoutMs / 4);
    let reason: 'timeout' | 'hung' | 'stuck-after-final-sync' | undefined;
    let stuckSince: number | undefined;
    for (;;) {
      const stuck = this.#stuckAfterFinalSync();
      stuckSince = stuck ? (stuckSince ?? clock.now()) : undefined;
      const wakeAt = Math.min(
        deadline,
        process.lastOutputAt + hangMs,
        stuckSince === undefined ? Number.POSITIVE_INFINITY : stuckSince + STUCK_GRACE_MS,
      );
      // Every line litestream prints may complete the picture: look again then.
      const woke = await Promise.race([exited, process.nextChange(wakeAt).then(() => 'tick' as const)]);
      if (woke === 'exited') {
        process.wake();
        break;
      }
      if (stuck && stuckSince !== undefined && clock.now() - stuckSince >= STUCK_GRACE_MS) {
        // Every database up to the stuck one has its final sync in the replica. If it is the
        // last, nothing is missing; otherwise the rest still need theirs (hung: run again).
        reason = stuck === 'last' ? 'stuck-after-final-sync' : 'hung';
      } else if (clock.now() >= deadline) reason = 'timeout';
      else if (clock.now() - process.lastOutputAt >= hangMs) reason = 'hung';
      if (reason) break;
    }
    if (reason === 'stuck-after-final-sync') {
      logger.warn(
        { litestreamPid: child.pid },
        'litestream hung after its final sync reached the replica (a litestream 0.3.13 shutdown deadlock when a sync starts as it is signalled); killing it — nothing is lost',
      );
    } else if (reason) {
      logger.error(
        { litestreamPid: child.pid, timeoutMs, silentForMs: clock.now() - process.lastOutputAt },
        reason === 'hung'
          ? 'litestream hung during its final sync; killing it'
          : 'litestream did not finish its final sync in time; killing it',
      );
    }
    if (reason) {
      child.kill('SIGKILL');
      await exited;
    }
    const landed = this.#withContent().every((db) => tracker().finalSyncLanded(db));
    const result = await child.exited;
    this.#last = {
      killed: reason === 'timeout' || reason === 'hung',
      hung: reason === 'hung',
      landed,
      exitCode: result.exitCode,
      signal: result.signal,
    };
    return this.#last;
  }

  /**
   * The final sync is complete: the log shows it in the replica for every database (even if
   * litestream then exited 1 over a cancelled checkpoint, or had to be killed while stuck),
   * or — where the engine's exit status proves it (not 0.5's) — litestream exited 0 with no
   * error logged.
   */
  done(outcome: TerminateOutcome): boolean {
    if (outcome.killed) return false;
    if (outcome.landed) return true;
    // Nothing was running to stop (a litestream that died of a signal made no final sync).
    if (outcome.exitCode === undefined) return outcome.signal === undefined && this.#errors.length === 0;
    const exitProves = this.#options.engine()?.exitCodeProvesFinalSync ?? true;
    return exitProves && outcome.exitCode === 0 && this.#errors.length === 0;
  }

  /**
   * How the stop went: `killed` also when a stop given up (`aborted`) cut a final sync
   * short; the errors of every attempt when it is not clean, and a reason when none was logged.
   */
  summarize(outcome: TerminateOutcome, aborted: boolean): { clean: boolean; killed: boolean; errors: string[] } {
    const killed = outcome.killed || (aborted && outcome.exitCode !== 0 && !outcome.landed);
    const clean = !killed && this.done(outcome);
    const errors = clean ? [...this.#errors] : [...this.#earlierErrors, ...this.#errors];
    if (!clean && errors.length === 0) {
      const unconfirmed = this.#withContent().filter((db) => !this.#options.tracker().finalSyncLanded(db));
      errors.push(
        `litestream ${killed ? 'was killed' : `exited ${outcome.exitCode ?? ''}`.trim()} without its log showing the final sync of ${unconfirmed.join(', ') || 'every database'} in the replica`,
      );
    }
    return { clean, killed, errors };
  }

  /** The configured databases that hold data, in config order. */
  #withContent(): string[] {
    return this.#options.databases.filter((db) => this.#options.hasContent(db));
  }

  /**
   * Litestream 0.3.13 closes databases one by one, each with its final sync, and then waits
   * for the database's regular sync. A regular sync that started as the signal arrived never
   * finishes (its upload was cancelled before it read anything), so litestream waits forever.
   * Seen from the log: a database whose final sync reached the replica still has an upload
   * open, and every database before it has its final sync too. `'last'` when it is the last
   * database (nothing is missing), `'more'` when others still wait for their final sync.
   */
  #stuckAfterFinalSync(): 'last' | 'more' | undefined {
    const databases = this.#withContent();
    const tracker = this.#options.tracker();
    for (const [index, db] of databases.entries()) {
      if (!tracker.finalSyncLanded(db)) return undefined;
      if (tracker.hasOpenUpload(db)) return index === databases.length - 1 ? 'last' : 'more';
    }
    return undefined;
  }
}
