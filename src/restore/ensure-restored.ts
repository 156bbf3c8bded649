import { chmod, link, rm, rmdir } from 'node:fs/promises';
import path from 'node:path';
import { setImmediate, setTimeout as sleep } from 'node:timers/promises';
import { secretsOf } from '../config/derived.js';
import { redact } from '../config/secret.js';
import type { DatabaseConfig, LitestreamConfig } from '../config/types.js';
import type { RestoredPosition, RestoreTarget, Runtime } from '../engine/engine.js';
import { describePosition } from '../engine/positions.js';
import { resolveRuntime } from '../engine/select.js';
import {
  FileSystemError,
  LitestreamAbortError,
  LitestreamBinaryError,
  ReplicationError,
  RestoreError,
} from '../errors.js';
import type { LeaseKeeper, LeaseSet, LeaseWaitEvent } from '../lease/keeper.js';
import {
  checkLineage,
  compareLineage,
  type LineageAction,
  type LineageMemo,
  recordRestored,
} from '../lineage/check.js';
import { setAside } from '../lineage/set-aside.js';
import { childLogger, type Logger } from '../logging/logger.js';
import { traceMark, traceSettled } from '../logging/trace.js';
import { type ConfigFile, childEnv, sweepTempDirs, writeConfigFile } from '../process/child-config.js';
import { forwardedFields, type LitestreamLogLine } from '../process/log-lines.js';
import { ownedName, sweepLeftovers } from '../process/owner.js';
import { claimDatabase, releaseClaim } from '../process/pidfile.js';
import { errorOutput, runCommand } from '../process/run-command.js';
import { cleanUpOnSignal } from '../process/signal-guard.js';
import { prepareSpawn } from '../process/spawn.js';
import { classifyFailure } from '../replica/failure-cause.js';
import { damagedBackupError, replicaError } from '../replica/failure-messages.js';
import { companionFiles, fileSize, hasContent, makeDirectoryOf, removeFile } from '../sqlite/database-files.js';
import { databaseFileMode } from '../sqlite/file-mode.js';
import { IntegrityChecker } from '../sqlite/integrity-check.js';
import { abortable, allowListenersFor, throwIfAborted } from '../support/abort.js';
import { ConcurrencyLimit, DATABASES_AT_ONCE } from '../support/concurrency.js';
import { checkReplica, type ReplicaCheck } from './format-guard.js';

/** What happened to one database in {@link ensureRestored}. */
export type RestoreOutcome =
  /** The file was already there; nothing was run. */
  | 'exists'
  /** It was missing and is now restored from the replica. */
  | 'restored'
  /** It was missing and the replica has no backup: the app starts a new database. */
  | 'no-backup'
  /** Litestream is disabled; nothing was done. */
  | 'disabled';

/** The result for one database. */
export interface RestoreResult {
  /** Absolute path of the database. */
  readonly path: string;
  readonly outcome: RestoreOutcome;
  /** Litestream 0.3: the generation restored from, for `restored`. */
  readonly generation?: string;
  /** Litestream 0.5: the transaction id restored up to, for `restored`. */
  readonly txid?: number;
  /**
   * Where the database on disk was moved, when it was behind the replica and
   * `restore.onStale` is `restore`: kept there (with its WAL), never deleted.
   */
  readonly staleCopy?: string;
  readonly durationMs: number;
}

/** Options of {@link ensureRestored}. */
export interface EnsureRestoredOptions {
  /**
   * Gives the restore up: the litestream processes it runs are killed, their temp files
   * removed, the directories it made removed when empty, and the call rejects with a
   * `LitestreamAbortError`. Nothing is put in place.
   */
  signal?: AbortSignal;
  /**
   * Called when another instance holds a database's replica path and this call waits for it
   * (`lease.whenHeld: 'wait'`): e.g. to answer health checks with "waiting for the previous
   * instance". Called again when the holder changes.
   */
  onWaiting?: (event: LeaseWaitEvent) => void;
}

/**
 * What one Litestream instance holds across its boots and the replication that follows:
 * handed down by the instance, never found in module state, so two instances never see
 * each other's.
 */
export interface RestoreHoldings {
  /** Its replica leases: taken here, handed to the replication that follows. */
  readonly leases: LeaseKeeper;
  /** The databases it found current (or restored), so the replication need not compare them again. */
  readonly lineage: LineageMemo;
  /** Its restores under way: concurrent calls share one per database. */
  readonly restores: RestoresInFlight;
  /** Whether it replicates `database` now (restoring under a running litestream is refused). */
  replicates(database: string): boolean;
}

/** Restores under way, by database path: concurrent calls of one instance share each. */
export class RestoresInFlight {
  readonly #shared = new Map<string, SharedRestore>();

  get(database: string): SharedRestore | undefined {
    return this.#shared.get(database);
  }

  set(database: string, restore: SharedRestore): void {
    this.#shared.set(database, restore);
  }

