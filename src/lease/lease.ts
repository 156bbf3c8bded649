/**
 * One writer per replica path: a lease object taken before a restore and held while
 * replicating, so that two app instances (a rolling deploy) never write one replica.
 *
 * Expiry never compares two machines' clocks. A contender that finds the lease notes its
 * ETag on its own monotonic clock (when the answer arrived, so after the write it saw) and
 * may take it over only when the very same ETag is still there a whole `ttlMs` later. The holder renews well within `ttlMs`, and when it
 * cannot, stops replicating by the time it sent its last successful renewal plus `ttlMs`
 * less a margin: always before any contender can have waited out the `ttlMs` that began
 * after that renewal landed.
 *
 * @packageDocumentation
 */
import { setTimeout as sleepFor } from 'node:timers/promises';
import { traceSettled } from '../logging/trace.js';
import { decodeLease, encodeLease, type LeaseHolder, type LeaseRecord } from './record.js';
import type { LeaseStore } from './store.js';

/** The clock and the waiting a lease uses; injected by tests. */
export interface LeaseClock {
  /** Monotonic milliseconds. */
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

const SYSTEM_CLOCK: LeaseClock = {
  now: () => performance.now(),
  sleep: (ms, signal) => sleepFor(ms, undefined, { signal }),
};

/** The pause after losing a race for the lease object, before looking at it again. */
const RACE_PAUSE_MS = 100;

/** What {@link ReplicaLease.acquire} came to. */
export type AcquireOutcome =
  | {
      readonly acquired: true;
      /** The holder whose lease expired and was taken over, if any (undefined: unknown holder). */
      readonly tookOverFrom: { readonly record: LeaseRecord | undefined } | undefined;
    }
  /** Someone else holds it, and `wait` ran out (or was 0). */
  | { readonly acquired: false; readonly holder: LeaseRecord | undefined };

export interface AcquireOptions {
  /** How long to wait for the holder to release or expire; 0 gives up at once. */
  readonly waitMs: number;
  /** How often to look again while waiting. Default a quarter of the ttl, at most 1 s. */
  readonly pollMs?: number;
  readonly signal?: AbortSignal;
  /**
   * Told who holds the lease each time it is found held (for health and logs); a rejection
   * ends the wait with that error.
   */
  readonly onHeld?: (holder: LeaseRecord | undefined) => void | Promise<void>;
}

export interface ReplicaLeaseOptions {
  readonly store: LeaseStore;
  readonly holder: LeaseHolder;
  /** How long a silent holder keeps the lease. */
  readonly ttlMs: number;
  /** How long before its lease could be taken the holder stops. Default a fifth of the ttl. */
  readonly marginMs?: number;
  readonly clock?: LeaseClock;
  /**
   * True when the holder a record names is known to have died (it ran where this process can
   * see its pid): its lease is taken over at once instead of after the ttl.
   */
  readonly holderGone?: (record: LeaseRecord) => boolean;
}

/** The lease of one replica path, as one process sees it. */
export class ReplicaLease {
  readonly #store: LeaseStore;
  readonly #holder: LeaseHolder;
  readonly #ttlMs: number;
  readonly #marginMs: number;
  readonly #clock: LeaseClock;
  readonly #holderGone: (record: LeaseRecord) => boolean;
  #counter = 0;
  /** The ETag of our lease object while we hold it. */
  #etag: string | undefined;
  /** When the write that last confirmed our lease was sent (monotonic). */
  #confirmedSentAt = 0;

  constructor(options: ReplicaLeaseOptions) {
    this.#store = options.store;
    this.#holder = options.holder;
    this.#ttlMs = options.ttlMs;
    this.#marginMs = options.marginMs ?? options.ttlMs / 5;
    this.#clock = options.clock ?? SYSTEM_CLOCK;
    this.#holderGone = options.holderGone ?? (() => false);
  }

  /** True while this process holds the lease (as far as it knows). */
  get held(): boolean {
    return this.#etag !== undefined;
  }

  /**
   * The monotonic time by which the holder must have stopped writing the replica unless a
   * renewal lands first; undefined when not held.
   */
  get stopBy(): number | undefined {
    return this.#etag === undefined ? undefined : this.#confirmedSentAt + this.#ttlMs - this.#marginMs;
  }

