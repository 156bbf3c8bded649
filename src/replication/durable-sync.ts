/**
 * `Replication#sync()`: confirms that what was committed before the call is in the replica.
 * Two ways, chosen by what the running litestream offers:
 * - a channel (litestream 0.5.9+'s control socket) that syncs one database now and answers
 *   once the replica holds it; concurrent calls share one request per database (group commit);
 * - otherwise the log: the tracker's `lastSyncAt` (every commit before it is in the replica)
 *   passing the call's start, within one sync interval.
 *
 * Clock, channel and status are injected: the group commit and the deadlines are unit-tested.
 *
 * @packageDocumentation
 */
import { existsSync } from 'node:fs';
import { LitestreamAbortError, LitestreamConfigError, SyncError } from '../errors.js';
import type { Clock } from '../supervision/clock.js';
import { allowListenersFor } from '../support/abort.js';
import type { SyncedDatabase, SyncOptions, SyncResult } from './types.js';

/** The default of `sync({ timeoutMs })`. */
export const DEFAULT_SYNC_TIMEOUT_MS = 10_000;

/** How often a call waiting for the log looks whether a channel became available. */
const CHANNEL_POLL_MS = 250;

/** Waits between attempts on a channel that failed in a way that may pass. */
const RETRY_DELAYS_MS = [50, 100, 200, 400, 800, 1_000];

/** How one database is synced now: resolves once the replica holds every commit before the request. */
export interface SyncChannel {
  sync(database: string, timeoutMs: number, signal: AbortSignal): Promise<{ txid: number | undefined }>;
}

/** Why a failed attempt may pass (retried until the callers' deadlines) or not. */
export interface ChannelFailure {
  readonly message: string;
  readonly retry: boolean;
}

/** What {@link DurableSync} needs of the replication it belongs to. */
export interface DurableSyncHost {
  /** The configured databases (absolute paths). */
  readonly databases: readonly string[];
  /** Undefined while syncs can be asked for; else why not (replication stopped). */
  refusal(): string | undefined;
  /** The channel, once litestream runs with one; undefined: wait for the log. */
  channel(): SyncChannel | undefined;
  /** The database's newest confirmed sync, from the log: every commit before `at` is in the replica. */
  synced(database: string): { at: Date | undefined; txid: number | undefined; position: string | undefined };
  /** Calls `listener` on every sync the log reports (and on state changes); returns what unsubscribes. */
  watch(listener: () => void): () => void;
  /** Why the replica cannot be reached now, for the error, if known. */
  lastError(): string | undefined;
  /** What a failure of the channel means. */
  describeFailure(error: unknown): ChannelFailure;
  /** Time and timers (a fake clock in tests). */
  readonly clock: Clock;
  /**
   * The timeout of a call that sets none: {@link DEFAULT_SYNC_TIMEOUT_MS} where litestream
   * syncs on request, longer where a call waits for its regular sync (which may be a whole
   * sync interval away). Default {@link DEFAULT_SYNC_TIMEOUT_MS}.
   */
  defaultTimeoutMs?(): number;
  /** A database file that does not exist holds nothing committed. */
  exists?(database: string): boolean;
}

/** One shared request for a database: callers that arrive while one is in flight wait for the next. */
interface Batch {
  result: Promise<{ txid: number | undefined }>;
  readonly controller: AbortController;
  waiters: number;
  /** Not handed to the channel yet: a caller may still join it. */
  open: boolean;
}

export class DurableSync {
  readonly #host: DurableSyncHost;
  /** Per database: the request in flight, and the one callers arriving now will share. */
  readonly #inFlight = new Map<string, Batch>();
  readonly #next = new Map<string, Batch>();
  /** The calls waiting for the log, and what stops watching for them. */
  readonly #watching = new Set<() => void>();
  #stopWatching: (() => void) | undefined;
  #requests = 0;

  /** Requests sent on the channel (for tests and metrics: group commit keeps it low). */
  get requests(): number {
    return this.#requests;
  }

  constructor(host: DurableSyncHost) {
    this.#host = host;
  }

