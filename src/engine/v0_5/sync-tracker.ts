import path from 'node:path';
import { type LitestreamLogLine, loggedAt } from '../../process/log-lines.js';
import type { DatabaseStatus, ReplicationTracker, SyncEvent } from '../engine.js';
import { formatTxid, parseTxid } from '../positions.js';

// Lines logged every second per database and level that say nothing about replication.
const NOISE =
  /"msg":"(?:finding ltx files for level|db not ready, skipping|scheduling retry for unready dbs|enforcing (?:snapshot )?retention|no compaction|verify(?:\.2)?|l0 retention scan complete|starting l0 retention enforcement)"/;

// Routine at error level: a missing database is picked up once the app creates it, and a
// sync in flight is cancelled by the shutdown (the final sync runs after that).
const BENIGN_ERRORS = [/context canceled/, /no database found/];

// Errors of the work on what is already in the replica (merging levels, pruning level 0):
// they do not touch the final sync, which uploads level 0. Seen as a shutdown interrupts a
// compaction: "compaction failed: invalid argument".
const HOUSEKEEPING = /^(compaction failed|l0 retention enforcement failed)/;

// Litestream 0.5.17 and earlier close each database before stopping the snapshot and
// compaction monitors: one still running reads the database's file handle after the close
// cleared it, and Go answers "invalid argument" (os.ErrInvalid, a nil *os.File). The final
// sync ran before the close, and the next run redoes the snapshot: routine during shutdown.
// Upstream stops the monitors first since 0.5.18 (commit c4f771a).
const SHUTDOWN_RACE = /^invalid argument$/;

interface MutableStatus {
  path: string;
  initialized: boolean;
  synced: boolean;
  /** The last transaction id the replica is known to hold. */
  replicaTxid: number;
  /** The database's last transaction id that litestream has read (into its local LTX files). */
  dbTxid: number | undefined;
  lastSyncAt: Date | undefined;
  /** Litestream's last read of the WAL (`sync`): the transaction id it would create, and when. */
  lastRead: { txid: number; at: Date } | undefined;
  /**
   * Transaction id → a time before which every commit is in that transaction or an earlier
   * one: learnt from each read once its outcome is known.
   */
  readThrough: Map<number, Date>;
  lastError: { message: string; at: Date } | undefined;
  syncedThisRun: boolean;
  /** An upload to the replica in flight since then. */
  uploadingSince: Date | undefined;
  /** The database's transaction id as litestream saw it after it began shutting down. */
  shutdownTarget: number | undefined;
  /** Litestream logged an error for it after it began shutting down: its final sync failed. */
  shutdownFailed: boolean;
  /** A full copy is uploading (the first upload to an empty replica): it may take long. */
  uploadingSnapshot: boolean;
}

/**
 * Follows litestream 0.5's debug log per database. It names databases by file name
 * (`"db":"app.db"`), mapped back to the configured paths here; each sync says where the
 * replica and the database are (`replica sync` with `txid: {replica, db}`), and each
 * upload what it carried (`ltx file uploaded` with `maxTXID`).
 */
export class LtxSyncTracker implements ReplicationTracker {
  readonly #databases = new Map<string, MutableStatus>();
  /** File name → the configured database with that name (undefined when two share it). */
  readonly #byName = new Map<string, MutableStatus | undefined>();
  #shuttingDown = false;

  constructor(paths: readonly string[]) {
    for (const file of paths) {
      const status: MutableStatus = {
        path: file,
        initialized: false,
        synced: false,
        replicaTxid: 0,
        dbTxid: undefined,
        lastSyncAt: undefined,
        lastRead: undefined,
        readThrough: new Map(),
        lastError: undefined,
        syncedThisRun: false,
        uploadingSince: undefined,
        shutdownTarget: undefined,
        shutdownFailed: false,
        uploadingSnapshot: false,
      };
      this.#databases.set(file, status);
      const name = path.basename(file);
      this.#byName.set(name, this.#byName.has(name) ? undefined : status);
    }
  }

  get isShuttingDown(): boolean {
    return this.#shuttingDown;
  }

  ignores(raw: string): boolean {
    return NOISE.test(raw);
  }