  /** Forgets the restore `controller` gives up on, unless a newer one took its place. */
  delete(database: string, controller: AbortController): void {
    if (this.#shared.get(database)?.controller === controller) this.#shared.delete(database);
  }
}

/** What the restores of one {@link ensureRestored} call share. */
interface BootRun {
  readonly config: LitestreamConfig;
  readonly holdings: RestoreHoldings;
  readonly logger: Logger;
  /** The executable and its engine, resolved once for every database of the call. */
  readonly runtime: Promise<Runtime>;
  /** Settles once the replica leases are taken: no replica is read before. */
  readonly leased: Promise<void>;
  /** The litestream.yml the restores use, written once. */
  readonly configFile: (runtime: Runtime) => Promise<ConfigFile>;
  /** Directories made for missing databases, removed again when the boot fails. */
  readonly createdDirs: Map<string, string>;
  readonly slots: ConcurrencyLimit;
  readonly integrity: IntegrityChecker;
  /** Claims a missing database for this process (see {@link claimsInOrder}). */
  readonly claim: (db: DatabaseConfig, signal: AbortSignal) => Promise<'fresh' | 'taken-over'>;
  /** Databases whose lease was found held by another instance: waited for, not free. */
  readonly waitedFor: ReadonlySet<string>;
  /** Work that does not feed a download's decision waits for it (see {@link SpawnGate}). */
  readonly spawnGate: SpawnGate;
}

/**
 * Opens once the call's first `litestream restore` has started, once none of its databases
 * will start one now (present, or its restore ended), or once a lease held by another
 * instance is waited for: the claims and the sweeping of what dead processes left wait for
 * it, so that their file work never delays the spawn. Neither feeds a decision of the
 * download (the restore's temp names are this process's own; a download is placed only
 * under the claim).
 */
class SpawnGate {
  readonly opened: Promise<void>;
  readonly #waiting: Set<string>;
  #open: () => void = () => {};

