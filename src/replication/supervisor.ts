import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { secretsOf } from '../config/derived.js';
import { redact } from '../config/secret.js';
import type { LitestreamConfig } from '../config/types.js';
import type { DatabaseStatus, ReplicationTracker, Runtime, SyncEvent } from '../engine/engine.js';
import { resolveRuntime } from '../engine/select.js';
import { LitestreamAbortError, type ReplicaLeaseError, ReplicationError, type StaleDatabaseError } from '../errors.js';
import { childLogger, type Logger } from '../logging/logger.js';
import { type ConfigFile, childEnv, sweepTempDirs, writeConfigFile } from '../process/child-config.js';
import { ControlSocketFailure, syncThroughSocket } from '../process/control-socket.js';
import { parseLogLine } from '../process/log-lines.js';
import { type SpawnOptions, spawnChild } from '../process/spawn.js';
import { describeFailureKind, failureKindOfText } from '../replica/failure-cause.js';
import { canProbe, probeReplica } from '../replica/probe.js';
import { checkReplica } from '../restore/format-guard.js';
import { fileSize, hasContent } from '../sqlite/database-files.js';
import { type Clock, systemClock } from '../supervision/clock.js';
import { type ChildExit, type ChildProcessLike, SupervisedProcess } from '../supervision/core.js';
import { FinalSync, NOTHING_RAN, type TerminateOutcome } from '../supervision/final-sync.js';
import { LeaseGate, type Leases } from '../supervision/lease-gate.js';
import { describeLine, LogForwarding } from '../supervision/log-forwarding.js';
import { RestartBackoff } from '../supervision/restart-backoff.js';
import { emitSafely } from '../supervision/safe-emit.js';
import { MIN_STALL_MS, StallWatchdog } from '../supervision/stall-watchdog.js';
import { allowListenersFor, throwIfAborted } from '../support/abort.js';
import { ConcurrencyLimit, DATABASES_AT_ONCE } from '../support/concurrency.js';
import { DEFAULT_SYNC_TIMEOUT_MS, DurableSync, type DurableSyncHost } from './durable-sync.js';
import { idleTracker } from './idle.js';
import { ReplicaOutageWatch } from './outage.js';
import { PidfileRecords } from './pidfile-records.js';
import type {
  Replication,
  ReplicationEvents,
  ReplicationLeaseStatus,
  ReplicationState,
  ReplicationStatus,
  StopOptions,
  StopResult,
  SyncOptions,
  SyncResult,
} from './types.js';
import { truncateWals } from './wal-truncate.js';

/** How often the outage watch looks whether a probe of the replica is due. */
const OUTAGE_TICK_MS = 250;

/**
 * What a {@link Supervisor} starts processes with, tells time by and asks the outside world;
 * tests replace them with fakes (a fake child, a fake clock, fake leases). @internal
 */
export interface SupervisorDeps {
  readonly clock?: Clock;
  readonly spawn?: (
    binary: string,
    args: readonly string[],
    env: NodeJS.ProcessEnv,
    options: SpawnOptions,
  ) => ChildProcessLike;
  /** The executable and its engine. */
  readonly resolveRuntime?: (config: LitestreamConfig) => Promise<Runtime>;
  /** Takes (or finds held) every database's replica lease. */
  readonly takeLeases: (signal: AbortSignal) => Promise<Leases>;
  /** Compares the databases on disk with their replicas before litestream writes anything. */
  readonly compareWithReplica: (runtime: Runtime, signal: AbortSignal) => Promise<void>;
}

/**
 * The supervised `litestream replicate` behind a {@link Replication}: the core that owns the
 * child, and the policies beside it (restart backoff, stall watchdog, lease gate, final
 * sync, log forwarding), composed with the replication's state, `ready` and status.
 * @internal the public entry is `startReplication` in litestream.ts.
 */
