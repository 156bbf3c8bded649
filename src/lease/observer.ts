/**
 * The lease of a replica path as an instance that does not take it sees it (the lease turned
 * off): it only reads the lease object, and tells whether another instance holds it now.
 *
 * As with taking the lease, two machines' clocks are never compared: an object proves its
 * holder alive when it changes between two reads (a renewal, or a new holder), when it
 * appears after a read found none, or when its holder runs where this process can see its
 * pid. An object that stays the same for a whole ttl on this process's monotonic clock was
 * left by a holder that died; one whose holder is seen gone is stale at once.
 *
 * @packageDocumentation
 */
import type { LeaseClock } from './lease.js';
import { decodeLease, type LeaseRecord } from './record.js';
import type { LeaseStore } from './store.js';

/** What one look at the lease object found. */
export type Observation =
  /** No lease object, or one whose holder is gone (crashed, or silent for a ttl). */
  | { readonly held: false; readonly stale: LeaseRecord | 'unknown holder' | undefined }
  /** Another instance holds the lease now. */
  | { readonly held: true; readonly record: LeaseRecord | undefined }
  /** An object that has not changed since it was first seen, less than a ttl ago: yet to tell. */
  | { readonly held: 'undecided'; readonly record: LeaseRecord | undefined };

export interface LeaseObserverOptions {
  readonly store: LeaseStore;
  /** How long an unchanged object of a holder whose record names no ttl (or a shorter one) lasts. */
  readonly ttlMs: number;
  readonly clock: LeaseClock;
  /** True when the holder a record names ran where this process sees its pid, and no longer runs. */
  readonly holderGone: (record: LeaseRecord) => boolean;
  /** True when the holder a record names runs where this process sees its pid. */
  readonly holderRunning: (record: LeaseRecord) => boolean;
}

/** Reads one replica path's lease object over time, never writing it. */
export class LeaseObserver {
  readonly #options: LeaseObserverOptions;
  /** What the last read found: nothing, or an object first seen (unchanged since) at `since`. */
  #last: { etag: string; since: number } | 'absent' | undefined;

  constructor(options: LeaseObserverOptions) {
    this.#options = options;
  }

  /** Reads the lease object once; throws when the store cannot be reached. */
  async look(signal?: AbortSignal): Promise<Observation> {
    const { store, clock, ttlMs, holderGone, holderRunning } = this.#options;
    const found = await store.read(signal);
    // After the answer: the object read was there then, whenever the request was sent.
    const seenAt = clock.now();
    const before = this.#last;
    if (found === undefined) {
      this.#last = 'absent';
      return { held: false, stale: undefined };
    }
    const record = decodeLease(found.body);
    const changed = before !== undefined && (before === 'absent' || before.etag !== found.etag);
    if (before === undefined || changed) this.#last = { etag: found.etag, since: seenAt };
    const since = (this.#last as { since: number }).since;
    if (record !== undefined && holderGone(record)) return { held: false, stale: record };
    // Written since the last read, or by a process that runs beside this one: alive.
    if (changed || (record !== undefined && holderRunning(record))) return { held: true, record };
    if (seenAt - since >= Math.max(ttlMs, record?.ttlMs ?? 0)) {
      return { held: false, stale: record ?? 'unknown holder' };
    }
    return { held: 'undecided', record };
  }

  /**
   * Looks until it can tell whether another instance holds the lease: at once when there is
   * no object or its holder runs (or ran) beside this process; else when the object changes
   * (held), disappears, or stays the same for a ttl (its holder is gone).
   */
  async decide(options: {
    readonly pollMs: number;
    readonly signal?: AbortSignal | undefined;
    /** Told, once per look, that an object is there and not yet told apart. */
    readonly onUndecided?: (record: LeaseRecord | undefined) => void | Promise<void>;
  }): Promise<Exclude<Observation, { held: 'undecided' }>> {
    for (;;) {
      options.signal?.throwIfAborted();
      const seen = await this.look(options.signal);
      if (seen.held !== 'undecided') return seen;
      await options.onUndecided?.(seen.record);
      await this.#options.clock.sleep(options.pollMs, options.signal);
    }
  }
}