  /**
   * Takes the lease: at once when nobody holds it, after it expires when a holder went
   * silent, or when the holder releases it within `waitMs`.
   */
  async acquire(options: AcquireOptions): Promise<AcquireOutcome> {
    const startedAt = this.#clock.now();
    const pollMs = options.pollMs ?? Math.min(1_000, this.#ttlMs / 4);
    // The other holder's object as first seen unchanged, on our clock.
    let watched: { etag: string; since: number } | undefined;
    for (;;) {
      options.signal?.throwIfAborted();
      // Read first, though the usual boot finds no lease: some servers (SeaweedFS) create a
      // missing bucket on a PUT, and a misspelt bucket must stay an error.
      const found = await traceSettled('lease:read', this.#store.read(options.signal));
      // After the answer: the object read was there then, whenever the request was sent.
      const seenAt = this.#clock.now();
      if (found === undefined) {
        const sentAt = this.#clock.now();
        const etag = await traceSettled('lease:created', this.#store.create(this.#nextBody(), options.signal));
        if (etag !== undefined) {
          this.#holdFrom(etag, sentAt);
          return { acquired: true, tookOverFrom: undefined };
        }
        // Another process created it meanwhile: look at theirs (a moment later, so that a
        // server whose reads lag its writes is not asked again and again at once).
        await this.#clock.sleep(RACE_PAUSE_MS, options.signal);
        continue;
      }
      const record = decodeLease(found.body);
      if (watched?.etag !== found.etag) watched = { etag: found.etag, since: seenAt };
      const expired =
        seenAt - watched.since >= Math.max(this.#ttlMs, record?.ttlMs ?? 0) ||
        (record !== undefined && this.#holderGone(record));
      // Ours from an earlier acquire of this very process: take it back.
      const own = this.#isOwn(record);
      if (expired || own) {
        const sentAt = this.#clock.now();
        const etag = await this.#store.replace(found.etag, this.#nextBody(), options.signal);
        if (etag !== undefined) {
          this.#holdFrom(etag, sentAt);
          return { acquired: true, tookOverFrom: own ? undefined : { record } };
        }
        // Renewed, released or taken meanwhile: look again.
        await this.#clock.sleep(RACE_PAUSE_MS, options.signal);
        continue;
      }
      await options.onHeld?.(record);
      if (this.#clock.now() - startedAt >= options.waitMs) return { acquired: false, holder: record };
      await this.#clock.sleep(pollMs, options.signal);
    }
  }

  /**
   * Renews the lease. `renewed`: it is ours for another ttl; `lost`: another process holds
   * it (or nobody does) — stop writing the replica at once. A store that cannot be reached
   * throws; the lease then stays ours only until {@link ReplicaLease.stopBy}.
   */
  async renew(signal?: AbortSignal): Promise<'renewed' | 'lost'> {
    const etag = this.#etag;
    if (etag === undefined) return 'lost';
    const sentAt = this.#clock.now();
    const next = await this.#store.replace(etag, this.#nextBody(), signal);
    if (next === undefined) {
      this.#etag = undefined;
      return 'lost';
    }
    this.#holdFrom(next, sentAt);
    return 'renewed';
  }

  /** Gives the lease up (after the final sync): true when it was ours to give. */
  async release(signal?: AbortSignal): Promise<boolean> {
    const etag = this.#etag;
    if (etag === undefined) return false;
    this.#etag = undefined;
    return this.#store.remove(etag, signal);
  }

  #holdFrom(etag: string, sentAt: number): void {
    this.#etag = etag;
    this.#confirmedSentAt = sentAt;
  }

  #nextBody(): string {
    return encodeLease({ holder: this.#holder, ttlMs: this.#ttlMs, counter: ++this.#counter });
  }

  #isOwn(record: LeaseRecord | undefined): boolean {
    const holder = record?.holder;
    return (
      holder !== undefined &&
      holder.host === this.#holder.host &&
      holder.pid === this.#holder.pid &&
      holder.startedAt === this.#holder.startedAt
    );
  }
}