  isBenign(line: LitestreamLogLine): boolean {
    const error = typeof line.fields.error === 'string' ? line.fields.error : '';
    if (this.#shuttingDown && HOUSEKEEPING.test(line.msg) && SHUTDOWN_RACE.test(error)) return true;
    return BENIGN_ERRORS.some((pattern) => pattern.test(error) || pattern.test(line.msg));
  }

  restarted(): void {
    for (const status of this.#databases.values()) {
      status.initialized = false;
      status.syncedThisRun = false;
      status.uploadingSince = undefined;
      status.shutdownTarget = undefined;
      status.shutdownFailed = false;
      status.lastRead = undefined;
      status.readThrough.clear();
      // The replica keeps what the last process wrote: replicaTxid stays.
    }
    this.#shuttingDown = false;
  }

  finalSyncLanded(file: string): boolean {
    const status = this.#databases.get(file);
    return (
      status !== undefined &&
      !status.shutdownFailed &&
      status.shutdownTarget !== undefined &&
      status.replicaTxid >= status.shutdownTarget
    );
  }

  hasOpenUpload(): boolean {
    return false;
  }

  apply(line: LitestreamLogLine, now = new Date()): SyncEvent | undefined {
    if (line.msg.startsWith('signal received')) {
      this.#shuttingDown = true;
      for (const status of this.#databases.values()) {
        status.shutdownTarget = undefined;
        status.shutdownFailed = false;
      }
      return undefined;
    }
    const status = this.#statusOf(line);
    if (!status) return undefined;
    switch (line.msg) {
      // Not "initialized db": litestream logs it at start even for a missing database, and a
      // SIGTERM before its first sync tick (about a second in) exits 0 having uploaded nothing.
      case 'db sync':
      case 'snapshot':
        return this.#initialized(status);
      // Every second litestream reads the WAL ("sync", naming the transaction it would
      // create; logged before the read, so its own time is a safe bound) and turns what is
      // new into that transaction's LTX file. The replica syncs on a clock of its own
      // ("replica sync"), and may report the database's transaction before the file of a
      // read already logged exists: which read a transaction holds is told by the next read.
      case 'sync': {
        const txid = parseTxid(line.fields.txid);
        if (txid === undefined) return undefined;
        const last = status.lastRead;
        // Read again for the same transaction: the last read found nothing new.
        if (last && last.txid === txid) this.#readThrough(status, txid - 1, last.at);
        // For a later one: the last read made its transaction.
        else if (last && last.txid < txid) this.#readThrough(status, last.txid, last.at);
        status.lastRead = { txid, at: loggedAt(line, now) };
        this.#advance(status);
        return undefined;
      }
      case 'replica sync': {
        const txid = line.fields.txid as { replica?: unknown; db?: unknown } | undefined;
        const replica = parseTxid(txid?.replica);
        const db = parseTxid(txid?.db);
        const before = status.replicaTxid;
        if (replica !== undefined) status.replicaTxid = Math.max(status.replicaTxid, replica);
        if (db !== undefined) {
          status.dbTxid = db;
          this.#made(status, db);
          if (this.#shuttingDown) status.shutdownTarget = Math.max(status.shutdownTarget ?? 0, db);
        }
        const wasInitialized = status.initialized;
        status.initialized = true;
        if (db !== undefined && status.replicaTxid >= db) return this.#synced(status, before);
        if (status.uploadingSince === undefined) {
          status.uploadingSince = now;
          status.uploadingSnapshot = status.replicaTxid === 0;
        }
        return wasInitialized ? undefined : { kind: 'initialized', db: status.path };
      }
      case 'ltx file uploaded': {
        // Compaction uploads higher levels of what is already there; level 0 is new data.
        if (line.fields.level !== 0 && line.fields.level !== undefined) return undefined;
        const before = status.replicaTxid;
        const max = parseTxid(line.fields.maxTXID);
        if (max !== undefined) {
          status.replicaTxid = Math.max(status.replicaTxid, max);
          this.#made(status, max);
        }
        status.uploadingSince = undefined;
        if (status.dbTxid === undefined || status.replicaTxid >= status.dbTxid) return this.#synced(status, before);
        return undefined;
      }
      default:
        if ((line.level === 'error' || line.level === 'warn') && !this.isBenign(line)) {
          // A failed sync ends its upload; one during shutdown fails the final sync.
          status.uploadingSince = undefined;
          if (this.#shuttingDown && !HOUSEKEEPING.test(line.msg)) status.shutdownFailed = true;
          const error = typeof line.fields.error === 'string' ? `${line.msg}: ${line.fields.error}` : line.msg;
          status.lastError = { message: error, at: now };
          return { kind: 'error', db: status.path, message: error };
        }
        return undefined;
    }
  }

  /** The database a line is about: litestream 0.5 names it by file name, some lines by path. */
  #statusOf(line: LitestreamLogLine): MutableStatus | undefined {
    const named = line.db ?? (typeof line.fields.path === 'string' ? line.fields.path : undefined);
    if (named === undefined) return undefined;
    return this.#databases.get(named) ?? this.#byName.get(named);
  }

  /** The database holds transaction `txid`: a logged read for it (or an earlier one) made it. */
  #made(status: MutableStatus, txid: number): void {
    const last = status.lastRead;
    if (last && last.txid <= txid) this.#readThrough(status, last.txid, last.at);
    this.#advance(status);
  }

  #readThrough(status: MutableStatus, txid: number, at: Date): void {
    const known = status.readThrough.get(txid);
    if (known === undefined || known < at) status.readThrough.set(txid, at);
  }

