/**
 * The lease of each database's replica path, as the rest of the library uses it: taken
 * before a restore (waiting for, or refusing, another holder), renewed in the background,
 * handed from `ensureRestored` to the replication that follows, and released after the
 * final sync. The replication listens: `paused` (no renewal for too long: stop writing the
 * replica now), `resumed`, and `lost` (another instance holds it: stop for good).
 *
 * @packageDocumentation
 */
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { settingName } from '../config/setting-names.js';
import type { DatabaseConfig, LitestreamConfig, OffLeaseSettings, TakenLeaseSettings } from '../config/types.js';
import { CredentialsError, LitestreamAbortError, ReplicaLeaseError, ReplicationError } from '../errors.js';
import { childLogger, type Logger, logOnce } from '../logging/logger.js';
import { currentProcess, isRunning, pidScope } from '../process/owner.js';
import { refuseIfClaimed } from '../process/pidfile.js';
import { s3FailureOf } from '../replica/s3/failures.js';
import { throwIfAborted } from '../support/abort.js';
import { ConcurrencyLimit, DATABASES_AT_ONCE } from '../support/concurrency.js';
import { errorText, leaseRetryDelay } from './failures.js';
import type { KeptLease, LeaseEvents, LeaseState, LeaseWaitEvent } from './kept.js';
import { ReplicaLease } from './lease.js';
import { leaseTarget } from './location.js';
import { describeHolder, type LeaseHolder, type LeaseRecord, publicHolder } from './record.js';
import type { LeaseStore } from './store.js';
import { type WatchedLease, warnWritingOverHolder, watchLease } from './watch.js';

export type { LeaseState, LeaseWaitEvent } from './kept.js';

/** Taking the lease, for its errors. */
const TAKING = {
  fileDoing: 'Writing the replica lease',
  doing: 'take the replica lease of',
  consequence: 'Nothing was restored or replicated.',
};

/** How long a renewal request may take before it counts as failed: a tenth of the ttl, 2-10 s. */
const renewTimeoutMs = (ttlMs: number) => Math.min(10_000, Math.max(2_000, ttlMs / 10));

/** One database's lease while this process holds it. */
class HeldLease extends EventEmitter<LeaseEvents> implements KeptLease {
  readonly database: string;
  readonly where: string;
  readonly taken = true;
  readonly #lease: ReplicaLease;
  readonly #settings: TakenLeaseSettings;
  readonly #logger: Logger;
  #state: LeaseState = 'held';
  #error: string | undefined;
  #renewTimer: NodeJS.Timeout | undefined;
  #pauseTimer: NodeJS.Timeout | undefined;
  /** Renewals and the release, one at a time. */
  #work: Promise<unknown> = Promise.resolve();
  /** The release under way or done, once asked for. */
  #releasing: Promise<void> | undefined;

  constructor(database: string, where: string, lease: ReplicaLease, settings: TakenLeaseSettings, logger: Logger) {
    super();
    this.database = database;
    this.where = where;
    this.#lease = lease;
    this.#settings = settings;
    this.#logger = logger;
    this.#scheduleRenewal(settings.ttlMs / 3);
    this.#schedulePause();
  }

  get state(): LeaseState {
    return this.#state;
  }

  /** Why the lease is late, paused or lost. */
  get error(): string | undefined {
    return this.#error;
  }

  get active(): boolean {
    return this.#state === 'held' || this.#state === 'late' || this.#state === 'paused';
  }

