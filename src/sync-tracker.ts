import type { LitestreamLogLine } from './log-lines.js';

/** Replication state of one database, as read from litestream's log. */
export interface DatabaseStatus {
  /** Absolute path of the database. */
  readonly path: string;
  /** Litestream has opened the database (a stop now ends with a final sync). */
  readonly initialized: boolean;
  /** The replica has caught up with the database at least once since start. */
  readonly synced: boolean;
  /** The current generation, once known. */
  readonly generation: string | undefined;
  /** When the replica last caught up (a snapshot or WAL segment was written, or nothing was pending). */
  readonly lastSyncAt: Date | undefined;
  /** The last replication error, cleared by the next successful sync. */
  readonly lastError: { readonly message: string; readonly at: Date } | undefined;
  /**
   * When the replica upload now in flight began (undefined when none is). An upload that
   * runs for long means the replica has stalled: S3 accepts connections but does not answer.
   */
  readonly uploadingSince: Date | undefined;
}

/** What a log line meant for a database, for events. */
export type SyncEvent =
  | { kind: 'synced'; db: string; generation: string | undefined; position: string | undefined }
  | { kind: 'error'; db: string; message: string }
  | { kind: 'initialized'; db: string };

// Litestream logs these at error level in normal operation: before the first generation
// exists, and when shutdown cancels a sync in flight (the final sync runs after that).
const BENIGN_ERRORS = [/no generation, waiting for data/, /context canceled/];

/** True for log lines that are routine noise despite their level. */
export function isBenign(line: LitestreamLogLine): boolean {
  const error = typeof line.fields.error === 'string' ? line.fields.error : '';
  return BENIGN_ERRORS.some((pattern) => pattern.test(error));
}

interface MutableStatus {
  path: string;
  initialized: boolean;
  synced: boolean;
  generation: string | undefined;
  lastSyncAt: Date | undefined;
  lastError: { message: string; at: Date } | undefined;
  /** The database position litestream is syncing towards (`replica sync`). */
  target: string | undefined;
  /** Caught up since the current litestream process started. */
  syncedThisRun: boolean;
  /** Replica writes (snapshot or WAL segment) started and not yet finished. */
  writing: number;
  uploadingSince: Date | undefined;
}

/**
 * Follows litestream's debug log and keeps, per database, whether it is initialized,
 * caught up, its generation, last sync and last error.
 */
export class SyncTracker {
  readonly #databases = new Map<string, MutableStatus>();

  constructor(paths: readonly string[]) {
    for (const path of paths) {
      this.#databases.set(path, {
        path,
        initialized: false,
        synced: false,
        generation: undefined,
        lastSyncAt: undefined,
        lastError: undefined,
        target: undefined,
        syncedThisRun: false,
        writing: 0,
        uploadingSince: undefined,
      });
    }
  }

  /** A new litestream process starts from scratch: it must open every database again. */
  restarted(): void {
    for (const status of this.#databases.values()) {
      status.initialized = false;
      status.target = undefined;
      status.syncedThisRun = false;
      status.writing = 0;
      status.uploadingSince = undefined;
    }
  }

  /** Applies one log line; returns what it meant, if anything. */
  apply(line: LitestreamLogLine, now = new Date()): SyncEvent | undefined {
    const status = line.db === undefined ? undefined : this.#databases.get(line.db);
    if (!status) return undefined;
    const position = typeof line.fields.position === 'string' ? line.fields.position : undefined;
    switch (line.msg) {
      case 'sync':
      case 'sync: ok':
        if (status.initialized) return undefined;
        status.initialized = true;
        return { kind: 'initialized', db: status.path };
      case 'sync: new generation':
        status.initialized = true;
        if (typeof line.fields.generation === 'string') status.generation = line.fields.generation;
        return undefined;
      case 'replica sync':
        status.target = position;
        return undefined;
      case 'write snapshot':
      case 'write wal segment':
        if (status.writing === 0) status.uploadingSince = now;
        status.writing++;
        return undefined;
      case 'replica sync: calc new pos':
        // The replica already holds everything the database has: caught up without writing.
        return position !== undefined && position === status.target ? this.#synced(status, position, now) : undefined;
      case 'snapshot written':
      case 'wal segment written':
        status.writing = Math.max(0, status.writing - 1);
        if (status.writing === 0) status.uploadingSince = undefined;
        return this.#synced(status, position, now);
      default:
        // A failed sync ends whatever it was writing.
        if (line.msg === 'monitor error') {
          status.writing = 0;
          status.uploadingSince = undefined;
        }
        if ((line.level === 'error' || line.level === 'warn') && !isBenign(line)) {
          const error = typeof line.fields.error === 'string' ? `${line.msg}: ${line.fields.error}` : line.msg;
          status.lastError = { message: error, at: now };
          return { kind: 'error', db: status.path, message: error };
        }
        return undefined;
    }
  }

  #synced(status: MutableStatus, position: string | undefined, now: Date): SyncEvent {
    const generation = position?.split('/')[0];
    if (generation) status.generation = generation;
    status.initialized = true;
    status.synced = true;
    status.syncedThisRun = true;
    status.lastSyncAt = now;
    status.lastError = undefined;
    return { kind: 'synced', db: status.path, generation: status.generation, position };
  }

  /** Every database has been opened by the current litestream process (or may be skipped). */
  allInitialized(skip: (path: string) => boolean = () => false): boolean {
    return [...this.#databases.values()].every((status) => status.initialized || skip(status.path));
  }

  /** The databases whose replica upload has been in flight for `stallMs` or longer at `now`. */
  stalled(stallMs: number, now = Date.now()): string[] {
    return [...this.#databases.values()]
      .filter((status) => status.uploadingSince !== undefined && now - status.uploadingSince.getTime() >= stallMs)
      .map((status) => status.path);
  }

  /** Some replica write is under way (a SIGTERM now can hang litestream 0.3.13). */
  writing(): boolean {
    return [...this.#databases.values()].some((status) => status.writing > 0);
  }

  /** Every database has caught up at least once (ever, or since the current process started). */
  allSynced(thisRun = false, skip: (path: string) => boolean = () => false): boolean {
    return [...this.#databases.values()].every(
      (status) => (thisRun ? status.syncedThisRun : status.synced) || skip(status.path),
    );
  }

  /** A frozen snapshot of every database's status. */
  snapshot(): DatabaseStatus[] {
    return [...this.#databases.values()].map(({ target: _target, syncedThisRun: _run, writing: _writing, ...status }) =>
      Object.freeze({ ...status }),
    );
  }
}
