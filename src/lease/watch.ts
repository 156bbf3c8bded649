/**
 * The lease turned off (`lease.mode: 'off'`, `lease: false`, `LITESTREAM_LEASE=off`): this
 * instance takes no lease and writes none, but "off" means "do not take one", not "write over
 * a live holder". So the lease object is still read: before the restore and before
 * replication starts, a live holder is refused with a {@link ReplicaLeaseError}; while
 * replicating it is read every third of the ttl, and a holder that appears (an instance that
 * took the lease since) stops this replication for good. `'off-write-over-live-holder'` reads
 * it once, for a warning, and goes on.
 *
 * Where there is no lease object to read (a replica that is neither S3 nor a directory) there
 * is nothing to check: said once at info level, since the lease-on warning for that case
 * tells users to turn the lease off. An S3 replica for which the Node process has no
 * credentials at all fails as taking the lease does (a `CredentialsError`).
 * Where it can be read but the replica does not answer, the check waits and retries as taking
 * the lease does (replication does not start before it answers); once running, a read that
 * fails is a warning and is retried, and replication goes on.
 *
 * @packageDocumentation
 */
import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DatabaseConfig, LitestreamConfig, OffLeaseSettings } from '../config/types.js';
import { LitestreamAbortError, ReplicaLeaseError } from '../errors.js';
import { type Logger, logOnce } from '../logging/logger.js';
import { throwIfAborted } from '../support/abort.js';
import { errorText, leaseRetryDelay } from './failures.js';
import type { KeptLease, LeaseEvents, LeaseState, LeaseWaitEvent } from './kept.js';
import type { LeaseClock } from './lease.js';
import { leaseTarget } from './location.js';
import { LeaseObserver } from './observer.js';
import { decodeLease, describeHolder, type LeaseRecord, publicHolder } from './record.js';

/** Whether a lease's holder runs where this process can see its pid (see keeper). */
export interface HolderProbe {
  /** It ran here and no longer runs. */
  readonly gone: (record: LeaseRecord) => boolean;
  /** It runs here. */
  readonly running: (record: LeaseRecord) => boolean;
}

export interface WatchLeaseOptions {
  readonly logger: Logger;
  readonly signal?: AbortSignal | undefined;
  /** Called when the replica's lease object is there and not yet told live or stale. */
  readonly onWaiting?: ((event: LeaseWaitEvent) => void) | undefined;
  readonly holders: HolderProbe;
  readonly clock?: LeaseClock | undefined;
}

/** Reading the lease with it off, for its errors. */
const READING = {
  fileDoing: 'Reading the replica lease',
  doing: 'read the replica lease of',
  consequence:
    'Nothing was restored or replicated. The lease is off here (lease.mode "off", LITESTREAM_LEASE=off), which means this instance takes none, not that it writes over a live holder: it replicates once the lease can be read and no other instance holds it. To replicate without reading it, and fork the backup if another instance writes it, set lease.mode to "off-write-over-live-holder" (LITESTREAM_LEASE=off-write-over-live-holder).',
};

/** How long one read of the lease may take while replicating: a tenth of the ttl, 2-10 s. */
const readTimeoutMs = (ttlMs: number) => Math.min(10_000, Math.max(2_000, ttlMs / 10));

