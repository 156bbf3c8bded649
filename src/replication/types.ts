/**
 * What a running replication is and says: its handle, states, status, events and how a stop ended (public types).
 *
 * @packageDocumentation
 */
import type { EventEmitter } from 'node:events';
import type { DatabaseStatus } from '../engine/engine.js';
import type { LitestreamLogLine } from '../process/log-lines.js';
import type { ReplicaFailure } from './outage.js';

/**
 * Lifecycle state of a {@link Replication}:
 * - `disabled`: the config turns replication off;
 * - `starting`: litestream is being started;
 * - `running`: litestream runs (see `healthy` for whether the replica keeps up);
 * - `restarting`: litestream exited unexpectedly and is restarted after a backoff (`restarts` counts these);
 * - `paused`: litestream is stopped because the replica lease is not held — it could not be
 *   taken or renewed (the replica is unreachable: `lastError` and `lease.error` say why);
 *   replication resumes by itself once the lease is taken again;
 * - `stopping`, `stopped`: `stop()` was called (or the lease was lost to another instance).
 */
export type ReplicationState = 'disabled' | 'starting' | 'running' | 'restarting' | 'paused' | 'stopping' | 'stopped';

/** A point-in-time view of replication. */
export interface ReplicationStatus {
  readonly state: ReplicationState;
  /**
   * True while running, the replica answers (see {@link ReplicationStatus.lastError}), no
   * database reports an error, and no replica upload has stalled: a WAL segment upload
   * running for five sync intervals (at least 5 s), or a snapshot upload running that much
   * longer than sending the database at 1 MiB/s would take. An S3 outage turns it false
   * within two sync intervals (at least 5 s) of the first failed request: once an upload is
   * overdue (half a sync interval, at least 1 s), or a lease renewal failed, the library
   * lists one key of the replica itself, once per sync interval, and a failed listing counts.
   */
  readonly healthy: boolean;
  /**
   * Why the replica cannot be reached now: the first failure seen since it last answered —
   * what failed (`kind`: `refused`, `timeout`, `dns`, `credentials`, `server-error`, …), in
   * words, when, and whether litestream's log, the library's own probe or the lease saw it.
   * Cleared once a sync reaches the replica or a probe gets an answer. Alerts and the lease
   * name the same cause.
   */
  readonly lastError: ReplicaFailure | undefined;
  /** The current litestream process id. */
  readonly pid: number | undefined;
  /** How many times a crashed litestream was restarted. */
  readonly restarts: number;
  readonly startedAt: Date | undefined;
  readonly databases: readonly DatabaseStatus[];
  /** The databases whose replica upload has stalled (see {@link ReplicationStatus.healthy}). */
  readonly stalled: readonly string[];
  /**
   * The replica lease (one writer per replica path): `held` (or `late`: a renewal failed,
   * still in time), `paused` (not renewed for too long: litestream is stopped until it is),
   * `lost` (another instance took it over: replication stopped for good), `released`, or
   * `off` (turned off, or the replica cannot hold one). `error` says why when not held.
   */
  readonly lease: ReplicationLeaseStatus;
}

/** See {@link ReplicationStatus.lease}. */
export interface ReplicationLeaseStatus {
  readonly state: 'held' | 'late' | 'paused' | 'lost' | 'released' | 'off';
  readonly error: string | undefined;
}

/** How {@link Replication.stop} ended. */
export interface StopResult {
  /**
   * The final sync of every database reached the replica: litestream's log shows each one at
   * the position it aimed at (it may then have exited 1 over a cancelled checkpoint, or been
   * killed in litestream 0.3.13's shutdown deadlock), or it exited 0 with no error logged.
   */
  readonly clean: boolean;
  /** Litestream did not finish within the timeout and was killed: the final sync may be incomplete. */
  readonly killed: boolean;
  readonly exitCode: number | undefined;
  /** Errors litestream logged while shutting down (redacted). */
  readonly errors: readonly string[];
  readonly durationMs: number;
}

/** Options for {@link Replication.stop}. */
export interface StopOptions {
  /** How long to wait for the final sync before SIGKILL. Default: `shutdownTimeoutMs` of the config. */
  timeoutMs?: number;
  /**
   * Gives the wait for the final sync up: litestream is SIGKILLed at once, the pidfiles
   * and temp files are removed, `stopped` is emitted with `killed: true`, and the call
   * rejects with a `LitestreamAbortError`. Use it when your platform's own shutdown
   * deadline is about to pass.
   */
  signal?: AbortSignal;
}