export class Supervisor extends EventEmitter<ReplicationEvents> implements Replication {
  readonly ready: Promise<void>;
  readonly #config: LitestreamConfig;
  readonly #logger: Logger;
  #tracker: ReplicationTracker;
  readonly #secrets;
  readonly #forwarding: LogForwarding;
  readonly #onStopped: () => void;
  readonly #resolveRuntime: (config: LitestreamConfig) => Promise<Runtime>;
  #state: ReplicationState = 'starting';
  readonly #clock: Clock;
  /** The litestream child: spawn, output lines, exit (its signal handler is installed once it spoke). */
  readonly #process: SupervisedProcess;
  /** A start of litestream under way. */
  #spawning: Promise<void> | undefined;
  /** Replication errors the current litestream has logged. */
  #errorsThisRun = 0;
  #configFile: ConfigFile | undefined;
  #runtime: Runtime | undefined;
  /** Restarts a crashed litestream after a growing delay. */
  readonly #backoff: RestartBackoff;
  #startedAt: Date | undefined;
  #stopping: Promise<StopResult> | undefined;
  /** The final sync on stop: SIGTERM, waits, SIGKILL at the deadline, runs again when that may help. */
  readonly #finalSync: FinalSync;
  #resolveReady!: () => void;
  #rejectReady!: (error: Error) => void;
  #readySettled = false;
  /** Tells stalled uploads; kills a litestream whose upload hangs (the backoff restarts it). */
  readonly #watchdog: StallWatchdog;
  /** The databases' pidfiles: claimed, rewritten with each litestream's pid, removed. */
  readonly #pidfiles: PidfileRecords;
  /** The replica leases: litestream runs only while every one is held. */
  readonly #lease: LeaseGate;
  /** Tells an outage within seconds, and keeps its first cause. */
  readonly #outage: ReplicaOutageWatch;
  #outageTimer: NodeJS.Timeout | undefined;
  /** sync(): the control socket where litestream has one, else the log. */
  readonly #durable: DurableSync;
  /** Why sync() cannot work with this litestream at all, once known. */
  #syncRefusal: string | undefined;
  /** When a probe of each database's replica last got an answer. */
  readonly #answeredAt = new Map<string, number>();