  /**
   * Runs `task` between renewals and before any release: the lease is held throughout (a
   * probe that writes the lease's key must not run after a release deleted it).
   */
  whileHeld<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#work.then(task);
    this.#work = run.catch(() => {});
    return run;
  }

  /** The server turned out to ignore conditional writes: the lease guards nothing; stop keeping it. */
  async disable(): Promise<void> {
    await this.release();
    this.#state = 'off';
  }

  /**
   * Gives the lease up (once litestream no longer writes the replica). A second call waits
   * for the first one's request: whoever awaits it may hand the replica to the next instance.
   */
  release(): Promise<void> {
    if (this.#releasing) return this.#releasing;
    if (this.#state === 'released' || this.#state === 'lost' || this.#state === 'off') return Promise.resolve();
    this.#state = 'released';
    clearTimeout(this.#renewTimer);
    clearTimeout(this.#pauseTimer);
    const released = this.#work.then(async () => {
      try {
        const ours = await this.#lease.release(AbortSignal.timeout(renewTimeoutMs(this.#settings.ttlMs)));
        this.#logger.info({ db: this.database, lease: this.where, released: ours }, 'replica lease released');
      } catch (error) {
        // It expires by itself; the next instance waits the ttl out.
        this.#logger.warn(
          { db: this.database, lease: this.where, error: errorText(error), expiresInMs: this.#settings.ttlMs },
          'could not release the replica lease; it expires by itself',
        );
      }
    });
    this.#work = released;
    this.#releasing = released;
    return released;
  }

  #scheduleRenewal(delayMs: number): void {
    clearTimeout(this.#renewTimer);
    this.#renewTimer = setTimeout(() => {
      this.#work = this.#work.then(() => this.#renew());
    }, delayMs);
    this.#renewTimer.unref();
  }

  /** Pauses at the lease's `stopBy` unless a renewal lands before it. */
  #schedulePause(): void {
    clearTimeout(this.#pauseTimer);
    const stopBy = this.#lease.stopBy;
    if (stopBy === undefined) return;
    this.#pauseTimer = setTimeout(() => this.#pause(), Math.max(0, stopBy - performance.now()));
    this.#pauseTimer.unref();
  }

  async #renew(): Promise<void> {
    if (this.#state === 'released' || this.#state === 'lost') return;
    const ttlMs = this.#settings.ttlMs;
    let outcome: 'renewed' | 'lost';
    try {
      outcome = await this.#lease.renew(AbortSignal.timeout(renewTimeoutMs(ttlMs)));
    } catch (error) {
      if (this.#over()) return;
      if (this.#state === 'held') {
        this.#state = 'late';
        this.#logger.warn(
          { db: this.database, lease: this.where, error: errorText(error) },
          'could not renew the replica lease; retrying (replication pauses if it cannot be renewed in time)',
        );
      }
      this.#error = `the lease ${this.where} could not be renewed: ${errorText(error)}`;
      this.#scheduleRenewal(Math.min(5_000, ttlMs / 10));
      return;
    }
    if (this.#over()) return;
    if (outcome === 'lost') {
      this.#lose();
      return;
    }
    const wasPaused = this.#state === 'paused';
    if (this.#state !== 'held') this.#logger.info({ db: this.database, lease: this.where }, 'replica lease renewed');
    this.#state = 'held';
    this.#error = undefined;
    this.#schedulePause();
    this.#scheduleRenewal(ttlMs / 3);
    if (wasPaused) this.emit('resumed');
  }

  /** Released (or lost) meanwhile: a renewal's answer no longer matters. */
  #over(): boolean {
    return this.#state === 'released' || this.#state === 'lost' || this.#state === 'off';
  }

  #pause(): void {
    if (this.#state !== 'held' && this.#state !== 'late') return;
    this.#state = 'paused';
    this.#error = `the lease ${this.where} could not be renewed for ${Math.round((this.#settings.ttlMs * 4) / 5)} ms: replication is paused until it is, so that an instance taking it over never finds this one still writing (${this.#error ?? 'no answer'})`;
    this.#logger.error({ db: this.database, lease: this.where }, this.#error);
    this.emit('paused');
  }

  #lose(): void {
    clearTimeout(this.#renewTimer);
    clearTimeout(this.#pauseTimer);
    this.#state = 'lost';
    const error = new ReplicaLeaseError(
      `Another instance took over the replica of ${this.database} (its lease ${this.where} is no longer this one's): replication stopped for good, so that two instances never write one replica. This instance's later writes are not backed up: stop it, and let the new one serve.`,
      this.where,
      undefined,
      { database: this.database },
    );
    this.#error = error.message;
    this.#logger.error({ db: this.database, lease: this.where }, error.message);
    this.emit('lost', error);
  }
}

/** Options of {@link LeaseKeeper.take}. */
export interface TakeLeasesOptions {
  readonly logger: Logger;
  readonly signal?: AbortSignal | undefined;
  /** Called when a database's replica is found held by another instance (while waiting). */
  readonly onWaiting?: ((event: LeaseWaitEvent) => void) | undefined;
  /**
   * Databases whose lease may be left for later when the replica cannot be reached (a
   * present database needs nothing from it to boot; the replication takes the lease).
   * Another instance holding it is never left for later.
   */
  readonly deferrable?: ((db: DatabaseConfig) => boolean) | undefined;
}

/** What the replication does when its leases change. */
export interface LeaseWatcher {
  /** A lease went unrenewed too long: stop writing the replica now. */
  paused(): void;
  /** Every lease is held again. */
  resumed(): void;
  /** Another instance took one over: stop for good. */
  lost(error: ReplicaLeaseError): void;
}

/** The leases of a config's databases, as one: what the replication watches. */
export class LeaseSet {
  readonly #leases: readonly KeptLease[];
  /** Leases this call took (not found held already): the ones a failed boot gives back. */
  readonly #taken: readonly KeptLease[];

  constructor(leases: readonly KeptLease[], taken: readonly KeptLease[]) {
    this.#leases = leases;
    this.#taken = taken;
  }

  /** Calls `watcher` on every change, until the returned function is called. */
  watch(watcher: LeaseWatcher): () => void {
    const resumed = () => {
      if (!this.paused) watcher.resumed();
    };
    for (const lease of this.#leases) {
      lease.on('paused', watcher.paused);
      lease.on('resumed', resumed);
      lease.on('lost', watcher.lost);
    }
    return () => {
      for (const lease of this.#leases) {
        lease.off('paused', watcher.paused);
        lease.off('resumed', resumed);
        lease.off('lost', watcher.lost);
      }
    };
  }

  /** Some database's replica must not be written now. */
  get paused(): boolean {
    return this.#leases.some((lease) => lease.state === 'paused' || lease.state === 'lost');
  }

  /** Another instance took one of the leases over. */
  get lost(): boolean {
    return this.#leases.some((lease) => lease.state === 'lost');
  }

  /** For `status()`: the worst state of any database's lease, and why. */
  status(): { state: LeaseState; error: string | undefined } {
    const order: LeaseState[] = ['lost', 'paused', 'late', 'released', 'off', 'held'];
    for (const state of order) {
      const lease = this.#leases.find((one) => one.state === state);
      if (lease) return { state, error: lease.error };
    }
    return { state: 'off', error: undefined };
  }

  /** Gives back the leases this set took, not those it found held (a boot that failed). */
  async releaseTaken(): Promise<void> {
    await Promise.all(this.#taken.map((lease) => lease.release()));
  }

  /** Releases every lease (after the final sync). */
  async release(): Promise<void> {
    await Promise.all(this.#leases.map((lease) => lease.release()));
  }
}

/**
 * The replica leases one Litestream instance holds, by database path: taken by its boot's
 * restore, handed to the replication that follows (it finds them here), released after
 * the final sync. Each instance has its own, so two instances never use each other's.
 */
export class LeaseKeeper {
  readonly #held = new Map<string, KeptLease>();
  /** Acquisitions under way, by database path: concurrent calls share one. */
  readonly #acquiring = new Map<string, Promise<KeptLease | undefined>>();

  /**
   * The lease this instance has taken and still holds for `database`, if any: the same
   * object for as long as it is held without a break, so a caller can tell that no other
   * instance could have written the replica since it last looked.
   */
  heldLeaseOf(database: string): object | undefined {
    const lease = this.#held.get(database);
    return lease?.taken === true && lease.state === 'held' ? lease : undefined;
  }

  /** Whether this instance keeps a lease of `database` (held, late, paused or watched). */
  holds(database: string): boolean {
    return this.#held.get(database)?.active === true;
  }

  /**
   * Takes the lease of each of `databases` (concurrently), or finds it held by this
   * instance already (taken by `ensureRestored` for the replication that follows). A
   * database whose replica cannot hold a lease gets one warning and no guard. With the
   * lease off, reads each lease instead and watches it (see `watch.ts`).
   *
   * @throws {@link ReplicaLeaseError} when another instance holds one (`refuse`, `wait` ran
   *   out, or the lease is off); the leases this call took are given back first.
   * @throws {@link ReplicaUnreachableError} when the lease cannot be read or written for
   *   `restore.retryForMs`.
   */
  async take(
    config: LitestreamConfig,
    databases: readonly DatabaseConfig[],
    options: TakeLeasesOptions,
  ): Promise<LeaseSet> {
    const settings = config.lease;
    if (!config.enabled) return new LeaseSet([], []);
    if (settings.mode === 'off-write-over-live-holder') {
      await Promise.all(
        databases.map((db) => warnWritingOverHolder(config, settings, db, leaseLogger(config), options.signal)),
      );
      return new LeaseSet([], []);
    }
    const slots = new ConcurrencyLimit(DATABASES_AT_ONCE);
    const outcomes = await Promise.allSettled(
      databases.map((db) =>
        slots.run(() =>
          this.#holdOne(config, settings, db, options).catch((error: unknown) => {
            if (error instanceof ReplicaLeaseError || error instanceof LitestreamAbortError) throw error;
            if (error instanceof ReplicationError) throw error;
            // No credentials at all is no outage to wait out: the boot fails, naming the sources tried.
            if (error instanceof CredentialsError && !error.transient) throw error;
            if (!options.deferrable?.(db)) throw error;
            options.logger.warn(
              { db: db.path, error: errorText(error) },
              settings.mode === 'take'
                ? 'could not take the replica lease; the database is present, so the boot goes on and replication takes the lease once the replica answers'
                : 'could not read the replica lease (the lease is off); the database is present, so the boot goes on, and replication starts once the lease can be read and no other instance holds it',
            );
            return undefined;
          }),
        ),
      ),
    );
    const leases = outcomes.flatMap((outcome) =>
      outcome.status === 'fulfilled' && outcome.value ? [outcome.value] : [],
    );
    const taken = leases.filter((lease) => lease.taken).map((lease) => lease.lease);
    const failure = outcomes.find((outcome) => outcome.status === 'rejected');
    if (failure) {
      await Promise.all(taken.map((lease) => lease.release()));
      throw failure.reason;
    }
    return new LeaseSet(
      leases.map((lease) => lease.lease),
      taken,
    );
  }

  /** Releases the leases this instance holds for `databases` (when no replication followed). */
  async release(databases: readonly DatabaseConfig[]): Promise<void> {
    await Promise.all(databases.map((db) => this.#held.get(db.path)?.release()));
  }

  async #holdOne(
    config: LitestreamConfig,
    settings: TakenLeaseSettings | OffLeaseSettings,
    db: DatabaseConfig,
    options: TakeLeasesOptions,
  ): Promise<{ lease: KeptLease; taken: boolean } | undefined> {
    for (;;) {
      const current = this.#held.get(db.path);
      if (current?.active && current.taken === (settings.mode === 'take')) {
        return { lease: current, taken: false };
      }
      const pending = this.#acquiring.get(db.path);
      if (pending === undefined) break;
      // Another call of this instance is taking it (two acquisitions would take it from each other).
      await pending.catch(() => {});
    }
    const acquisition = (
      settings.mode === 'take' ? acquireOne(config, settings, db, options) : watchOne(config, settings, db, options)
    ).then((lease) => {
      if (lease !== undefined) this.#keep(db.path, lease);
      return lease;
    });
    this.#acquiring.set(db.path, acquisition);
    try {
      const lease = await acquisition;
      return lease === undefined ? undefined : { lease, taken: true };
    } finally {
      if (this.#acquiring.get(db.path) === acquisition) this.#acquiring.delete(db.path);
    }
  }

  #keep(database: string, lease: KeptLease): void {
    this.#held.set(database, lease);
    lease.on('lost', () => {
      if (this.#held.get(database) === lease) this.#held.delete(database);
    });
  }
}

/** With the lease off: reads it (refusing a live holder), then watches it while replicating. */
async function watchOne(
  config: LitestreamConfig,
  settings: OffLeaseSettings,
  db: DatabaseConfig,
  options: TakeLeasesOptions,
): Promise<WatchedLease | undefined> {
  const watched = await watchLease(config, settings, db, {
    ...options,
    logger: leaseLogger(config),
    holders: { gone: holderGone, running: holderRunning },
  });
  return watched;
}

async function acquireOne(
  config: LitestreamConfig,
  settings: TakenLeaseSettings,
  db: DatabaseConfig,
  options: TakeLeasesOptions,
): Promise<HeldLease | undefined> {
  const target = leaseTarget(db);
  if ('unsupported' in target) {
    logOnce(
      config,
      options.logger,
      'warn',
      { db: db.path },
      `no replica lease for ${db.path}: ${target.unsupported}. Nothing stops a second instance from writing the same replica path (run one instance at a time), or set lease: false to say so and silence this warning.`,
    );
    return undefined;
  }
  const lease = new ReplicaLease({
    store: target.store,
    holder: thisHolder(),
    ttlMs: settings.ttlMs,
    holderGone,
  });
  const logger = options.logger;
  const deadline = Date.now() + config.restore.retryForMs;
  const waitMs = settings.whenHeld === 'refuse' ? 0 : settings.waitMs;
  let lastHolder: string | undefined;
  for (let attempt = 1; ; attempt++) {
    throwIfAborted(options.signal, 'waiting for the replica lease');
    try {
      await target.store.sweep?.(logger);
      const outcome = await lease.acquire({
        waitMs,
        signal: options.signal,
        onHeld: async (record) => {
          // Another app on this very file (same machine and directory) is refused, not waited for.
          await refuseIfClaimed(db.path);
          const described = describeHolder(record);
          if (described === lastHolder) return;
          lastHolder = described;
          logger.warn(
            { db: db.path, lease: target.where, holder: described, waitMs },
            waitMs > 0
              ? 'waiting for the previous instance: it holds the replica until its final sync'
              : 'another instance holds the replica',
          );
          options.onWaiting?.({ database: db.path, lease: target.where, holder: publicHolder(record) });
        },
      });
      if (!outcome.acquired) throw heldError(config, db, target.where, outcome.holder, settings, waitMs);
      if (outcome.tookOverFrom) {
        logger.warn(
          { db: db.path, lease: target.where, previous: describeHolder(outcome.tookOverFrom.record) },
          'took the replica lease over from an instance that stopped renewing it (it crashed or was killed)',
        );
      }
      // Its renewals go on long after the restore that took it: they log as the lease's own.
      const kept = new HeldLease(db.path, target.where, lease, settings, leaseLogger(config));
      if (target.conditionalWritesUnproven) {
        // Off the boot's path: until it answers, the lease guards as far as the server lets it.
        // Its create must find the lease there: it runs before any release deletes it (a boot
        // that fails at once gives its leases back), or it would leave an object in the lease's
        // place that every later boot waits a ttl for.
        void kept
          .whileHeld(() => honoursConditionalWrites(target.store))
          .then(
            async (honoured) => {
              if (honoured) return;
              warnUnconditional(config, db, target.where, logger);
              await kept.disable();
            },
            () => {}, // Unknown: the next boot asks again.
          );
      }
      logger.debug({ db: db.path, lease: target.where }, 'replica lease taken');
      return kept;
    } catch (error) {
      if (options.signal?.aborted) {
        throw new LitestreamAbortError('waiting for the replica lease', options.signal.reason, { database: db.path });
      }
      if (error instanceof ReplicaLeaseError || error instanceof ReplicationError) throw error;
      const failure = s3FailureOf(error);
      if (failure && isNotImplemented(failure.status, failure.code)) {
        warnUnconditional(config, db, target.where, logger);
        return undefined;
      }
      const delayMs = leaseRetryDelay(config, db, target.where, error, attempt, deadline, TAKING, logger);
      await sleep(delayMs, undefined, { signal: options.signal }).catch(() => {});
    }
  }
}

/**
 * Whether the server refused a second create of the lease object (412), as a server that
 * honours `If-None-Match: *` does. One that wrote it again ignores the header, and a lease
 * there guards nothing.
 */
async function honoursConditionalWrites(store: LeaseStore): Promise<boolean> {
  try {
    return (await store.create('{}\n', AbortSignal.timeout(10_000))) === undefined;
  } catch (error) {
    const failure = s3FailureOf(error);
    if (failure && isNotImplemented(failure.status, failure.code)) return false;
    throw error;
  }
}

function isNotImplemented(status: number | undefined, code: string | undefined): boolean {
  return status === 501 || code === 'NotImplemented';
}

/** The logger of a held lease's renewals, pauses and release. */
function leaseLogger(config: LitestreamConfig): Logger {
  return childLogger(config.logger, { component: 'lease' });
}

function warnUnconditional(config: LitestreamConfig, db: DatabaseConfig, where: string, logger: Logger): void {
  logOnce(
    config,
    logger,
    'warn',
    { db: db.path, lease: where },
    `the S3 server ignores conditional writes (If-None-Match), so no replica lease can guard ${db.path}: nothing stops a second instance from writing the same replica path. Run one instance at a time, or set lease: false to say so and silence this warning.`,
  );
}

function heldError(
  config: LitestreamConfig,
  db: DatabaseConfig,
  where: string,
  record: LeaseRecord | undefined,
  settings: TakenLeaseSettings,
  waitMs: number,
): ReplicaLeaseError {
  const holder = describeHolder(record);
  // Named as the user set them: LITESTREAM_LEASE_WAIT, or lease.waitMs.
  const [waitName, ttlName, whenHeldName] = ['lease.waitMs', 'lease.ttlMs', 'lease.whenHeld'].map((option) =>
    settingName(config, option),
  );
  const why =
    waitMs > 0
      ? `it did not release it within ${waitName} (${waitMs} ms): stop that instance, or raise ${waitName} above the time its final sync takes (a crashed holder's lease expires after ${ttlName}, ${settings.ttlMs} ms)`
      : `${whenHeldName} is "refuse": stop that instance first, or set ${whenHeldName} to "wait" to wait for its final sync`;
  return new ReplicaLeaseError(
    `The replica of ${db.path} is held by another instance, ${holder} (lease ${where}), and ${why}. Nothing was restored or replicated.`,
    where,
    publicHolder(record),
    { database: db.path },
  );
}

let me: LeaseHolder | undefined;

/** This process as a lease names it. */
function thisHolder(): LeaseHolder {
  if (me) return me;
  const process = currentProcess();
  const scope = pidScope();
  me = Object.freeze({
    host: hostname(),
    pid: process.pid,
    startedAt: new Date(Date.now() - performance.now()).toISOString(),
    version: packageVersion(),
    machine: scope !== undefined && process.start !== undefined ? { id: scope, start: process.start } : undefined,
  });
  return me;
}

/** A holder that runs where this process sees its pid (and is not this process). */
function holderRunning(record: LeaseRecord): boolean {
  const machine = record.holder.machine;
  if (machine === undefined || machine.id !== pidScope()) return false;
  const self = thisHolder();
  if (record.holder.pid === self.pid && record.holder.startedAt === self.startedAt) return false;
  return isRunning({ pid: record.holder.pid, start: machine.start });
}

/** A holder that ran where this process sees its pid, and no longer runs. */
function holderGone(record: LeaseRecord): boolean {
  const machine = record.holder.machine;
  if (machine === undefined || machine.id !== pidScope()) return false;
  return !isRunning({ pid: record.holder.pid, start: machine.start });
}

/** This library's version, for the lease record. */
function packageVersion(): string {
  try {
    // By the package's own name: found wherever the build puts this code (dist/ is bundled).
    const text = readFileSync(createRequire(import.meta.url).resolve('litestream-node/package.json'), 'utf8');
    return (JSON.parse(text) as { version?: string }).version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}