/** With the lease off: one database's lease object, read every third of the ttl while replicating. */
export class WatchedLease extends EventEmitter<LeaseEvents> implements KeptLease {
  readonly database: string;
  readonly where: string;
  readonly taken = false;
  readonly #observer: LeaseObserver;
  readonly #ttlMs: number;
  readonly #logger: Logger;
  #state: 'off' | 'lost' | 'released' = 'off';
  #error: string | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(database: string, where: string, observer: LeaseObserver, ttlMs: number, logger: Logger) {
    super();
    this.database = database;
    this.where = where;
    this.#observer = observer;
    this.#ttlMs = ttlMs;
    this.#logger = logger;
    this.#schedule();
  }

  get state(): LeaseState {
    return this.#state;
  }

  get error(): string | undefined {
    return this.#error;
  }

  get active(): boolean {
    return this.#state === 'off';
  }

  async release(): Promise<void> {
    if (this.#state === 'off') this.#state = 'released';
    clearTimeout(this.#timer);
  }

  #schedule(): void {
    this.#timer = setTimeout(() => void this.#look(), this.#ttlMs / 3);
    this.#timer.unref();
  }

  async #look(): Promise<void> {
    let seen: Awaited<ReturnType<LeaseObserver['look']>>;
    try {
      seen = await this.#observer.look(AbortSignal.timeout(readTimeoutMs(this.#ttlMs)));
    } catch (error) {
      if (this.#state !== 'off') return;
      if (this.#error === undefined) {
        this.#logger.warn(
          { db: this.database, lease: this.where, error: errorText(error), retryInMs: Math.round(this.#ttlMs / 3) },
          'could not read the replica lease (the lease is off here); replication goes on, and it is read again',
        );
      }
      this.#error = `the lease ${this.where} could not be read, so another instance taking it would not be seen: ${errorText(error)}`;
      this.#schedule();
      return;
    }
    if (this.#state !== 'off') return;
    if (this.#error !== undefined)
      this.#logger.info({ db: this.database, lease: this.where }, 'replica lease read again');
    this.#error = undefined;
    if (seen.held === true) {
      this.#lose(seen.record);
      return;
    }
    this.#schedule();
  }

  #lose(record: LeaseRecord | undefined): void {
    this.#state = 'lost';
    const error = new ReplicaLeaseError(
      `Another instance, ${describeHolder(record)}, took the lease of the replica of ${this.database} (${this.where}) while this instance replicated it with the lease off: replication stopped for good, so that two instances never write one replica. This instance's later writes are not backed up: stop it, and let the instance that holds the lease serve. An instance that writes should take the lease (lease.mode "take", the default).`,
      this.where,
      publicHolder(record),
      { database: this.database },
    );
    this.#error = error.message;
    this.#logger.error({ db: this.database, lease: this.where }, error.message);
    this.emit('lost', error);
  }
}

/**
 * With the lease off: reads `db`'s lease object until it can tell whether another instance
 * holds it, then watches it while replicating. Undefined when it cannot be read from Node.
 *
 * @throws {@link ReplicaLeaseError} when another live instance holds it.
 * @throws {@link ReplicaUnreachableError} when it cannot be read for `restore.retryForMs`.
 */
export async function watchLease(
  config: LitestreamConfig,
  settings: OffLeaseSettings,
  db: DatabaseConfig,
  options: WatchLeaseOptions,
): Promise<WatchedLease | undefined> {
  const target = leaseTarget(db);
  const logger = options.logger;
  if ('unsupported' in target) {
    logOnce(
      config,
      logger,
      'info',
      { db: db.path },
      `the lease is off, and ${db.path} has no lease object to read (${target.unsupported}): nothing stops this instance from replicating while another one holds the replica path.`,
    );
    return undefined;
  }
  const observer = new LeaseObserver({
    store: target.store,
    ttlMs: settings.ttlMs,
    clock: options.clock ?? { now: () => performance.now(), sleep: (ms, signal) => sleep(ms, undefined, { signal }) },
    holderGone: options.holders.gone,
    holderRunning: options.holders.running,
  });
  const deadline = Date.now() + config.restore.retryForMs;
  let told = false;
  for (let attempt = 1; ; attempt++) {
    throwIfAborted(options.signal, 'reading the replica lease');
    try {
      const seen = await observer.decide({
        pollMs: Math.min(1_000, settings.ttlMs / 4),
        signal: options.signal,
        onUndecided: (record) => {
          if (told) return;
          told = true;
          logger.warn(
            { db: db.path, lease: target.where, holder: describeHolder(record), ttlMs: settings.ttlMs },
            'the replica lease names another instance; the lease is off here, and this instance does not replicate while that one holds it: watching the lease to tell whether it is still renewed',
          );
          options.onWaiting?.({ database: db.path, lease: target.where, holder: publicHolder(record) });
        },
      });
      if (seen.held) throw heldError(db, target.where, seen.record);
      if (seen.stale !== undefined) {
        logger.warn(
          {
            db: db.path,
            lease: target.where,
            previous: describeHolder(seen.stale === 'unknown holder' ? undefined : seen.stale),
          },
          'the replica lease names an instance that stopped renewing it (it crashed or was killed): not a live holder, so this instance (lease off) goes on',
        );
      }
      return new WatchedLease(db.path, target.where, observer, settings.ttlMs, logger);
    } catch (error) {
      if (options.signal?.aborted) {
        throw new LitestreamAbortError('reading the replica lease', options.signal.reason, { database: db.path });
      }
      if (error instanceof ReplicaLeaseError) throw error;
      const delayMs = leaseRetryDelay(config, db, target.where, error, attempt, deadline, READING, logger);
      await sleep(delayMs, undefined, { signal: options.signal }).catch(() => {});
    }
  }
}

/**
 * With `'off-write-over-live-holder'`: one read of `db`'s lease object, for a warning that
 * names the holder if there is one. Never fails: the user chose to write over it.
 */
export async function warnWritingOverHolder(
  config: LitestreamConfig,
  settings: OffLeaseSettings,
  db: DatabaseConfig,
  logger: Logger,
  signal: AbortSignal | undefined,
): Promise<void> {
  const target = leaseTarget(db);
  let found: string;
  if ('unsupported' in target) {
    found = `No lease object can be read here: ${target.unsupported}`;
  } else {
    const timeout = AbortSignal.timeout(readTimeoutMs(settings.ttlMs));
    const seen = await target.store.read(signal ? AbortSignal.any([signal, timeout]) : timeout).then(
      (read) =>
        read === undefined ? 'no instance holds it now' : `it names ${describeHolder(decodeLease(read.body))}`,
      (error: unknown) => `it could not be read (${errorText(error)})`,
    );
    found = `The lease ${target.where}: ${seen}`;
  }
  logOnce(
    config,
    logger,
    'warn',
    { db: db.path },
    `the lease is "off-write-over-live-holder" for ${db.path}: this instance replicates even while another instance holds the replica, and two writers fork the backup, so that one instance's acknowledged writes are lost. ${found}.`,
  );
}

function heldError(db: DatabaseConfig, where: string, record: LeaseRecord | undefined): ReplicaLeaseError {
  return new ReplicaLeaseError(
    `The replica of ${db.path} is held by another instance, ${describeHolder(record)} (lease ${where}), and the lease is off here (lease.mode "off", LITESTREAM_LEASE=off). Off means this instance takes no lease, not that it writes over a live holder: two writers would fork the backup, and one instance's acknowledged writes would be lost. Nothing was restored or replicated. Stop that instance first; or take the lease (lease.mode "take", the default) to wait for its final sync; or, only if losing writes is acceptable, set lease.mode to "off-write-over-live-holder" (LITESTREAM_LEASE=off-write-over-live-holder). For a read-only copy, \`litestream-node restore -o FILE\` makes one without replicating (read replicas that follow the replica are planned).`,
    where,
    publicHolder(record),
    { database: db.path },
  );
}