  constructor(config: LitestreamConfig, onStopped: () => void, deps: SupervisorDeps) {
    super();
    this.#config = config;
    this.#logger = childLogger(config.logger, { component: 'replicate' });
    this.#pidfiles = new PidfileRecords(
      config.databases.map((db) => db.path),
      this.#logger,
    );
    // The lease, the comparisons and the probes of every database listen on it at once.
    allowListenersFor(this.#stopAborted.signal, config.databases.length);
    this.#clock = deps.clock ?? systemClock;
    this.#resolveRuntime = deps.resolveRuntime ?? resolveRuntime;
    const spawn = deps.spawn ?? spawnChild;
    this.#process = new SupervisedProcess({
      clock: this.#clock,
      spawn: () => {
        const runtime = this.#runtime as Runtime;
        const configFile = this.#configFile as ConfigFile;
        const args = ['replicate', '-config', configFile.path, '-no-expand-env'];
        // Its own process group: a terminal's Ctrl-C reaches the app alone, whose stop() then
        // runs the one shutdown. It still dies with the app (see Replication).
        return spawn(runtime.binary, args, childEnv(this.#config, runtime.engine), { ownProcessGroup: true });
      },
      onLine: (raw) => this.#onLine(raw),
      onExit: (exit) => this.#onExit(exit),
    });
    this.#backoff = new RestartBackoff(config.supervisor, this.#clock);
    this.#lease = new LeaseGate({
      take: deps.takeLeases,
      afterTaken: (signal) => deps.compareWithReplica(this.#runtime as Runtime, signal),
      clock: this.#clock,
      logger: this.#logger,
      backoff: config.supervisor,
      signal: this.#stopAborted.signal,
      host: {
        paused: () => this.#pauseForLease(),
        resumed: () => this.#resumeAfterLease(),
        lost: (error) => this.#leaseLost(error),
        waiting: () => this.#state === 'paused',
        taken: () => this.#leaseTaken(),
        sawFailure: (text) => this.#sawLeaseFailure(text),
      },
    });
    this.#finalSync = new FinalSync({
      process: this.#process,
      clock: this.#clock,
      logger: this.#logger,
      signal: this.#stopAborted.signal,
      databases: config.databases.map((db) => db.path),
      hasContent,
      tracker: () => this.#tracker,
      engine: () => this.#runtime?.engine,
    });
    const syncIntervalMs = config.syncIntervalMs;
    this.#watchdog = new StallWatchdog({
      clock: this.#clock,
      logger: this.#logger,
      // Five sync intervals (at least 5 s), plus a snapshot's time at a slow 1 MiB/s.
      stallMs: Math.max(MIN_STALL_MS, 5 * syncIntervalMs),
      restartStalledAfterMs: config.supervisor.restartStalledAfterMs,
      stalled: (allowedMs, now) => this.#tracker.stalled(allowedMs, now),
      sizeOf: fileSize,
      running: () => (this.#state === 'running' ? this.#process.child : undefined),
      // A database deleted meanwhile no longer holds `ready` back.
      onCheck: () => this.#checkReady(),
    });
    this.#outage = this.#watchOutages(syncIntervalMs);
    this.#onStopped = onStopped;
    // Replaced by the engine's own once the executable is known; until then nothing is logged.
    this.#tracker = idleTracker(config.databases.map((db) => db.path));
    this.#secrets = secretsOf(config);
    // The tracker is replaced once the executable is known: ask the current one.
    this.#forwarding = new LogForwarding(this.#logger, (line) => this.#tracker.isBenign(line));
    this.#durable = new DurableSync(this.#durableHost());
    this.ready = new Promise<void>((resolve, reject) => {
      this.#resolveReady = resolve;
      this.#rejectReady = reject;
    });
    // Callers who never await `ready` must not get an unhandled rejection.
    this.ready.catch(() => {});
  }

  /** Resolves `ready` (or rejects it with `error`) once; false when it was already settled. */
  #settleReady(error?: Error): boolean {
    if (this.#readySettled) return false;
    this.#readySettled = true;
    if (error) this.#rejectReady(error);
    else this.#resolveReady();
    return true;
  }

  sync(options?: SyncOptions): Promise<SyncResult> {
    return this.#durable.sync(options);
  }

  /** The requests sync() sent on the control socket so far. @internal for tests */
  syncRequests(): number {
    return this.#durable.requests;
  }

  /** Where litestream listens for sync(), when it has a control socket. @internal for tests */
  controlSocket(): string | undefined {
    return this.#configFile?.socketPath;
  }

  /** What sync() needs of this replication: its state, its channel, its log's syncs. */
  #durableHost(): DurableSyncHost {
    return {
      databases: this.#config.databases.map((db) => db.path),
      clock: this.#clock,
      // Without a control socket a call waits for litestream's regular sync: up to a sync
      // interval, plus its WAL copy (a second) and the upload.
      defaultTimeoutMs: () =>
        this.#configFile?.socketPath !== undefined
          ? DEFAULT_SYNC_TIMEOUT_MS
          : this.#config.syncIntervalMs + DEFAULT_SYNC_TIMEOUT_MS,
      refusal: () => {
        if (this.#syncRefusal !== undefined) return this.#syncRefusal;
        if (this.#lease.lost)
          return 'this instance lost the replica lease to another instance, and replication stopped';
        if (this.#state === 'stopping' || this.#state === 'stopped') return 'replication has stopped';
        return undefined;
      },
      channel: () => {
        const socketPath = this.#configFile?.socketPath;
        // Litestream listens once it runs (a stale file from a killed one refuses, and is retried).
        if (socketPath === undefined || this.#state !== 'running' || !existsSync(socketPath)) return undefined;
        return {
          sync: async (database, timeoutMs, signal) => {
            const answer = await syncThroughSocket(socketPath, database, { timeoutMs, signal });
            // It answered: the replica holds `replicatedTxid`, which must cover what it just read.
            if (answer.replicatedTxid < answer.txid) {
              throw new ControlSocketFailure(
                `litestream read up to transaction ${answer.txid}, but the replica holds ${answer.replicatedTxid}`,
                true,
              );
            }
            return { txid: answer.replicatedTxid };
          },
        };
      },
      synced: (database) => {
        const status = this.#tracker.snapshot().find((db) => db.path === database);
        return {
          at: this.#tracker.durableSince(database),
          txid: status?.txid,
          position: this.#tracker.replicaPosition(database),
        };
      },
      watch: (listener) => {
        const events = ['sync', 'spawn', 'ready', 'lease', 'stopped'] as const;
        for (const event of events) this.on(event, listener);
        return () => {
          for (const event of events) this.off(event, listener);
        };
      },
      lastError: () => this.status().lastError?.message,
      describeFailure: (error) =>
        error instanceof ControlSocketFailure
          ? { message: redact(error.message, this.#secrets), retry: error.retry }
          : { message: redact(String(error), this.#secrets), retry: true },
    };
  }

  status(): ReplicationStatus {
    const databases = this.#databasesNow();
    const stalled = Object.freeze(this.#watchdog.stalledNow());
    return Object.freeze({
      state: this.#state,
      healthy:
        this.#state === 'running' &&
        this.#lease.held &&
        this.#outage.failure === undefined &&
        databases.every((db) => db.lastError === undefined) &&
        stalled.length === 0,
      lastError: this.#outage.failure,
      pid: this.#process.child?.pid,
      restarts: this.#backoff.restarts,
      startedAt: this.#startedAt,
      databases,
      stalled,
      lease: this.#leaseStatus(),
    });
  }

  #started: Promise<void> = Promise.resolve();

  get started(): Promise<void> {
    return this.#started;
  }

  start(): void {
    this.#started = this.#start();
    // Callers who never await `started` must not get an unhandled rejection.
    this.#started.catch(() => {});
  }

  async #start(): Promise<void> {
    // A stop({ signal }) that aborts while starting: give the start up between its steps.
    const stopAborted = this.#stopAborted.signal;
    const check = () => throwIfAborted(stopAborted, 'starting replication');
    try {
      const runtime = await this.#resolveRuntime(this.#config);
      await runtime.verified();
      const problem = runtime.engine.replicationProblem(this.#config.databases.map((db) => db.path));
      if (problem) throw new ReplicationError(`Cannot replicate: ${problem}.`);
      // A litestream that cannot read what another version wrote there would fork the history.
      if (runtime.engine.unreadableFormats.length > 0) {
        const slots = new ConcurrencyLimit(DATABASES_AT_ONCE);
        await Promise.all(
          this.#config.databases.map((db) =>
            slots.run(async () => {
              const check = checkReplica(this.#config, runtime, db, this.#logger, stopAborted);
              try {
                await check.replicating();
              } finally {
                await check.settled();
              }
            }),
          ),
        );
      }
      this.#runtime = runtime;
      this.#tracker = runtime.engine.createTracker(this.#config.databases.map((db) => db.path));
      check();
      await sweepTempDirs(this.#logger);
      await this.#pidfiles.claim(this.#config.shutdownTimeoutMs, stopAborted, check);
      // Held since ensureRestored as a rule; taken here when replication starts without it.
      await this.#lease.take(true);
      check();
      // sync() asks litestream over its control socket where the version answers it.
      const { version } = await runtime.verified();
      const syncsOnRequest = runtime.engine.syncsOnRequest(version);
      this.#configFile = await writeConfigFile(this.#config, runtime.engine, [], { controlSocket: syncsOnRequest });
      // Where nothing can prove a sync, sync() says so at once instead of timing out.
      if (this.#configFile.socketPath === undefined && !runtime.engine.logProvesDurability) {
        this.#syncRefusal = syncsOnRequest
          ? "the temp directory's path is too long for litestream's control socket, which sync() needs: set TMPDIR to a shorter directory"
          : `litestream ${version} cannot confirm a sync: its control socket waits for the replica from 0.5.9 on, and its log cannot prove it. Upgrade litestream to use sync()`;
      }
      check();
      this.#startedAt = new Date();
      if (!this.#lease.held) this.#state = 'paused';
      else await this.#spawn();
      this.#watchdog.start();
      this.#outageTimer = setInterval(() => this.#outage.tick(), OUTAGE_TICK_MS);
      this.#outageTimer.unref();
    } catch (error) {
      this.#state = 'stopped';
      this.#outage.stop();
      // Claims made before the failure (releaseRecord leaves other processes' alone).
      await this.#pidfiles.release();
      this.#lease.stop();
      await this.#lease.release();
      await this.#configFile?.dispose();
      this.#logger.error({ error: (error as Error).message }, 'could not start litestream');
      this.#settleReady(error as Error);
      this.#onStopped();
      throw error;
    }
  }

  /**
   * Starts litestream, unless one runs or is being started (then it shares that start). A
   * litestream run again first has the WAL truncated where its release line needs that.
   */
  #spawn(): Promise<void> {
    this.#spawning ??= this.#spawnOnce().finally(() => {
      this.#spawning = undefined;
    });
    return this.#spawning;
  }

  async #spawnOnce(): Promise<void> {
    const runtime = this.#runtime as Runtime;
    // A litestream has run before: this one resumes after it.
    if (this.#process.hasRun && runtime.engine.resumeNeedsTruncatedWal) {
      await truncateWals(
        this.#config.databases.map((db) => db.path),
        { logger: this.#logger, signal: this.#stopAborted.signal },
      );
      // Stopped for good, paused for the lease, or given up meanwhile: nothing to start.
      if (this.#state === 'stopped' || this.#lease.paused || this.#stopAborted.signal.aborted) return;
    }
    const child = this.#process.start();
    this.#errorsThisRun = 0;
    this.#tracker.restarted();
    if (this.#state !== 'stopping') this.#state = 'running';
    this.#logger.info({ litestreamPid: child.pid, databases: this.#config.databases.length }, 'litestream replicating');
    this.#emit('spawn', { pid: child.pid });
    if (child.pid !== undefined) {
      const pid = child.pid;
      await this.#pidfiles.record(pid);
    }
  }

  /**
   * Emits like EventEmitter, but a listener that throws cannot take the app down: it is
   * called from stream and child-process callbacks, where a throw would be uncaught. Its
   * error is logged, and the listeners after it for that event are skipped (as with emit).
   */
  #emit<K extends keyof ReplicationEvents>(event: K, ...args: ReplicationEvents[K]): void {
    emitSafely(this, this.#logger, event, ...args);
  }

  /**
   * Resolves `ready` once stopping loses nothing committed: litestream runs, and every
   * database is synced or holds nothing yet (missing, or empty and never written).
   */
  #checkReady(): void {
    if (this.#readySettled || !this.#process.spoke || this.#state !== 'running') return;
    if (!this.#tracker.allSynced(false, (db) => !hasContent(db))) return;
    if (this.#settleReady()) {
      this.#logger.info({}, 'every database with data is synced to the replica');
      this.#emit('ready');
    }
  }

  /** One line litestream printed; true when it meant something (waiters look again). */
  #onLine(raw: string): boolean {
    if (this.#tracker.ignores(raw)) return false;
    const parsed = parseLogLine(redact(raw, this.#secrets));
    if (!parsed) return false;
    const event = this.#tracker.apply(parsed);
    if (!this.#process.spoke) {
      this.#process.markSpoke();
      this.#checkReady();
    }
    this.#forwarding.forward(parsed);
    this.#emit('log', parsed);
    if (this.#state === 'stopping' && parsed.level === 'error' && !this.#tracker.isBenign(parsed)) {
      this.#finalSync.noteError(describeLine(parsed));
    }
    if (event) this.#onSyncEvent(event);
    return true;
  }

  #onSyncEvent(event: SyncEvent): void {
    switch (event.kind) {
      case 'synced':
        this.#watchdog.uploadCompleted();
        this.#outage.cleared();
        this.#emit('sync', { db: event.db, generation: event.generation, txid: event.txid, position: event.position });
        this.#checkReady();
        break;
      case 'error': {
        this.#errorsThisRun++;
        // A failure to reach the replica (not, say, a full disk: that shows as the database's error).
        const kind = failureKindOfText(event.message);
        if (this.#state === 'running' && kind !== 'other') {
          const message = `${describeFailureKind(kind)}: ${event.message}`;
          this.#outage.saw({ kind, message, database: event.db, source: 'litestream' });
        }
        this.#emit('replicaError', { db: event.db, message: event.message });
        break;
      }
    }
  }

  #onExit({ exitCode, signal, ranForMs }: ChildExit): void {
    if (this.#state === 'stopping' || this.#state === 'stopped') return;
    if (this.#lease.paused) {
      // Killed for the lease: it runs again once the lease is renewed (or never, if lost).
      this.#state = 'paused';
      return;
    }

    this.#state = 'restarting';
    const delayMs = this.#backoff.schedule(ranForMs, () => {
      // A lease paused meanwhile: its renewal resumes replication.
      if (this.#state !== 'restarting' || this.#lease.paused) return;
      this.#spawn().catch((error: unknown) => {
        this.#logger.error({ error: String(error) }, 'could not restart litestream');
      });
    });
    const restarts = this.#backoff.restarts;
    this.#logger.error(
      { exitCode, signal, restartInMs: delayMs, restarts },
      'litestream exited unexpectedly; restarting',
    );
    this.#emit('restart', { exitCode, signal, delayMs, restarts });
  }

  /** A retry took the leases: replication starts, unless it started or stopped meanwhile. */
  #leaseTaken(): void {
    if (this.#state !== 'paused' || this.#process.child) return;
    this.#logger.info({}, 'replica lease taken; replication starts');
    this.#emit('lease', this.#leaseStatus());
    this.#spawn().catch((error: unknown) => {
      this.#logger.error({ error: String(error) }, 'could not start litestream');
    });
  }

  /** The outage watch of this replication: what it probes, and what it reports. */
  #watchOutages(syncIntervalMs: number): ReplicaOutageWatch {
    const locations = new Map(this.#config.databases.map((db) => [db.path, db.replicas[0]]));
    return new ReplicaOutageWatch({
      databases: this.#config.databases.map((db) => db.path),
      syncIntervalMs,
      pending: () =>
        this.#state !== 'running'
          ? []
          : this.#tracker
              .snapshot()
              .flatMap((db) => (db.uploadingSince ? [{ db: db.path, since: db.uploadingSince.getTime() }] : [])),
      suspect: () =>
        this.#state !== 'running'
          ? []
          : this.#databasesNow()
              .filter((db) => db.lastError && failureKindOfText(db.lastError.message) !== 'other')
              .map((db) => db.path),
      leaseTrouble: () => ['late', 'paused'].includes(this.#leaseStatus().state),
      probe: (db, options) => {
        const location = locations.get(db);
        return location && canProbe(location) ? probeReplica(location, options) : undefined;
      },
      // Counted as failed syncs, as litestream's own errors are.
      onProbeFailed: (db, failure) => this.#emit('replicaError', { db, message: failure.message }),
      onAnswered: (db) => this.#answeredAt.set(db, this.#clock.now()),
      onChange: (failure, previous) => {
        if (failure && previous) {
          this.#logger.warn(
            { kind: failure.kind, error: failure.message },
            'replica unreachable: the cause is clearer now',
          );
        } else if (failure) {
          this.#logger.error(
            { kind: failure.kind, db: failure.database, source: failure.source, error: failure.message },
            `replica unreachable: ${describeFailureKind(failure.kind)} (status is unhealthy until it answers)`,
          );
        } else if (previous) {
          this.#logger.info(
            { kind: previous.kind, unreachableForMs: this.#clock.now() - previous.at.getTime() },
            'the replica answers again',
          );
        }
      },
    });
  }

  /**
   * Every database's status, without a failure to reach its replica that the replica has
   * disproved since: a probe got an answer after it. (Litestream 0.3 clears an idle
   * database's error only at its next write, which may not come for hours after the outage
   * is over.) Other errors, such as a full disk, stay until litestream clears them.
   */
  #databasesNow(): DatabaseStatus[] {
    return this.#tracker.snapshot().map((db) => {
      const answeredAt = this.#answeredAt.get(db.path);
      if (!db.lastError || answeredAt === undefined || answeredAt <= db.lastError.at.getTime()) return db;
      if (failureKindOfText(db.lastError.message) === 'other') return db;
      return Object.freeze({ ...db, lastError: undefined });
    });
  }

  /** A request for the lease failed (`text`): the outage's cause, unless another was seen first. */
  #sawLeaseFailure(text: string | undefined): void {
    if (text === undefined) return;
    const kind = failureKindOfText(text);
    this.#outage.saw({ kind, message: `${describeFailureKind(kind)}: ${text}`, database: undefined, source: 'lease' });
  }

  #leaseStatus(): ReplicationLeaseStatus {
    return this.#lease.status();
  }

  /** A lease went unrenewed too long: no write may reach the replica until it is renewed. */
  #pauseForLease(): void {
    if (this.#state === 'stopped') return;
    // A restart it cancelled is the lease's resume to make.
    this.#backoff.cancel();
    if (this.#state === 'running' || this.#state === 'restarting') this.#state = 'paused';
    this.#sawLeaseFailure(this.#leaseStatus().error);
    this.#logger.error(
      { litestreamPid: this.#process.child?.pid },
      'replication paused: the replica lease could not be renewed in time',
    );
    this.#process.kill('SIGKILL');
    this.#emit('lease', this.#leaseStatus());
  }

  /** Every lease is held again: litestream resumes from its shadow WAL. */
  #resumeAfterLease(): void {
    if (this.#state !== 'paused' || this.#process.child || this.#backoff.pending) return;
    this.#logger.info({}, 'replica lease renewed; replication resumes');
    this.#emit('lease', this.#leaseStatus());
    this.#spawn().catch((error: unknown) => {
      this.#logger.error({ error: String(error) }, 'could not restart litestream');
    });
  }

  /** Another instance holds a replica now: stop at once, with no final sync (it would be a second writer). */
  #leaseLost(error: ReplicaLeaseError | StaleDatabaseError): void {
    this.#finalSync.noteError(error.message);
    // Before ready, ready says why replication ended.
    this.#settleReady(error);
    this.#stopAborted.abort(error);
    this.#process.kill('SIGKILL');
    this.#emit('lease', this.#leaseStatus());
    this.#process.wake();
    this.#stopping ??= this.#stop(this.#config.shutdownTimeoutMs);
  }

  stop(options: StopOptions = {}): Promise<StopResult> {
    const { signal } = options;
    const killNow = () => {
      this.#stopAborted.abort();
      this.#process.kill('SIGKILL');
      this.#process.wake();
    };
    if (signal?.aborted) killNow();
    else signal?.addEventListener('abort', killNow, { once: true });
    this.#stopping ??= this.#stop(options.timeoutMs ?? this.#config.shutdownTimeoutMs);
    if (!signal) return this.#stopping;
    return this.#stopping.then(
      (result) => {
        signal.removeEventListener('abort', killNow);
        if (signal.aborted && result.killed) throw new LitestreamAbortError('stop()', signal.reason);
        return result;
      },
      (error: unknown) => {
        signal.removeEventListener('abort', killNow);
        throw error;
      },
    );
  }

  /** Aborted by a stop() signal: kill litestream now, skip the rest of the final sync. */
  readonly #stopAborted = new AbortController();

  async #stop(timeoutMs: number): Promise<StopResult> {
    const startedAt = this.#clock.now();
    const deadline = startedAt + timeoutMs;
    const aborted = () => this.#stopAborted.signal.aborted;
    let outcome: TerminateOutcome = NOTHING_RAN;
    // Whatever fails in here, the replication ends stopped: ready settled, pidfiles and
    // temp files removed, the handle gone from the registry.
    try {
      await this.#started.catch(() => {});
      this.#backoff.cancel();
      this.#lease.stop();
      this.#watchdog.stop();
      clearInterval(this.#outageTimer);
      this.#outage.stop();
      const wasRunning = this.#state === 'running' || this.#state === 'restarting' || this.#state === 'paused';
      const between = (this.#state === 'restarting' || this.#state === 'paused') && !this.#process.child;
      this.#state = 'stopping';
      // Stopped between a crash and its restart: run litestream once more for the final sync.
      // (Not while a lease is paused: this instance may no longer be the replica's writer.)
      const leased = this.#lease.held;
      if (!leased && !this.#lease.lost) {
        // Nothing reached the replica since the pause, and no final sync may be made now.
        this.#finalSync.noteError(`no final sync: ${this.#leaseStatus().error ?? 'the replica lease is not held'}`);
      }
      if (between && !aborted() && leased) await this.#spawn();
      if (this.#process.child && wasRunning) {
        outcome = await this.#finalSync.run({
          deadline,
          timeoutMs,
          respawn: () => this.#spawn(),
          errorsThisRun: () => this.#errorsThisRun,
          paused: () => this.#lease.paused,
        });
      }
    } catch (error) {
      this.#finalSync.noteError(`stop failed: ${error instanceof Error ? error.message : String(error)}`);
      // A failed run again leaves the outcome of the attempt before it.
      outcome = this.#finalSync.lastOutcome;
      const child = this.#process.child;
      if (child) {
        child.kill('SIGKILL');
        const result = await child.exited;
        outcome = { killed: true, hung: false, landed: false, exitCode: result.exitCode, signal: result.signal };
      }
    } finally {
      this.#state = 'stopped';
      await this.#pidfiles.release();
      // Litestream has exited: the next instance may take the replica over.
      await this.#lease.release();
      await this.#configFile?.dispose().catch(() => {});
      this.#settleReady(
        new ReplicationError(
          `replication stopped before every database with data had reached the replica (${this.#config.databases.map((db) => db.path).join(', ')}): await ready before stop(), or check the replica's errors in status().`,
        ),
      );
    }
    const { clean, killed, errors } = this.#finalSync.summarize(outcome, aborted());
    const result: StopResult = Object.freeze({
      clean,
      killed,
      exitCode: outcome.exitCode,
      errors: Object.freeze([...errors]),
      durationMs: this.#clock.now() - startedAt,
    });
    if (result.clean) this.#logger.info({ durationMs: result.durationMs }, 'litestream stopped after its final sync');
    else this.#logger.error({ ...result }, 'litestream stopped, but its final sync may be incomplete');
    this.#onStopped();
    this.#emit('stopped', result);
    return result;
  }
}
