/** Replication that is not running: disabled by the config, or before the executable is known. */
import { EventEmitter } from 'node:events';
import type { LitestreamConfig } from '../config/types.js';
import type { DatabaseStatus, ReplicationTracker } from '../engine/engine.js';
import type {
  Replication,
  ReplicationEvents,
  ReplicationStatus,
  StopResult,
  SyncOptions,
  SyncResult,
} from './types.js';

/** A tracker for before the executable is known: it has seen nothing. */
export function idleTracker(paths: readonly string[]): ReplicationTracker {
  const snapshot = () => paths.map(idleDatabase);
  return {
    ignores: () => true,
    apply: () => undefined,
    isBenign: () => false,
    restarted: () => {},
    isShuttingDown: false,
    finalSyncLanded: () => false,
    hasOpenUpload: () => false,
    allInitialized: () => false,
    allSynced: () => false,
    stalled: () => [],
    writing: () => false,
    snapshot,
    durableSince: () => undefined,
    replicaPosition: () => undefined,
  };
}

/** The status of replication that is not running. @internal */
export function idleStatus(config: LitestreamConfig, state: 'disabled' | 'stopped'): ReplicationStatus {
  return Object.freeze({
    state,
    healthy: state === 'disabled',
    lastError: undefined,
    pid: undefined,
    restarts: 0,
    startedAt: undefined,
    databases: config.databases.map((db) => idleDatabase(db.path)),
    stalled: Object.freeze([]),
    lease: Object.freeze({ state: 'off', error: undefined }),
  });
}

/** The status of a database nothing has been seen of. */
function idleDatabase(path: string): DatabaseStatus {
  return Object.freeze({
    path,
    initialized: false,
    synced: false,
    generation: undefined,
    txid: undefined,
    lastSyncAt: undefined,
    lastError: undefined,
    uploadingSince: undefined,
  });
}

/** What `stop()` returns when nothing was running. @internal */
export const NOTHING_TO_STOP: StopResult = Object.freeze({
  clean: true,
  killed: false,
  exitCode: undefined,
  errors: Object.freeze([]),
  durationMs: 0,
});

/** A handle for a disabled config: nothing runs. */
export class DisabledReplication extends EventEmitter<ReplicationEvents> implements Replication {
  readonly ready = Promise.resolve();
  readonly started = Promise.resolve();
  readonly #config: LitestreamConfig;

  constructor(config: LitestreamConfig) {
    super();
    this.#config = config;
    config.logger.info({ component: 'replicate' }, 'litestream is disabled; not replicating');
  }

  status(): ReplicationStatus {
    return idleStatus(this.#config, 'disabled');
  }

  stop(): Promise<StopResult> {
    return Promise.resolve(NOTHING_TO_STOP);
  }

  /** Nothing replicates: resolves at once, each database `disabled`, so app code runs the same in development. */
  async sync(options: SyncOptions = {}): Promise<SyncResult> {
    return disabledSync(this.#config, options);
  }
}

/** What sync() resolves to with litestream disabled. @internal */
export function disabledSync(config: LitestreamConfig, options: SyncOptions = {}): SyncResult {
  const paths = options.databases ?? config.databases.map((db) => db.path);
  return {
    databases: paths.map((path) => ({ path, outcome: 'disabled', txid: undefined, position: undefined })),
    durationMs: 0,
  };
}
