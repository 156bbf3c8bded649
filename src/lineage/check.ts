import path from 'node:path';
import { settingName } from '../config/setting-names.js';
import type { DatabaseConfig, LitestreamConfig } from '../config/types.js';
import type { LineageMark, LineageVerdict, Runtime } from '../engine/engine.js';
import { CredentialsError, LitestreamAbortError, LitestreamError, StaleDatabaseError } from '../errors.js';
import type { LeaseKeeper } from '../lease/keeper.js';
import type { Logger } from '../logging/logger.js';
import { sweepLeftovers } from '../process/owner.js';
import { s3FailureOf } from '../replica/s3/failures.js';
import { companionFiles, hasContent } from '../sqlite/database-files.js';
import { ConcurrencyLimit, DATABASES_AT_ONCE } from '../support/concurrency.js';
import { readLineageMark, sameMark, writeLineageMark } from './marker.js';

/**
 * Databases one Litestream instance has found current (or restored) since they were last
 * replicated, each with the replica lease it held then: the replication that follows a
 * boot does not compare them again, nor does another boot call while that same lease is
 * still held (no other instance can have written the replica meanwhile). Entries are
 * taken by the replication that uses them.
 */
export class LineageMemo {
  readonly #leases: Pick<LeaseKeeper, 'heldLeaseOf'>;
  readonly #current = new Map<string, object | undefined>();

  constructor(leases: Pick<LeaseKeeper, 'heldLeaseOf'>) {
    this.#leases = leases;
  }

  /**
   * True when `database` was found current while holding the replica lease that is still
   * held, without a break: comparing again would find the same.
   */
  stillCurrent(database: string): boolean {
    const lease = this.#current.get(database);
    return lease !== undefined && lease === this.#leases.heldLeaseOf(database);
  }

  /** `database` holds the replica's newest state now. */
  markCurrent(database: string): void {
    this.#current.set(database, this.#leases.heldLeaseOf(database));
  }

  /** Whether `database` was found current since the last replication start took it. */
  has(database: string): boolean {
    return this.#current.has(database);
  }

  /** Taken by a replication start: a later start compares again. */
  forget(databases: readonly DatabaseConfig[]): void {
    for (const db of databases) this.#current.delete(db.path);
  }
}

/**
 * What to do with a database on disk, after {@link checkLineage}: keep it, set it aside and
 * restore, or keep it for now because the replica cannot be reached (`deferred`: the
 * replication compares it before it writes anything).
 */
export type LineageAction = 'keep' | 'set-aside' | 'deferred';

/** Where the check runs: at boot, before the app opens the database, or when replication starts. */
export type LineageMoment = 'boot' | 'replication';

/** What comparing a database on disk with its replica found (or why it could not). */
export interface LineageComparison {
  readonly marker: LineageMark | undefined;
  readonly verdict?: LineageVerdict;
  readonly error?: unknown;
}

/**
 * Compares a database already on disk with its replica's newest backup; never rejects (a
 * failure is in `error`). Side-effect free but for sweeping the record's temp files that
 * dead processes left, so it can run beside the lease and be thrown away.
 */
export async function compareLineage(
  runtime: Runtime,
  db: DatabaseConfig,
  logger: Logger,
  signal: AbortSignal | undefined,
): Promise<LineageComparison> {
  const location = db.replicas[0];
  const markFile = companionFiles(db.path).lineage;
  const swept = sweepLeftovers(path.dirname(markFile), `${path.basename(markFile)}.tmp-`, logger);
  const marker = await readLineageMark(db.path);
  try {
    if (!location) throw new Error('this replica type is not one the Node process can read (S3 or a directory)');
    return { marker, verdict: await runtime.engine.lineage.compare(db.path, location, marker, { signal }) };
  } catch (error) {
    return { marker, error };
  } finally {
    await swept;
  }
}

/**
 * Applies `restore.onStale` to what {@link compareLineage} found (`comparison`, or a
 * comparison made now): a copy that is behind or diverged is refused (throws), to be set
 * aside and restored (`restore`), or kept with a warning (`keep-local`). Records the replica
 * state a current copy holds, for a later boot.
 *
 * @throws {@link StaleDatabaseError} for a stale copy under `refuse`, and (`unverifiable`)
 *   when the replica cannot be compared, unless `onStale` is `keep-local`.
 * @throws {@link LitestreamAbortError} when `signal` aborts.
 */
