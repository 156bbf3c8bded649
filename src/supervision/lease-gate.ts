/**
 * The lease gate: litestream may write the replica only while this instance holds every
 * database's replica lease. The gate takes the leases (an unreachable replica is retried
 * with backoff, so an app whose databases are present boots during an outage), watches
 * them, and tells the supervisor when to pause, resume, or stop for good because another
 * instance took the replica over.
 *
 * @packageDocumentation
 */
import {
  CredentialsError,
  LitestreamAbortError,
  ReplicaLeaseError,
  ReplicationError,
  StaleDatabaseError,
} from '../errors.js';
import { LeaseSet, type LeaseWatcher } from '../lease/keeper.js';
import type { LeaseState } from '../lease/kept.js';
import type { Logger } from '../logging/logger.js';
import type { Cancel, Clock } from './clock.js';
import { type BackoffSettings, backoffCeiling } from './restart-backoff.js';

/** What the gate needs of the leases (`LeaseSet` is one; tests pass a fake). */
export type Leases = Pick<LeaseSet, 'watch' | 'paused' | 'lost' | 'status' | 'release'>;

/** The gate's view of the leases, as `status().lease` shows it. */
export interface LeaseGateStatus {
  readonly state: LeaseState;
  readonly error: string | undefined;
}

/** What the supervisor does when the leases change. */
export interface LeaseGateHost extends LeaseWatcher {
  /** Another instance took the replica, or it holds newer writes than this copy: stop for good. */
  lost(error: ReplicaLeaseError | StaleDatabaseError): void;
  /** Still waiting for the leases (not started meanwhile, not stopping). */
  waiting(): boolean;
  /** A retry took every lease: start replicating. */
  taken(): void;
  /** A request for the lease failed with `text` (the outage's cause, unless another came first). */
  sawFailure(text: string): void;
}

/** See {@link LeaseGate}. */
export interface LeaseGateOptions {
  /** Takes (or finds held) every database's lease. */
  take(signal: AbortSignal): Promise<Leases>;
  /** Runs once the leases are held, before litestream may write (the stale-copy check). */
  afterTaken(signal: AbortSignal): Promise<void>;
  readonly clock: Clock;
  readonly logger: Logger;
  /** The retry delays: doubling from the first, up to the longest. */
  readonly backoff: Pick<BackoffSettings, 'initialBackoffMs' | 'maxBackoffMs'>;
  /** Aborts taking and retrying (the replication is stopping). */
  readonly signal: AbortSignal;
  readonly host: LeaseGateHost;
}

/** Takes, retries and watches the replica leases. */
export class LeaseGate {
  readonly #options: LeaseGateOptions;
  #leases: Leases = new LeaseSet([], []);
  /** Why the leases could not be taken yet (the replica did not answer); retried meanwhile. */
  #problem: string | undefined;
  #attempt = 0;
  #cancelRetry: Cancel | undefined;
  #unwatch: () => void = () => {};
  /** The replication is stopping: a take that lands now gives its leases straight back. */
  #stopped = false;

  constructor(options: LeaseGateOptions) {
    this.#options = options;
  }

  /** Some lease went unrenewed too long, or was lost: nothing may be written now. */
  get paused(): boolean {
    return this.#leases.paused;
  }

  /** Another instance took a lease over. */
  get lost(): boolean {
    return this.#leases.lost;
  }

  /** The leases could not be taken yet, and are being retried. */
  get waitingToTake(): boolean {
    return this.#problem !== undefined;
  }

  /** Every lease is held: litestream may write. */
  get held(): boolean {
    return !this.paused && !this.waitingToTake;
  }

  status(): LeaseGateStatus {
    if (this.#problem !== undefined) return Object.freeze({ state: 'paused', error: this.#problem });
    return Object.freeze(this.#leases.status());
  }

  /**
   * Takes the leases. Another instance holding one fails the start (after waiting, as
   * configured), and so do a stale copy and, at the first start, no credentials at all; a
   * replica that cannot be reached does not: the gate stays shut and retries.
   */
  async take(firstStart: boolean): Promise<void> {
    const { signal, host, logger } = this.#options;
    try {
      const leases = await this.#options.take(signal);
      if (this.#stopped) {
        // A retry that was in flight when the replication stopped: what it took is given
        // back, or it would be renewed, unused, until the process exits.
        await leases.release();
        throw new LitestreamAbortError('taking the replica lease', signal.reason);
      }
      this.#leases = leases;
      this.#problem = undefined;
      this.#attempt = 0;
      this.#unwatch();
      this.#unwatch = leases.watch({
        paused: () => host.paused(),
        resumed: () => host.resumed(),
        lost: (error) => host.lost(error),
      });
      // A database on disk not compared with its replica in this process (no boot ran
      // here, or the replica was down then) is compared before litestream writes anything.
      await this.#options.afterTaken(signal);
    } catch (error) {
      if (error instanceof LitestreamAbortError || error instanceof ReplicaLeaseError) throw error;
      if (error instanceof StaleDatabaseError) throw error;
      // No credentials anywhere will not pass by waiting: the start fails, naming the sources
      // tried (later, as in an outage, replication waits and retries).
      if (error instanceof CredentialsError && !error.transient && firstStart) throw error;
      if (error instanceof ReplicationError) throw error;
      const delayMs = backoffCeiling(this.#options.backoff, this.#attempt++);
      const message = (error as Error).message;
      this.#problem = `the replica lease could not be taken (${message}); replication waits for it, retrying`;
      host.sawFailure(message);
      logger.error({ retryInMs: delayMs }, this.#problem);
      this.#cancelRetry?.();
      this.#cancelRetry = this.#options.clock.setTimeout(() => void this.#retry(), delayMs);
    }
  }

  /** No more retries (the replication is stopping); a take still in flight gives back what it takes. */
  stop(): void {
    this.#stopped = true;
    this.#cancelRetry?.();
    this.#cancelRetry = undefined;
  }

  /** Stops watching and releases every lease (after the final sync: the next instance may take over). */
  async release(): Promise<void> {
    this.#unwatch();
    await this.#leases.release();
  }

  async #retry(): Promise<void> {
    this.#cancelRetry = undefined;
    const { host, signal } = this.#options;
    if (!host.waiting() || signal.aborted) return;
    try {
      await this.take(false);
    } catch (error) {
      // Another instance took the replica meanwhile, or it holds newer writes than this copy.
      if (error instanceof ReplicaLeaseError || error instanceof StaleDatabaseError) host.lost(error);
      return;
    }
    if (this.#problem === undefined) host.taken();
  }
}