/** Options for {@link Replication.sync}. */
export interface SyncOptions {
  /**
   * How long to wait for the replica before rejecting with a `SyncError`. Default 10 000 ms
   * where litestream syncs on request (0.5.9+), else the sync interval plus 10 000 ms (a
   * call waits for litestream's regular sync).
   */
  timeoutMs?: number;
  /** Gives the wait up: the call rejects with a `LitestreamAbortError` (the writes stay committed locally). */
  signal?: AbortSignal;
  /** The databases to sync (paths as configured); default every configured database. */
  databases?: readonly string[];
}

/** What {@link Replication.sync} confirmed, per database. */
export interface SyncedDatabase {
  /** The database (absolute path). */
  readonly path: string;
  /**
   * `synced`: the replica holds every transaction committed before the call. `absent`: the
   * file does not exist, so nothing was committed to it. `disabled`: replication is off.
   */
  readonly outcome: 'synced' | 'absent' | 'disabled';
  /** Litestream 0.5: the transaction id the replica holds (at least every one committed before the call). */
  readonly txid: number | undefined;
  /** Litestream 0.3: the replica's position (`generation/index:offset`) when known. */
  readonly position: string | undefined;
}

/** How {@link Replication.sync} ended. */
export interface SyncResult {
  /** One entry per database asked for, in that order. */
  readonly databases: readonly SyncedDatabase[];
  /** How long the call took. */
  readonly durationMs: number;
}

/** Events a {@link Replication} emits. */
export interface ReplicationEvents {
  /** Every litestream log line, parsed and redacted. */
  log: [LitestreamLogLine];
  /** A database's replica caught up. */
  sync: [{ db: string; generation: string | undefined; txid: number | undefined; position: string | undefined }];
  /** Litestream reported an error for a database (it keeps retrying by itself). */
  replicaError: [{ db: string; message: string }];
  /** A stop from now on loses nothing committed: same moment `ready` resolves. */
  ready: [];
  /** Litestream exited unexpectedly and will be restarted after `delayMs`. */
  restart: [{ exitCode: number | undefined; signal: string | undefined; delayMs: number; restarts: number }];
  /** A litestream process started. */
  spawn: [{ pid: number | undefined }];
  /**
   * The replica lease changed: `paused` (litestream was stopped: no renewal landed in time),
   * `held` again (it runs again), or `lost` (another instance took it over; replication stops).
   */
  lease: [ReplicationLeaseStatus];
  /** Replication stopped for good. */
  stopped: [StopResult];
}

/**
 * A supervised `litestream replicate`. Returned by `startReplication`.
 *
 * Litestream runs with JSON debug logs, which are parsed for per-database status and
 * forwarded to the config's logger. A crashed litestream is restarted with exponential
 * backoff and jitter. If this Node process dies, litestream exits within about a second
 * (its next log write fails), and the next start stops any orphan it finds.
 */
export interface Replication extends EventEmitter<ReplicationEvents> {
  /**
   * Resolves once the first litestream process is running; rejects when it cannot start
   * (bad binary, another live replicator on a database). Adapters await it so that a
   * server never starts without its replicator.
   */
  readonly started: Promise<void>;
  /**
   * Resolves once stopping loses nothing that was committed: every database that holds
   * data has been synced to the replica at least once. A configured database that does
   * not exist yet (a first deployment, after a `no-backup` restore) has nothing to lose and
   * does not hold `ready` back: await it before or after opening your databases. Once the
   * app creates such a database, litestream picks it up within a second, and
   * `stop()` waits for it and makes its final sync as for any other. Rejects if
   * replication stops first.
   */
  readonly ready: Promise<void>;
  /** Current state, per database. */
  status(): ReplicationStatus;
  /**
   * Sends SIGTERM once, waits for litestream's final sync, and SIGKILLs only after the
   * timeout. A stop right after start first waits (within the timeout) until litestream
   * has opened every database, because before that a SIGTERM skips the final sync.
   */
  stop(options?: StopOptions): Promise<StopResult>;
  /**
   * Resolves once every transaction committed in the listed databases before the call is in
   * the replica: the durable write of a payment, a signup, an order, confirmed before the
   * app answers. Concurrent calls share one sync per database (a hundred at once cost about
   * one round trip).
   *
   * - Litestream 0.5.9 and later: through litestream's control socket (a private file the
   *   library configures), which syncs at once and answers when the replica holds it.
   * - Litestream 0.3: litestream has no such channel; the call resolves once its log shows
   *   the replica past every commit made before the call, which takes up to one sync interval
   *   (`syncInterval`, 10 s by default) plus a second.
   * - Litestream 0.5 before 0.5.9 (whose socket cannot wait, and whose log cannot prove a
   *   sync): a `SyncError` at once, saying to upgrade.
   *
   * Rejects with a `SyncError` when the replica cannot be reached within `timeoutMs`, when
   * replication is not running, or when this instance does not hold the replica lease; the
   * writes stay committed in the local database either way.
   */
  sync(options?: SyncOptions): Promise<SyncResult>;
}
