/**
 * What the replication watches of each database's lease, whether this process took it or,
 * with the lease off, only reads it.
 *
 * @packageDocumentation
 */
import type { EventEmitter } from 'node:events';
import type { LeaseHolderInfo, ReplicaLeaseError } from '../errors.js';

/** Where a database's lease stands. */
export type LeaseState =
  /** Held and renewed. */
  | 'held'
  /** Held, but the last renewal failed: replication pauses if none succeeds in time. */
  | 'late'
  /** Not renewed for too long: the replica must not be written until a renewal lands. */
  | 'paused'
  /** Another instance holds it now. */
  | 'lost'
  /** Given up after the final sync. */
  | 'released'
  /** Not kept: turned off (and only read), or the server ignores conditional writes. */
  | 'off';

export interface LeaseEvents {
  paused: [];
  resumed: [];
  lost: [ReplicaLeaseError];
}

/** One database's lease as this process keeps it: taken, or (lease off) watched. */
export interface KeptLease extends EventEmitter<LeaseEvents> {
  readonly database: string;
  readonly state: LeaseState;
  /** Why the lease is late, paused or lost, or (lease off) could not be read. */
  readonly error: string | undefined;
  /** Taken by this process (false: only read, with the lease off). */
  readonly taken: boolean;
  /** Still guarding the replica (held, or watched): a later call of this process reuses it. */
  readonly active: boolean;
  /** Gives the lease up, or stops watching it. */
  release(): Promise<void>;
}

/** How a booting instance learns that it waits for another one. */
export interface LeaseWaitEvent {
  /** The database whose replica is held. */
  readonly database: string;
  /** The lease object, e.g. `s3://bucket/app/production.sqlite3.litestream-node-lease`. */
  readonly lease: string;
  /** Who holds it, when the lease object says so. */
  readonly holder: LeaseHolderInfo | undefined;
}