export async function checkLineage(
  memo: LineageMemo,
  config: LitestreamConfig,
  runtime: Runtime,
  db: DatabaseConfig,
  logger: Logger,
  signal: AbortSignal | undefined,
  moment: LineageMoment,
  comparison?: Promise<LineageComparison>,
): Promise<LineageAction> {
  const onStale = config.restore.onStale;
  const setting = settingName(config, 'restore.onStale');
  const { marker, verdict, error } = await (comparison ?? compareLineage(runtime, db, logger, signal));
  if (!verdict) {
    if (error instanceof LitestreamAbortError) throw error;
    // No credentials anywhere: the error names the sources tried.
    if (error instanceof CredentialsError && !error.transient) throw error;
    // An outage does not keep an app with its database on disk from booting: the
    // replication compares before litestream writes anything, once the replica answers.
    if (s3FailureOf(error)?.kind === 'transient' || error instanceof CredentialsError) {
      if (moment === 'replication') throw error;
      logger.warn(
        { db: db.path, error: (error as Error).message },
        'could not reach the replica to compare the database on disk with its newest backup; the app boots on this copy, and replication compares them before it writes anything',
      );
      return 'deferred';
    }
    const why = error instanceof LitestreamError ? error.message : (error as Error).message;
    if (onStale === 'keep-local') {
      logger.warn(
        { db: db.path, error: why },
        `could not compare the database with its replica; replicating it as it is (${setting} is "keep-local")`,
      );
      return 'keep';
    }
    throw new StaleDatabaseError({ database: db.path, kind: 'unverifiable', why, setting, cause: error });
  }
  if (verdict.fits) {
    logger.debug({ db: db.path, why: verdict.why }, 'database on disk holds the replica’s newest backup');
    if (verdict.mark && !sameMark(verdict.mark, marker)) await recordMark(db.path, verdict.mark, logger);
    memo.markCurrent(db.path);
    return 'keep';
  }
  const stale = new StaleDatabaseError({
    database: db.path,
    kind: verdict.kind,
    why: verdict.why,
    local: verdict.local,
    replica: verdict.replica,
    setting,
  });
  if (onStale === 'refuse') throw stale;
  if (onStale === 'restore' && moment === 'replication') {
    // The app may have the file open by now: it is set aside only at boot.
    throw new StaleDatabaseError({
      database: db.path,
      kind: verdict.kind,
      why: `${verdict.why} (found when replication started; ${setting} "restore" sets a copy aside only at boot, before the app opens it: restart the app)`,
      local: verdict.local,
      replica: verdict.replica,
      setting,
    });
  }
  if (onStale === 'keep-local') {
    logger.warn(
      { db: db.path, local: verdict.local, replica: verdict.replica },
      `${verdict.why}; replicating this copy anyway (${setting} is "keep-local"): the replica's newer writes are no longer its latest state`,
    );
    memo.markCurrent(db.path);
    return 'keep';
  }
  logger.warn(
    { db: db.path, local: verdict.local, replica: verdict.replica },
    `${verdict.why}; setting this copy aside and restoring the newest backup (${setting} is "restore")`,
  );
  return 'set-aside';
}

/** Records what a restore (or a new database) left the copy holding. */
export async function recordRestored(
  memo: LineageMemo | undefined,
  database: string,
  mark: LineageMark | undefined,
  logger: Logger,
): Promise<void> {
  memo?.markCurrent(database);
  if (mark) await recordMark(database, mark, logger);
}

async function recordMark(database: string, mark: LineageMark, logger: Logger): Promise<void> {
  // Only a help for a later boot: a copy that cannot be marked is still current now.
  await writeLineageMark(database, mark).catch((error: unknown) => {
    logger.warn({ db: database, error: String(error) }, 'could not record the replica state beside the database');
  });
}

/**
 * Before litestream first writes the replica: every database on disk that `memo` has
 * not found current (or restored) since it was last replicated here is compared with the
 * replica's newest backup, as a boot does.
 *
 * @throws {@link StaleDatabaseError} for a stale copy (unless `restore.onStale` is `keep-local`).
 * @throws the replica's error when it cannot be reached (the caller retries).
 */
export async function compareWithReplica(
  memo: LineageMemo,
  config: LitestreamConfig,
  runtime: Runtime,
  logger: Logger,
  signal: AbortSignal | undefined,
): Promise<void> {
  const slots = new ConcurrencyLimit(DATABASES_AT_ONCE);
  await Promise.all(
    config.databases.map((db) =>
      slots.run(async () => {
        if (memo.has(db.path) || !hasContent(db.path)) return;
        await checkLineage(memo, config, runtime, db, logger, signal, 'replication');
      }),
    ),
  );
  // Compared once per start: a later start compares again.
  memo.forget(config.databases);
}
