/**
 * The final sync on stop: one SIGTERM and its wait (see terminate.ts), and litestream run
 * again while a final sync failed in a way another run may fix, up to three runs in all.
 * What litestream logged decides whether the stop was clean, not only its exit status.
 *
 * @packageDocumentation
 */
import { NOTHING_RAN, type ShutdownContext, type TerminateOutcome, terminate, withContent } from './terminate.js';

export { type FinalSyncTracker, NOTHING_RAN, type ShutdownFacts, type TerminateOutcome } from './terminate.js';

/** How many times a stop runs litestream to get a final sync through. */
const MAX_ATTEMPTS = 3;

/** See {@link FinalSync}. */
export type FinalSyncOptions = ShutdownContext;

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

  /** One SIGTERM (and SIGKILL if need be): see {@link terminate}. */
  async terminate(deadline: number, timeoutMs: number): Promise<TerminateOutcome> {
    this.#last = await terminate(this.#options, deadline, timeoutMs);
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
      const unconfirmed = withContent(this.#options).filter((db) => !this.#options.tracker().finalSyncLanded(db));
      errors.push(
        `litestream ${killed ? 'was killed' : `exited ${outcome.exitCode ?? ''}`.trim()} without its log showing the final sync of ${unconfirmed.join(', ') || 'every database'} in the replica`,
      );
    }
    return { clean, killed, errors };
  }
}
