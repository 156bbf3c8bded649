/**
 * One stop of the child: SIGTERM once, when litestream can make its final sync, then wait
 * for it; SIGKILL at the deadline, or earlier when it has gone silent (hung: worth running
 * again) or is stuck after a final sync that did land (litestream 0.3.13's shutdown
 * deadlock). {@link FinalSync} decides what the outcome means and whether to run again.
 *
 * @packageDocumentation
 */
import type { Engine, ReplicationTracker } from '../engine/engine.js';
import type { Logger } from '../logging/logger.js';
import type { Clock } from './clock.js';
import type { SupervisedProcess } from './core.js';

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

/** What stopping the child reads and acts on. */
export interface ShutdownContext {
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

/**
 * SIGTERM once and wait for the final sync; SIGKILL at the deadline, or earlier when
 * litestream has gone silent for `hangMs` (`hung`: worth running it again).
 */
export async function terminate(
  context: ShutdownContext,
  deadline: number,
  timeoutMs: number,
): Promise<TerminateOutcome> {
  const { clock, logger, process, signal } = context;
  const child = process.child;
  if (!child) return NOTHING_RAN;
  const tracker = () => context.tracker();
  // Before litestream opens a database, SIGTERM skips its final sync (and before its
  // first log line, SIGTERM kills it outright). A database that does not exist yet has
  // nothing to sync.
  await process.waitUntil(
    () => process.spoke && tracker().allInitialized((db) => !context.hasContent(db)),
    deadline,
    signal,
  );
  // An upload in flight when SIGTERM lands makes a hang (below) likelier: let it finish.
  // This narrows the race, it cannot close it — the check after SIGTERM does.
  // (A litestream already shutting down, signalled by someone else, has nothing to wait for.)
  const quirks = context.engine()?.shutdown;
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
    const stuck = stuckAfterFinalSync(context);
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
  const landed = withContent(context).every((db) => tracker().finalSyncLanded(db));
  const result = await child.exited;
  return {
    killed: reason === 'timeout' || reason === 'hung',
    hung: reason === 'hung',
    landed,
    exitCode: result.exitCode,
    signal: result.signal,
  };
}

/** The configured databases that hold data, in config order (the order litestream closes them). */
export function withContent(context: Pick<ShutdownContext, 'databases' | 'hasContent'>): string[] {
  return context.databases.filter((db) => context.hasContent(db));
}

/**
 * Litestream 0.3.13 closes databases one by one, each with its final sync, and then waits
 * for the database's regular sync. A regular sync that started as the signal arrived never
 * finishes (its upload was cancelled before it read anything), so litestream waits forever.
 * Seen from the log: a database whose final sync reached the replica still has an upload
 * open, and every database before it has its final sync too. `'last'` when it is the last
 * database (nothing is missing), `'more'` when others still wait for their final sync.
 */
function stuckAfterFinalSync(context: ShutdownContext): 'last' | 'more' | undefined {
  const databases = withContent(context);
  const tracker = context.tracker();
  for (const [index, db] of databases.entries()) {
    if (!tracker.finalSyncLanded(db)) return undefined;
    if (tracker.hasOpenUpload(db)) return index === databases.length - 1 ? 'last' : 'more';
  }
  return undefined;
}