  constructor(databases: readonly DatabaseConfig[]) {
    this.#waiting = new Set(databases.map((db) => db.path));
    this.opened = new Promise((resolve) => {
      this.#open = resolve;
    });
    if (this.#waiting.size === 0) this.#open();
  }

  /** A `litestream restore` of the call has started. */
  spawned(): void {
    this.#open();
  }

  /** Another instance holds a lease the downloads wait for: the wait is no time to save. */
  leaseWaited(): void {
    this.#open();
  }

  /** `database` starts no download now. */
  passed(database: string): void {
    this.#waiting.delete(database);
    if (this.#waiting.size === 0) this.#open();
  }
}

/** One database's restore, shared by the concurrent calls that asked for it. */
export interface SharedRestore {
  readonly result: Promise<RestoreResult>;
  readonly controller: AbortController;
  /** Callers still waiting for it; when the last one gives up, the restore is aborted. */
  waiting: number;
}

/**
 * Makes sure every database is in place before the app opens it, concurrently:
 * present → `exists` (no process started); missing → restored from the replica, checked
 * with `PRAGMA integrity_check`, then moved into place atomically; no backup anywhere →
 * `no-backup` (its directory is made, no file). With litestream disabled (development),
 * `disabled` for each, and its directory is made all the same, so the app can create the
 * database in both modes. Concurrent calls for the same database
 * share one restore. Every call first removes what a process that died in the middle of
 * a restore left behind (temp copies beside the databases, private temp directories).
 *
 * @throws {@link ReplicaUnreachableError} when the replica cannot be reached or rejects
 * the credentials (after retrying for `restore.retryForMs`). No database file is created:
 * starting empty during an outage would fork the backup history.
 * @throws {@link RestoreError} when the restored file fails the integrity check.
 * @throws {@link ReplicationError} when this process already replicates one of the databases.
 * @throws {@link LitestreamAbortError} when `options.signal` aborts it.
 */
export async function ensureRestored(
  config: LitestreamConfig,
  options: EnsureRestoredOptions,
  holdings: RestoreHoldings,
): Promise<RestoreResult[]> {
  const logger = childLogger(config.logger, { component: 'restore' });
  if (!config.enabled) {
    // As when enabled, the app can open its databases next: their directories exist.
    await makeDirectories(config.databases);
    logger.info({ databases: config.databases.length }, 'litestream is disabled; not restoring');
    return config.databases.map((db) => ({ path: db.path, outcome: 'disabled', durationMs: 0 }));
  }
  traceMark('boot:start');
  // SIGTERM during a boot's restore: litestream is killed and its temp files removed first.
  return traceSettled(
    'boot:end',
    cleanUpOnSignal(options.signal, (signal) => restoreAll(config, holdings, logger, { ...options, signal })),
  );
}

async function restoreAll(
  config: LitestreamConfig,
  holdings: RestoreHoldings,
  logger: Logger,
  options: EnsureRestoredOptions,
): Promise<RestoreResult[]> {
  const { signal } = options;
  throwIfAborted(signal, 'ensureRestored');
  // This call's own signal (see cleanUpOnSignal): every database's restore listens on it.
  if (signal) allowListenersFor(signal, config.databases.length);
  for (const db of config.databases) {
    if (holdings.replicates(db.path)) {
      throw new ReplicationError(
        `ensureRestored() was called for ${db.path} while this process replicates it: restoring under a running litestream would destroy its state. Call ensureRestored() before startReplication(), or stop the replication first.`,
        { database: db.path },
      );
    }
  }
  // First: the engine of the litestream that runs loads (and a binary other than the
  // bundled one answers `litestream version`) while the lease's requests wait on the network.
  const runtime = traceSettled('runtime:resolved', resolveRuntime(config));
  // Awaited by each restore and below: never an unhandled rejection meanwhile.
  runtime.catch(() => {});
  let configFile: Promise<ConfigFile> | undefined;
  const sharedConfigFile = (runtime: Runtime) => {
    configFile ??= writeConfigFile(config, runtime.engine);
    return configFile;
  };
  // Directories made for missing databases. On success they stay (the app creates its new
  // databases there); when the boot fails, those still empty are removed once every restore
  // has settled (two databases may share one), so a failed boot leaves nothing behind.
  const createdDirs = new Map<string, string>();
  // One writer per replica path: nothing is read from a replica another instance still
  // writes. The leases are taken while the restores get ready; no download starts before.
  const waitedFor = new Set<string>();
  const spawnGate = new SpawnGate(config.databases);
  const leasing = holdings.leases.take(config, config.databases, {
    logger,
    signal,
    onWaiting: (event) => {
      waitedFor.add(event.database);
      spawnGate.leaseWaited();
      options.onWaiting?.(event);
    },
    deferrable: (db) => hasContent(db.path),
  });
  const leased = traceSettled('lease:taken', leasing).then(() => {});
  // Awaited below, and by each download: never an unhandled rejection meanwhile.
  leased.catch(() => {});
  const run: BootRun = {
    config,
    holdings,
    logger,
    runtime,
    leased,
    configFile: sharedConfigFile,
    createdDirs,
    slots: new ConcurrencyLimit(DATABASES_AT_ONCE),
    integrity: new IntegrityChecker(DATABASES_AT_ONCE),
    claim: claimsInOrder(config, logger),
    waitedFor,
    spawnGate,
  };
  let failed = true;
  let leases: LeaseSet | undefined;
  try {
    // What dead processes left in the temp directory is swept beside the restores, once
    // the first download has started (or none will), not before.
    const swept = traceSettled(
      'temp-dirs:swept',
      run.spawnGate.opened.then(() => sweepTempDirs(logger)),
    );
    const settled = await Promise.allSettled(
      config.databases.map((db) => restoreShared(run, db, signal).finally(() => run.spawnGate.passed(db.path))),
    );
    traceMark('restores:done');
    await swept;
    const [leaseOutcome, runtimeOutcome] = await Promise.allSettled([leasing, runtime]);
    if (leaseOutcome.status === 'fulfilled') leases = leaseOutcome.value;
    // A broken litestream executable is the first thing to fix, whatever else failed with it.
    if (runtimeOutcome.status === 'rejected' && runtimeOutcome.reason instanceof LitestreamBinaryError) {
      throw runtimeOutcome.reason;
    }
    // A lease that could not be taken is the cause of the restores' failure too: said first.
    if (leaseOutcome.status === 'rejected') throw leaseOutcome.reason;
    const failure = settled.find((result) => result.status === 'rejected');
    if (failure) throw failure.reason;
    failed = false;
    return settled.map((result) => (result as PromiseFulfilledResult<RestoreResult>).value);
  } finally {
    traceMark('restores:settled');
    // The checker's worker (if one was started) and the litestream.yml go; a boot that
    // succeeded does not wait for that (the yml holds no secret: credentials go by env; one
    // left by a process that exits meanwhile is removed at its exit, or swept by the next boot).
    const cleanedUp = Promise.all([run.integrity.release(), configFile?.then((file) => file.dispose())]);
    cleanedUp.catch((error: unknown) => {
      logger.warn({ error: String(error) }, "could not remove the restore's private litestream.yml");
    });
    if (failed) await cleanedUp.catch(() => {});
    if (failed) {
      // The claims of the databases that did restore: a failed boot hands nothing over.
      await Promise.all([leases?.releaseTaken(), ...config.databases.map((db) => releaseClaim(db.path))]);
      const deepestFirst = [...createdDirs].sort(([a], [b]) => b.length - a.length);
      for (const [dir, created] of deepestFirst) await removeCreatedDirs(created, dir);
    }
  }
}

/**
 * Claims databases one at a time, in the order asked (the config's), and none after one
 * failed: of two apps booting at once on the same missing databases, the one that claims
 * the first gets them all. Claimed side by side, each app could get one, and both would
 * be refused the other's.
 */
function claimsInOrder(config: LitestreamConfig, logger: Logger): BootRun['claim'] {
  let previous: Promise<unknown> = Promise.resolve();
  return (db, signal) => {
    const claim = previous.then(() => claimDatabase(db.path, config.shutdownTimeoutMs, logger, signal));
    previous = claim;
    return claim;
  };
}

/**
 * Makes the directory of every database, as the restore does for a missing one; when one
 * cannot be made, removes those it made (still empty) and throws naming that database.
 */
async function makeDirectories(databases: readonly DatabaseConfig[]): Promise<void> {
  const created: [dir: string, created: string][] = [];
  try {
    for (const db of databases) {
      const made = makeDirectoryOf(db.path, db.path);
      if (made !== undefined) created.push([path.dirname(db.path), made]);
    }
  } catch (error) {
    for (const [dir, made] of created.reverse()) await removeCreatedDirs(made, dir);
    throw error;
  }
}

/**
 * Joins the restore of `db` already running in this process, or starts it. A caller whose
 * signal aborts stops waiting at once; the restore itself is aborted (and cleans up) when
 * no caller waits for it any more.
 */
async function restoreShared(
  run: BootRun,
  db: DatabaseConfig,
  signal: AbortSignal | undefined,
): Promise<RestoreResult> {
  const inFlight = run.holdings.restores;
  let shared = inFlight.get(db.path);
  // A restore being given up on still cleans up: wait for that, then start afresh.
  while (shared?.controller.signal.aborted) {
    await shared.result.catch(() => {});
    shared = inFlight.get(db.path);
  }
  if (!shared) {
    const controller = new AbortController();
    // The restore may outlive the call that started it (another caller still waits): it
    // holds the integrity checker until it is done.
    run.integrity.retain();
    const result = restoreOne(run, db, controller.signal).finally(() => {
      inFlight.delete(db.path, controller);
      void run.integrity.release();
    });
    shared = { result, controller, waiting: 0 };
    inFlight.set(db.path, shared);
  }
  const joined = shared;
  joined.waiting++;
  let left = false;
  /** Stops waiting; true when this was the last caller, so the restore itself is given up. */
  const leave = (): boolean => {
    if (left) return false;
    left = true;
    if (--joined.waiting > 0) return false;
    joined.controller.abort(signal?.reason);
    return true;
  };
  try {
    return await abortable(joined.result, signal, 'ensureRestored', async () => {
      // The last caller rejects only once the restore has cleaned up after itself.
      if (leave()) await joined.result.catch(() => {});
    });
  } finally {
    leave();
  }
}

async function restoreOne(run: BootRun, db: DatabaseConfig, signal: AbortSignal): Promise<RestoreResult> {
  // The copies that processes which died left beside the database are swept beside the
  // restore, once the first download has started (or none will), not before it (this
  // process's own are named for it, and stay).
  const swept = run.spawnGate.opened.then(() => sweepRestoreLeftovers(db.path, run.logger));
  try {
    return await restoreIfMissing(run, db, signal);
  } finally {
    run.spawnGate.passed(db.path);
    await swept;
  }
}

async function restoreIfMissing(run: BootRun, db: DatabaseConfig, signal: AbortSignal): Promise<RestoreResult> {
  const { config, logger, configFile, createdDirs } = run;
  const startedAt = performance.now();
  const elapsed = () => Math.round(performance.now() - startedAt);
  const exists = (): RestoreResult => {
    logger.debug({ db: db.path }, 'database exists; no restore needed');
    return { path: db.path, outcome: 'exists', durationMs: elapsed() };
  };
  const dir = path.dirname(db.path);
  let staleCopy: string | undefined;
  if (hasContent(db.path)) {
    // Present: nothing of this one waits for a download (one that is stale starts late).
    run.spawnGate.passed(db.path);
    if ((await checkExisting(run, db, signal)) !== 'set-aside') return exists();
    staleCopy = await setAside(db.path);
    logger.warn({ db: db.path, staleCopy }, 'the stale copy is kept aside; restoring the newest backup');
  }
  const createdDir = makeDirectoryOf(db.path, db.path);
  if (createdDir !== undefined) createdDirs.set(dir, createdDir);
  // The executable, the litestream.yml and the means to start it are made ready first.
  const prepared = run.runtime.then(async (runtime) => {
    prepareSpawn();
    return { runtime, file: await traceSettled('config-file:written', configFile(runtime)) };
  });
  prepared.catch(() => {});
  /**
   * Restores into a temp file of this process, placed only under the claim. The first
   * download starts before the claim is taken, whose file work would otherwise come first:
   * it is kept only when nothing of another process was at work on the database.
   */
  const early = new AbortController();
  const download = (isEarly: boolean) =>
    Promise.all([prepared, run.leased]).then(([{ runtime, file }]) =>
      run.slots.run(async () =>
        restoreInto(config, runtime, db, {
          output: db.path,
          ifReplicaExists: true,
          configFile: file.path,
          logger,
          signal: isEarly ? AbortSignal.any([signal, early.signal]) : signal,
          integrity: run.integrity,
          onSpawn: () => run.spawnGate.spawned(),
          beforePlacing: async () => {
            // An early download after a take-over is dropped, never placed: see below.
            if (isEarly && (await claimed) !== 'fresh') return early.abort();
            // A missing database's leftover WAL, shared memory and litestream state belong to an old copy.
            await removeStaleCompanions(db.path);
            traceMark('companions:removed');
          },
        }),
      ),
    );
  logger.info({ db: db.path }, 'database missing; checking the replica for a backup');
  const earlyDownload = download(true);
  earlyDownload.catch(() => {});
  // Two apps booting on one empty directory: one restores, the other is refused here, so
  // neither can remove the other's fresh WAL as a stale one or restore twice. Taken once a
  // download has started (or this one ended without), so its file work never delays the spawn.
  const ignore = () => {};
  const claimed = traceSettled(
    'claim:taken',
    Promise.race([run.spawnGate.opened, earlyDownload.then(ignore, ignore)]).then(() => run.claim(db, signal)),
  );
  claimed.catch(() => {});
  const dropEarlyDownload = async () => {
    early.abort();
    await earlyDownload.catch(() => {});
  };
  let claim: 'fresh' | 'taken-over';
  try {
    claim = await claimed;
  } catch (error) {
    await dropEarlyDownload();
    throw error;
  }
  try {
    if (hasContent(db.path)) {
      await dropEarlyDownload();
      return exists();
    }
    throwIfAborted(signal, 'ensureRestored');
    let result: Restored | undefined;
    if (claim === 'fresh') {
      result = await earlyDownload;
    } else {
      // Another process was at work on this database (its litestream stopped during the
      // claim may have made a final sync): only a download from now on has all of it.
      await dropEarlyDownload();
      result = await download(false);
    }
    const aside = staleCopy === undefined ? {} : { staleCopy };
    if (result === undefined) {
      await removeStaleCompanions(db.path);
      await recordRestored(run.holdings.lineage, db.path, undefined, logger);
      logger.info({ db: db.path }, 'no backup in the replica; a new database will be created');
      return { path: db.path, outcome: 'no-backup', ...aside, durationMs: elapsed() };
    }
    if (!result.placed) {
      logger.warn({ db: db.path }, 'database appeared during the restore; keeping the existing file');
      return { path: db.path, outcome: 'exists', durationMs: elapsed() };
    }
    await recordRestored(
      run.holdings.lineage,
      db.path,
      (await prepared).runtime.engine.lineage.markOf(result.position),
      logger,
    );
    traceMark('lineage:recorded');
    logger.info({ db: db.path, ...positionFields(result.position), durationMs: elapsed() }, 'database restored');
    return { path: db.path, outcome: 'restored', ...positionFields(result.position), ...aside, durationMs: elapsed() };
  } catch (error) {
    // Only a failed restore gives the claim back. On success it stays, handed to this
    // process's replication (which finds it its own): released in between, another app
    // booting then could claim the database before our replication claims it again, and
    // each app would refuse the other. Litestream#stop() releases it when no replication
    // followed; restoreAll, when another database failed the boot.
    await releaseClaim(db.path);
    throw error;
  }
}

/**
 * A database already on disk, compared with the replica's newest backup beside the lease
 * (a warm boot pays for one round trip, not two), and judged once the lease is held. When
 * another instance held the lease, its final sync may have moved the replica on since: the
 * comparison is made again.
 */
async function checkExisting(run: BootRun, db: DatabaseConfig, signal: AbortSignal): Promise<LineageAction> {
  if (run.holdings.lineage.stillCurrent(db.path)) return 'keep';
  const runtime = await run.runtime;
  const early = compareLineage(runtime, db, run.logger, signal);
  await run.leased;
  const comparison = run.waitedFor.has(db.path) ? undefined : early;
  if (comparison === undefined) await early;
  return checkLineage(run.holdings.lineage, run.config, runtime, db, run.logger, signal, 'boot', comparison);
}

/** The prefix of the temp copies a restore into `output` writes beside it. */
function restoreTempPrefix(output: string): string {
  return `.${path.basename(output)}.restore-`;
}

/**
 * Removes the temp copies that restores of processes that died left beside `database`
 * (pidfile temp files are swept where the pidfile is claimed).
 */
async function sweepRestoreLeftovers(database: string, logger: Logger): Promise<void> {
  await sweepLeftovers(path.dirname(database), restoreTempPrefix(database), logger);
}

/**
 * Removes the directories `mkdir -p` created, deepest first, as long as they are empty:
 * another process may have put something there meanwhile, and that stays.
 */
async function removeCreatedDirs(createdDir: string | undefined, dir: string): Promise<void> {
  if (createdDir === undefined) return;
  for (let current = dir; ; current = path.dirname(current)) {
    try {
      await rmdir(current);
    } catch {
      return;
    }
    if (current === createdDir || current === path.dirname(current)) return;
  }
}

/** How {@link restoreInto} restores. @internal */
export interface RestoreIntoOptions {
  /** Where the database goes; it must not exist (an empty file counts as absent). */
  output: string;
  /** What to restore; the latest state when absent. */
  target?: RestoreTarget;
  /** No backup is not an error: resolve to undefined (`-if-replica-exists`). */
  ifReplicaExists?: boolean;
  /** The rendered litestream.yml to use. */
  configFile: string;
  logger: Logger;
  /** Runs after the integrity check, right before the file is moved into place. */
  beforePlacing?: () => Promise<void>;
  /** Overrides `restore.integrityCheck` (verify runs its own, to report its own step). */
  integrityCheck?: 'full' | 'quick' | 'off';
  /** Checks the restored file (small ones on this thread, large ones in a worker); one of its own when absent. */
  integrity?: IntegrityChecker;
  /** Gives the restore up: litestream is killed, the temp files removed, nothing placed. */
  signal?: AbortSignal | undefined;
  /** Called once `litestream restore` has been started (each attempt). */
  onSpawn?: () => void;
}

/** What {@link restoreInto} restored. @internal */
export interface Restored {
  /** What litestream said it restored. */
  readonly position: RestoredPosition;
  /** False when `output` appeared meanwhile: ours was discarded. */
  readonly placed: boolean;
  readonly size: number;
}

/** The fields of a restored position that are set, for results and log lines. @internal */
export function positionFields(position: RestoredPosition): { generation?: string; txid?: number } {
  return {
    ...(position.generation === undefined ? {} : { generation: position.generation }),
    ...(position.txid === undefined ? {} : { txid: position.txid }),
  };
}

/** True when `target` asks for anything but the latest state. */
function isPinned(target: RestoreTarget | undefined): boolean {
  return (
    target !== undefined &&
    (target.timestamp !== undefined ||
      target.generation !== undefined ||
      target.index !== undefined ||
      target.txid !== undefined)
  );
}

/**
 * Restores `db` into a temp file beside `output`, checks its integrity, and moves it to
 * `output` without ever replacing an existing file. Resolves to undefined when the replica
 * has no matching backup; `placed: false` when `output` appeared meanwhile (ours is
 * discarded). Nothing is left behind on any failure. @internal
 */
export async function restoreInto(
  config: LitestreamConfig,
  runtime: Runtime,
  db: DatabaseConfig,
  options: RestoreIntoOptions,
): Promise<Restored | undefined> {
  const dialect = runtime.engine.restore;
  const dir = path.dirname(options.output);
  const createdDir = makeDirectoryOf(options.output, db.path);
  // Named for this process: if it dies mid-restore, the next boot sweeps what it left.
  const temp = path.join(dir, ownedName(restoreTempPrefix(options.output)));
  let placed = false;
  const checkDone = new AbortController();
  const integrityCheck = options.integrityCheck ?? config.restore.integrityCheck;
  const checker = options.integrity ?? new IntegrityChecker(1);
  if (options.integrity) checker.retain();
  let replicaCheck: ReplicaCheck | undefined;
  let latestChoice: Promise<((restored: RestoredPosition) => RestoreTarget | undefined) | undefined> | undefined;
  let firstDownload: Promise<RestoredPosition | undefined> | undefined;
  let gap: Promise<string | undefined> | undefined;
  try {
    // litestream starts first: the rest is Node's own work (loading its HTTP client,
    // signing a listing, starting a worker), done while litestream downloads, not before.
    const downloading: RestoreIntoOptions = {
      ...options,
      onSpawn: () => {
        options.onSpawn?.();
        // This thread waits for litestream now: what the check needs is loaded meanwhile.
        if (integrityCheck !== 'off') checker.preload();
      },
    };
    firstDownload = traceSettled('download:done', downloadWithRetry(config, runtime, db, downloading, temp));
    firstDownload.catch(() => {});
    // Litestream's answer is checked against what the replica path holds (another
    // version's backups), looked at beside the download.
    const checksChoice = !isPinned(options.target) && dialect.checkLatestChoice !== undefined;
    replicaCheck = checkReplica(config, runtime, db, options.logger, checkDone.signal, {
      generationSpans: checksChoice,
    });
    void traceSettled('format-guard:listed', replicaCheck.settled());
    // A restore of the latest state leaves the choice to litestream, which some versions
    // get wrong: the engine checks beside the download (from that same look at the
    // replica when it could list it), given up when it ends.
    latestChoice = checksChoice
      ? dialect
          .checkLatestChoice?.(config, runtime, db, checkDone.signal, replicaCheck.generationSpans())
          .catch(() => undefined)
      : undefined;
    if (latestChoice) void traceSettled('latest-choice:checked', latestChoice);
    // A file small enough is checked on this thread; a larger one's worker starts while
    // litestream downloads (once what it wrote so far says the worker will be needed), not after.
    const stopWarming =
      integrityCheck === 'off'
        ? undefined
        : warmWhenLarge(checker, () => Math.max(fileSize(dialect.progressFile(temp)), fileSize(temp)));
    let downloaded: RestoredPosition | undefined;
    try {
      downloaded = await firstDownload;
      const retarget = downloaded && (await latestChoice)?.(downloaded);
      if (downloaded && retarget) {
        options.logger.warn(
          { db: db.path, restored: positionFields(downloaded), latest: retarget },
          'litestream restored an older generation that was last written in the same second as the newest; restoring the newest instead',
        );
        await removeTemps(runtime, temp);
        downloaded = await downloadWithRetry(config, runtime, db, { ...options, target: retarget }, temp);
      }
    } catch (error) {
      // A binary that fails its version check explains the failure: report that.
      await runtime.diagnose();
      throw error;
    } finally {
      stopWarming?.();
    }
    if (downloaded === undefined) {
      await replicaCheck.noBackup();
      return undefined;
    }
    const position = downloaded;
    // Beside the integrity check: a gap in the history litestream read without noticing.
    gap = isPinned(options.target)
      ? undefined
      : dialect.findGap?.(db, position, checkDone.signal).catch((error: unknown) => {
          // Given up because the restore ended otherwise: nothing to say.
          if (checkDone.signal.aborted) return undefined;
          options.logger.warn(
            { db: db.path, error: String(error) },
            'could not check the replica for gaps in the history the restore read',
          );
          return undefined;
        });
    if (gap) void traceSettled('gap:checked', gap);

    if (integrityCheck !== 'off') {
      // A small file is checked on this thread, which it holds meanwhile: the gap check's
      // requests go out first, and their answers wait in the socket, not behind the check.
      if (gap) await setImmediate();
      const integrity = await traceSettled('integrity:checked', checker.check(temp, integrityCheck));
      if (!integrity.ok) {
        const at = describePosition(position);
        const backup = `The backup of ${db.path}${at === undefined ? '' : ` (${at})`}`;
        throw new RestoreError(
          integrity.unreadable
            ? `${backup} was restored, but SQLite could not open the restored copy to check it, so it was not put in place: ${integrity.problems[0] ?? 'unknown error'}.`
            : `${backup} failed the SQLite integrity check, so it was not put in place. Restore an earlier point in time with the CLI, or investigate the replica.`,
          { database: db.path, detail: integrity.problems.join('\n') },
        );
      }
    }
    const missing = await gap;
    if (missing !== undefined) {
      throw damagedBackupError(
        config,
        db,
        `${missing}. Litestream restored it without noticing, into an older state than the replica's latest, so it was not put in place`,
        { database: db.path, detail: missing },
        RestoreError,
      );
    }
    throwIfAborted(options.signal, 'the restore');
    const size = fileSize(temp);
    await replicaCheck.restored();
    traceMark('format-guard:passed');
    await options.beforePlacing?.();
    await chmod(temp, databaseFileMode(options.output)).catch((error: unknown) => {
      throw new FileSystemError('setting the permissions of', temp, error, { database: db.path });
    });
    // An empty file (opened before the restore, never written) holds nothing: replace it.
    if (fileSize(options.output) === 0) await removeFile(options.output);
    // The last moment to give up: from here on the database is in place.
    throwIfAborted(options.signal, 'the restore');
    try {
      // link() refuses to replace an existing file, unlike rename(): if another process
      // put a database there meanwhile, its copy wins and ours is discarded.
      await link(temp, options.output);
      placed = true;
      traceMark('placed');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return { position, placed: false, size };
      throw new FileSystemError('moving the restored database to', options.output, error, { database: db.path });
    }
    return { position, placed: true, size };
  } finally {
    // Nothing the restore started outlives it.
    checkDone.abort();
    await checker.release();
    await Promise.all([latestChoice, gap, replicaCheck?.settled(), firstDownload?.catch(() => {})]);
    // Never let a failed cleanup hide the real outcome: what stays is swept on the next boot.
    await removeTemps(runtime, temp).catch((error: unknown) => {
      options.logger.warn({ path: temp, error: String(error) }, 'could not remove a restore temp file');
    });
    traceMark('temps:removed');
    if (!placed) await removeCreatedDirs(createdDir, dir);
  }
}

/**
 * Starts `checker`'s worker as soon as the file being downloaded (`size()`, polled) turns
 * out too large to check on the main thread. Returns what stops watching.
 */
function warmWhenLarge(checker: IntegrityChecker, size: () => number): () => void {
  const look = () => {
    let bytes = -1;
    try {
      bytes = size();
    } catch {
      // Not readable now: looked at again on the next tick.
    }
    if (!checker.needsWorker(bytes)) return;
    checker.warm();
    clearInterval(timer);
  };
  const timer = setInterval(look, 20);
  timer.unref();
  return () => clearInterval(timer);
}

/**
 * Runs `litestream restore` into `temp`, retrying transient failures with exponential
 * backoff until `restore.retryForMs` is spent — a deadline for the whole restore, whatever
 * retries litestream makes by itself. Resolves to what was restored, or undefined when the
 * replica holds no matching backup.
 */
async function downloadWithRetry(
  config: LitestreamConfig,
  runtime: Runtime,
  db: DatabaseConfig,
  options: RestoreIntoOptions,
  temp: string,
): Promise<RestoredPosition | undefined> {
  const logger = options.logger;
  const { signal } = options;
  const dialect = runtime.engine.restore;
  const deadline = Date.now() + config.restore.retryForMs;
  const secrets = secretsOf(config);
  const args = [
    'restore',
    '-config',
    options.configFile,
    '-no-expand-env',
    ...(options.ifReplicaExists ? ['-if-replica-exists'] : []),
    ...dialect.targetFlags(options.target ?? {}),
    '-o',
    temp,
    db.path,
  ];
  for (let attempt = 1; ; attempt++) {
    throwIfAborted(signal, 'the restore');
    const onLine = (line: LitestreamLogLine) => {
      logger.debug({ ...forwardedFields(line, 'debug'), db: db.path }, redact(line.msg, secrets));
    };
    // Litestream 0.5 retries an unreachable replica by itself for minutes: an attempt that
    // has downloaded nothing when the budget runs out is given up (a first attempt gets at
    // least a second). One that is downloading goes on; the stall watchdog guards it.
    const attemptBudget = new AbortController();
    const budgetTimer = setTimeout(
      () => {
        if (fileSize(dialect.progressFile(temp)) <= 0 && fileSize(temp) <= 0) attemptBudget.abort();
      },
      Math.max(1_000, deadline - Date.now()),
    );
    traceMark('download:spawn', { attempt });
    const running = runCommand(runtime.binary, args, {
      env: childEnv(config, runtime.engine),
      stallTimeoutMs: config.restore.stallTimeoutMs,
      progress: async () => fileSize(dialect.progressFile(temp)),
      onLine,
      signal: signal ? AbortSignal.any([signal, attemptBudget.signal]) : attemptBudget.signal,
    });
    options.onSpawn?.();
    const result = await running.finally(() => clearTimeout(budgetTimer));
    traceMark('download:exited', { attempt });
    // Ctrl-C may reach litestream before our signal handler: then it did not die of the abort.
    if (signal?.aborted) {
      await removeTemps(runtime, temp);
      throw new LitestreamAbortError('the restore', signal.reason, { database: db.path });
    }
    const outOfTime = result.aborted && attemptBudget.signal.aborted;
    if (result.exitCode === 0 && !result.stalled && !outOfTime) {
      if (fileSize(temp) > 0) return dialect.restoredPosition(result);
      if (dialect.saysNoBackup(result, '')) return undefined;
      throw new RestoreError(`litestream restore of ${db.path} exited 0 but wrote no database.`, {
        database: db.path,
        detail: redact(errorOutput(result), secrets),
      });
    }

    // Stopped by a signal sent to the whole process group that nobody here turned into an abort.
    if (!outOfTime && (result.signal === 'SIGINT' || result.signal === 'SIGTERM')) {
      await removeTemps(runtime, temp);
      throw new RestoreError(
        `litestream was stopped by ${result.signal} before it finished restoring ${db.path}; nothing was put in place.`,
        { database: db.path },
      );
    }
    // A binary that fails its version check explains this failure: report that, never retry.
    await runtime.diagnose();
    const output = errorOutput(result);
    const detail = redact(
      result.stalled
        ? 'no progress'
        : outOfTime
          ? `litestream was still retrying the replica, with nothing downloaded, when restore.retryForMs (${config.restore.retryForMs} ms) ran out${output ? `; it said: ${output.split('\n')[0]}` : ''}`
          : output,
      secrets,
    );
    if (!outOfTime && dialect.saysNoBackup(result, detail)) return undefined;
    const kind = result.stalled || outOfTime ? 'transient' : classifyFailure(detail);
    await removeTemps(runtime, temp);
    const delay = Math.min(8_000, 250 * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2);
    if ((kind === 'transient' || kind === 'ended-early') && Date.now() + delay < deadline) {
      logger.warn(
        { db: db.path, attempt, retryInMs: Math.round(delay), error: detail },
        'replica unreachable; retrying',
      );
      await sleep(delay, undefined, { signal }).catch(() => {});
      continue;
    }
    // Litestream names a damaged object seldom: find which one, from Node.
    const damaged =
      kind === 'damaged' || kind === 'ended-early'
        ? await dialect.findDamaged(db, options.target ?? {}, detail, signal).catch((error: unknown) => {
            logger.warn({ db: db.path, error: String(error) }, 'could not check which replica object is damaged');
            return [];
          })
        : [];
    throw replicaError(config, db, kind, detail, {
      doing: 'restore',
      attempts: attempt,
      damaged,
      retryForMs: config.restore.retryForMs,
      consequence:
        kind === 'transient'
          ? 'No database was created, so the app does not start on an empty database.'
          : 'No database was created.',
      otherError: RestoreError,
    });
  }
}

/** Removes the WAL, shared memory and litestream state of a database file that is gone. */
async function removeStaleCompanions(database: string): Promise<void> {
  const companions = companionFiles(database);
  await Promise.all([removeFile(companions.wal), removeFile(companions.shm), removeFile(companions.lineage)]);
  await rm(companions.metaDir, { recursive: true, force: true });
}

/** Removes a restore's temp file and everything litestream and SQLite put beside it. */
async function removeTemps(runtime: Runtime, temp: string): Promise<void> {
  await Promise.all([temp, ...runtime.engine.restore.tempFiles(temp), `${temp}-wal`, `${temp}-shm`].map(removeFile));
}