  /**
   * Every commit before `lastSyncAt` is in the replica: the latest time known to be read
   * into a transaction the replica holds.
   */
  #advance(status: MutableStatus): void {
    for (const [txid, at] of status.readThrough) {
      if (txid > status.replicaTxid) continue;
      if (status.lastSyncAt === undefined || at > status.lastSyncAt) status.lastSyncAt = at;
      status.readThrough.delete(txid);
    }
  }

  #initialized(status: MutableStatus): SyncEvent | undefined {
    if (status.initialized) return undefined;
    status.initialized = true;
    return { kind: 'initialized', db: status.path };
  }

  /**
   * The replica has caught up. An event only when it moved on from `before` (or first caught
   * up in this process): litestream 0.5 says "caught up" every sync interval while idle, and
   * a sync event means something new may have reached the replica.
   */
  #synced(status: MutableStatus, before: number | undefined): SyncEvent | undefined {
    const news = !status.syncedThisRun || before === undefined || status.replicaTxid > before;
    status.initialized = true;
    status.synced = true;
    status.syncedThisRun = true;
    status.lastError = undefined;
    status.uploadingSince = undefined;
    if (!news) return undefined;
    return {
      kind: 'synced',
      db: status.path,
      generation: undefined,
      txid: status.replicaTxid,
      position: formatTxid(status.replicaTxid),
    };
  }

  allInitialized(skip: (path: string) => boolean = () => false): boolean {
    return [...this.#databases.values()].every((status) => status.initialized || skip(status.path));
  }

  allSynced(thisRun = false, skip: (path: string) => boolean = () => false): boolean {
    return [...this.#databases.values()].every(
      (status) => (thisRun ? status.syncedThisRun : status.synced) || skip(status.path),
    );
  }

  stalled(allowedMs: (path: string, kind: 'snapshot' | 'wal') => number, now = Date.now()): string[] {
    return [...this.#databases.values()]
      .filter(
        (status) =>
          status.uploadingSince !== undefined &&
          now - status.uploadingSince.getTime() >=
            allowedMs(status.path, status.uploadingSnapshot ? 'snapshot' : 'wal'),
      )
      .map((status) => status.path);
  }

  writing(): boolean {
    return [...this.#databases.values()].some((status) => status.uploadingSince !== undefined);
  }

  /** 0.5 names positions by transaction id: see the status's `txid`. */
  replicaPosition(): string | undefined {
    return undefined;
  }

  /**
   * Never from the log: 0.5 reads at most 64 MiB of WAL per pass and stops at a commit, and
   * its `sync` line does not say whether a pass stopped short, so no read is known to hold
   * every commit before it. `sync()` asks the control socket instead (0.5.9+).
   */
  durableSince(): Date | undefined {
    return undefined;
  }

  snapshot(): DatabaseStatus[] {
    return [...this.#databases.values()].map((status) =>
      Object.freeze({
        path: status.path,
        initialized: status.initialized,
        synced: status.synced,
        generation: undefined,
        txid: status.replicaTxid > 0 ? status.replicaTxid : undefined,
        lastSyncAt: status.lastSyncAt,
        lastError: status.lastError,
        uploadingSince: status.uploadingSince,
      }),
    );
  }
}

/** Two of `paths` with the same file name, if any (litestream 0.5 logs databases by file name). */
export function sameFileName(paths: readonly string[]): [string, string] | undefined {
  const seen = new Map<string, string>();
  for (const file of paths) {
    const other = seen.get(path.basename(file));
    if (other !== undefined) return [other, file];
    seen.set(path.basename(file), file);
  }
  return undefined;
}