  async sync(options: SyncOptions = {}): Promise<SyncResult> {
    const host = this.#host;
    checkTimeout(options.timeoutMs);
    const startedAt = host.clock.now();
    const since = new Date(startedAt);
    const databases = this.#select(options.databases);
    if (options.signal?.aborted) throw new LitestreamAbortError('sync()', options.signal.reason);
    const refusal = host.refusal();
    if (refusal !== undefined) throw new SyncError(`sync() could not run: ${refusal}. ${COMMITTED}`, databases, false);
    const timeoutMs = options.timeoutMs ?? host.defaultTimeoutMs?.() ?? DEFAULT_SYNC_TIMEOUT_MS;
    const exists = host.exists ?? existsSync;
    const given = new AbortController();
    // Each database's wait listens on it.
    allowListenersFor(given.signal, databases.length);
    const stopTimer = host.clock.setTimeout(() => given.abort('timeout'), timeoutMs);
    const onAbort = () => given.abort('signal');
    options.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const results = await Promise.all(
        databases.map(async (database): Promise<SyncedDatabase> => {
          if (!exists(database)) return { path: database, outcome: 'absent', txid: undefined, position: undefined };
          return this.#syncOne(database, since, given.signal);
        }),
      );
      return { databases: results, durationMs: host.clock.now() - startedAt };
    } catch (error) {
      if (given.signal.reason === 'signal') throw new LitestreamAbortError('sync()', options.signal?.reason);
      if (given.signal.reason === 'timeout') {
        const why = host.lastError();
        throw new SyncError(
          `sync() timed out after ${timeoutMs} ms before the replica confirmed ${databases.join(', ')}${why ? `: ${why}` : ''}. ${COMMITTED}`,
          databases,
          true,
        );
      }
      throw error;
    } finally {
      stopTimer();
      options.signal?.removeEventListener('abort', onAbort);
      // One database failed early: the others' waits end too (their requests are cancelled
      // when nobody else shares them), never left retrying for a call that has ended.
      given.abort('done');
    }
  }

  #select(asked: readonly string[] | undefined): string[] {
    const configured = this.#host.databases;
    if (asked === undefined) return [...configured];
    const unknown = asked.filter((database) => !configured.includes(database));
    if (unknown.length > 0) {
      throw new SyncError(
        `sync() was asked for ${unknown.join(', ')}, which this replication does not replicate (it replicates ${configured.join(', ')}): pass databases as configured (absolute paths).`,
        unknown,
        false,
      );
    }
    return [...new Set(asked)];
  }

  async #syncOne(database: string, since: Date, signal: AbortSignal): Promise<SyncedDatabase> {
    for (;;) {
      signal.throwIfAborted();
      const refusal = this.#host.refusal();
      if (refusal !== undefined) {
        throw new SyncError(`sync() could not confirm ${database}: ${refusal}. ${COMMITTED}`, [database], false);
      }
      const channel = this.#host.channel();
      if (channel === undefined) {
        // Until litestream runs with a channel (or for good, without one): the log says when.
        const logged = await this.#waitForLog(database, since, signal);
        if (logged) return logged;
        continue;
      }
      const { txid } = await this.#shared(database, channel, signal);
      return { path: database, outcome: 'synced', txid, position: undefined };
    }
  }

  /**
   * Resolves once the log shows the replica holding every commit before `since`; undefined
   * when a channel became available meanwhile (the caller uses it instead).
   */
  #waitForLog(database: string, since: Date, signal: AbortSignal): Promise<SyncedDatabase | undefined> {
    const host = this.#host;
    return new Promise((resolve, reject) => {
      const check = () => {
        const refusal = host.refusal();
        if (refusal !== undefined) {
          done();
          reject(new SyncError(`sync() could not confirm ${database}: ${refusal}. ${COMMITTED}`, [database], false));
          return;
        }
        const synced = host.synced(database);
        // Strictly after: a commit made in the same millisecond as the read may not be in it.
        if (synced.at !== undefined && synced.at.getTime() > since.getTime()) {
          done();
          resolve({ path: database, outcome: 'synced', txid: synced.txid, position: synced.position });
        } else if (host.channel() !== undefined) {
          done();
          resolve(undefined);
        }
      };
      const onAbort = () => {
        done();
        reject(signal.reason);
      };
      const unwatch = this.#watch(check);
      const done = () => {
        unwatch();
        signal.removeEventListener('abort', onAbort);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      check();
    });
  }

  /**
   * Calls `check` on every event of the replication, and every {@link CHANNEL_POLL_MS} (a
   * channel appears without an event: litestream opens its socket once it runs), until the
   * returned function is called. One listener and one timer for every waiting call: a hundred
   * calls waiting for the log add no hundred listeners to the replication.
   */
  #watch(check: () => void): () => void {
    this.#watching.add(check);
    if (this.#stopWatching === undefined) {
      const all = () => {
        for (const each of [...this.#watching]) each();
      };
      const unwatch = this.#host.watch(all);
      const stopPolling = this.#host.clock.setInterval(all, CHANNEL_POLL_MS);
      this.#stopWatching = () => {
        unwatch();
        stopPolling();
      };
    }
    return () => {
      this.#watching.delete(check);
      if (this.#watching.size > 0) return;
      this.#stopWatching?.();
      this.#stopWatching = undefined;
    };
  }

  /**
   * The result of a request for `database` sent after this call began: one not sent yet
   * (the next, waiting for the one in flight, which may have read the WAL before this call's
   * commits; or one made in this same turn of the event loop), else a new one. A request
   * whose callers all gave up is cancelled.
   */
  #shared(database: string, channel: SyncChannel, signal: AbortSignal): Promise<{ txid: number | undefined }> {
    const inFlight = this.#inFlight.get(database);
    const waiting = [this.#next.get(database), inFlight?.open ? inFlight : undefined].find(
      // One whose callers all left is cancelled: not joined.
      (batch) => batch !== undefined && !batch.controller.signal.aborted,
    );
    const joined = waiting ?? this.#send(database, channel, inFlight);
    joined.waiters++;
    return new Promise((resolve, reject) => {
      const settle = () => {
        signal.removeEventListener('abort', onAbort);
        if (--joined.waiters === 0) joined.controller.abort();
      };
      const onAbort = () => {
        settle();
        reject(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      joined.result.then(
        (value) => {
          settle();
          resolve(value);
        },
        (error: unknown) => {
          settle();
          reject(error);
        },
      );
    });
  }

  /** A request for `database`, sent once `after` has settled, or at the end of this turn. */
  #send(database: string, channel: SyncChannel, after: Batch | undefined): Batch {
    const batch: Batch = {
      result: Promise.resolve({ txid: undefined }),
      controller: new AbortController(),
      waiters: 0,
      open: true,
    };
    if (after) this.#next.set(database, batch);
    else this.#inFlight.set(database, batch);
    const run = async () => {
      // Calls made in this same turn share it: none of their commits can be after its read.
      await (after ? after.result.catch(() => {}) : Promise.resolve());
      if (this.#next.get(database) === batch) this.#next.delete(database);
      this.#inFlight.set(database, batch);
      batch.open = false;
      try {
        return await this.#attempts(database, channel, batch.controller.signal);
      } finally {
        if (this.#inFlight.get(database) === batch) this.#inFlight.delete(database);
      }
    };
    batch.result = run();
    batch.result.catch(() => {});
    return batch;
  }

  /** Asks the channel until it confirms, or a failure that will not pass, or every caller gave up. */
  async #attempts(database: string, channel: SyncChannel, signal: AbortSignal): Promise<{ txid: number | undefined }> {
    for (let attempt = 0; ; attempt++) {
      signal.throwIfAborted();
      this.#requests++;
      try {
        return await channel.sync(database, DEFAULT_SYNC_TIMEOUT_MS, signal);
      } catch (error) {
        signal.throwIfAborted();
        // Stopped (or the lease lost) meanwhile: say so, not a timeout later.
        const refusal = this.#host.refusal();
        if (refusal !== undefined) {
          throw new SyncError(`sync() could not confirm ${database}: ${refusal}. ${COMMITTED}`, [database], false);
        }
        const failure = this.#host.describeFailure(error);
        if (!failure.retry) {
          throw new SyncError(
            `sync() could not confirm ${database}: ${failure.message}. ${COMMITTED}`,
            [database],
            false,
          );
        }
        const delay = RETRY_DELAYS_MS[Math.min(attempt, RETRY_DELAYS_MS.length - 1)] as number;
        await new Promise<void>((resolve) => {
          const stop = this.#host.clock.setTimeout(() => {
            signal.removeEventListener('abort', cancel);
            resolve();
          }, delay);
          const cancel = () => {
            stop();
            resolve();
          };
          signal.addEventListener('abort', cancel, { once: true });
        });
      }
    }
  }
}

/** Node fires a timer of more than this at once (after 1 ms): a longer wait is a mistake. */
export const MAX_SYNC_TIMEOUT_MS = 2 ** 31 - 1;

/** A `timeoutMs` the call can keep: a positive number of milliseconds a timer can wait. */
function checkTimeout(timeoutMs: number | undefined): void {
  if (timeoutMs === undefined) return;
  if (
    typeof timeoutMs === 'number' &&
    Number.isFinite(timeoutMs) &&
    timeoutMs > 0 &&
    timeoutMs <= MAX_SYNC_TIMEOUT_MS
  ) {
    return;
  }
  throw new LitestreamConfigError([
    {
      field: 'sync({ timeoutMs })',
      message: `must be a number of milliseconds above 0 and at most ${MAX_SYNC_TIMEOUT_MS} (about 24.8 days), got ${String(timeoutMs)}`,
    },
  ]);
}

const COMMITTED =
  'What was committed stays in the local database and reaches the replica with a later sync once it answers; it is only not confirmed durable yet';
