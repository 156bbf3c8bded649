import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { type LitestreamLogLine, loggedAt } from '../../process/log-lines.js';
import { companionFiles } from '../../sqlite/database-files.js';
import type { DatabaseStatus, ReplicationTracker, SyncEvent } from '../engine.js';

// Litestream logs these at error level in normal operation: before the first generation
// exists, and when shutdown cancels a sync in flight (the final sync runs after that).
const BENIGN_ERRORS = [/no generation, waiting for data/, /context canceled/];
// And this one at warn level whenever it resumes a database that was closed since it last ran
// (closing checkpoints the WAL it was following): it starts a new generation with a full
// snapshot, loses nothing, and says so next in "sync: new generation".
const BENIGN_MESSAGES = [/^init: cannot determine last wal position, clearing generation$/];

/** True for log lines that are routine noise despite their level. */
export function isBenign(line: LitestreamLogLine): boolean {
  const error = typeof line.fields.error === 'string' ? line.fields.error : '';
  return (
    BENIGN_ERRORS.some((pattern) => pattern.test(error)) || BENIGN_MESSAGES.some((pattern) => pattern.test(line.msg))
  );
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
  /** When the WAL copy (`sync`) in progress began: it holds every commit made before. */
  copyingSince: Date | undefined;
  /** When the last finished WAL copy (`sync: ok`) began. */
  copiedSince: Date | undefined;
  /** When the WAL copy that `target` reflects (or a later one) began: the replica at `target` holds every commit before. */
  targetCopiedSince: Date | undefined;
  /** The `sync` line of the copy in progress carried litestream's own time (not our read's). */
  copyingTimed: boolean;
  /**
   * The last finished WAL copies: when each began, and where the shadow WAL ended once it had
   * (read from disk then): a replica reaching that position holds every commit before it.
   */
  copies: { since: Date; through: string }[];
  /** Caught up since the current litestream process started. */
  syncedThisRun: boolean;
  /** A snapshot upload in flight since then (the monitor's, the snapshotter's or the retainer's). */
  snapshotSince: Date | undefined;
  /** A WAL segment upload in flight since then. */
  walSince: Date | undefined;
  /** Where the replica ends: the end of the last WAL segment written, or the position litestream computed. */
  replicaEnd: string | undefined;
  /** WAL uploads begun and neither written nor ended by a failed sync, this process. */
  openWalUploads: number;
  /** The furthest position a sync aimed at since litestream said it is shutting down: its final sync's target. */
  shutdownTarget: string | undefined;
}

/**
 * Follows litestream 0.3's debug log and keeps, per database, whether it is initialized,
 * caught up, its generation, last sync and last error.
 */
export class SyncTracker implements ReplicationTracker {
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
        copyingSince: undefined,
        copiedSince: undefined,
        targetCopiedSince: undefined,
        copyingTimed: false,
        copies: [],
        syncedThisRun: false,
        snapshotSince: undefined,
        walSince: undefined,
        replicaEnd: undefined,
        openWalUploads: 0,
        shutdownTarget: undefined,
      });
    }
  }

  #shuttingDown = false;

  // Shadow-WAL copy lines come per page at high write rates and carry nothing we use.
  ignores(raw: string): boolean {
    return raw.includes('"msg":"copy-shadow');
  }

  isBenign(line: LitestreamLogLine): boolean {
    return isBenign(line);
  }

  /** Litestream has said it is shutting down (see {@link SyncTracker.shuttingDown}). */
  get isShuttingDown(): boolean {
    return this.#shuttingDown;
  }

  /** A new litestream process starts from scratch: it must open every database again. */
  restarted(): void {
    for (const status of this.#databases.values()) {
      status.initialized = false;
      status.target = undefined;
      status.copyingSince = undefined;
      status.copiedSince = undefined;
      status.targetCopiedSince = undefined;
      status.copies = [];
      status.syncedThisRun = false;
      status.snapshotSince = undefined;
      status.walSince = undefined;
      // The replica keeps what the last process wrote: replicaEnd stays.
      status.openWalUploads = 0;
      status.shutdownTarget = undefined;
    }
    this.#shuttingDown = false;
  }

  /**
   * Litestream logged that a signal made it shut down: each database's final sync follows,
   * and the syncs from here on aim at its final position.
   */
  shuttingDown(): void {
    this.#shuttingDown = true;
    for (const status of this.#databases.values()) status.shutdownTarget = undefined;
  }

  /**
   * The final sync of `path` reached the replica: since litestream began shutting down, a
   * sync aimed at a position, and the replica now ends there. Told from log lines alone,
   * whether litestream then exits or not.
   */
  finalSyncLanded(path: string): boolean {
    const status = this.#databases.get(path);
    return status?.shutdownTarget !== undefined && status.shutdownTarget === status.replicaEnd;
  }

  /** A WAL upload of `path` began and never ended: litestream 0.3.13's shutdown waits for it forever. */
  hasOpenUpload(path: string): boolean {
    return (this.#databases.get(path)?.openWalUploads ?? 0) > 0;
  }

  /** Applies one log line; returns what it meant, if anything. */
  apply(line: LitestreamLogLine, now = new Date()): SyncEvent | undefined {
    if (line.msg.startsWith('signal received')) this.shuttingDown();
    const status = line.db === undefined ? undefined : this.#databases.get(line.db);
    if (!status) return undefined;
    const position = typeof line.fields.position === 'string' ? line.fields.position : undefined;
    switch (line.msg) {
      // A sync logs "sync", then copies the WAL to its shadow WAL, then logs "sync: ok": the
      // copy holds every commit made before the first line was printed (its own time).
      case 'sync':
      case 'sync: ok':
        if (line.msg === 'sync') {
          status.copyingSince = loggedAt(line, now);
          status.copyingTimed = line.time !== undefined;
        } else {
          status.copiedSince = status.copyingSince;
          this.#recordCopy(status);
        }
        if (status.initialized) return undefined;
        status.initialized = true;
        return { kind: 'initialized', db: status.path };
      case 'sync: new generation':
        status.initialized = true;
        if (typeof line.fields.generation === 'string') status.generation = line.fields.generation;
        return undefined;
      // The target is the database's position after its last finished copy, or a later one:
      // the time that copy began is a safe bound for what reaching the target carries.
      case 'replica sync':
        status.target = position;
        status.targetCopiedSince = status.copiedSince;
        if (this.#shuttingDown) status.shutdownTarget = furthest(status.shutdownTarget, position);
        return undefined;
      case 'write snapshot':
        status.snapshotSince ??= now;
        return undefined;
      case 'write wal segment':
        status.walSince ??= now;
        status.openWalUploads++;
        return undefined;
      case 'replica sync: calc new pos':
        if (position !== undefined) status.replicaEnd = position;
        // The replica already holds everything the database has: caught up without writing.
        return position !== undefined && position === status.target
          ? this.#synced(status, position, position)
          : undefined;
      case 'snapshot written':
        status.snapshotSince = undefined;
        return this.#synced(status, position, position);
      case 'wal segment written': {
        status.walSince = undefined;
        status.openWalUploads = Math.max(0, status.openWalUploads - 1);
        // `position` is where the segment starts; `sz` its uncompressed length.
        const end = segmentEnd(position, line.fields.sz);
        if (end !== undefined) status.replicaEnd = end;
        return this.#synced(status, position, end);
      }
      default:
        // A failed sync ends what it was uploading: the monitor's sync writes WAL segments
        // (and a new generation's snapshot), the snapshotter and retainer write snapshots.
        if (line.msg === 'monitor error') {
          status.snapshotSince = undefined;
          status.walSince = undefined;
          status.openWalUploads = Math.max(0, status.openWalUploads - 1);
        }
        if (line.msg === 'snapshotter error' || line.msg === 'retainer error') status.snapshotSince = undefined;
        if ((line.level === 'error' || line.level === 'warn') && !isBenign(line)) {
          const error = typeof line.fields.error === 'string' ? `${line.msg}: ${line.fields.error}` : line.msg;
          status.lastError = { message: error, at: now };
          return { kind: 'error', db: status.path, message: error };
        }
        return undefined;
    }
  }

  /** The replica now ends at `end` (what was written starts at `position`). */
  #synced(status: MutableStatus, position: string | undefined, end: string | undefined): SyncEvent {
    const generation = position?.split('/')[0];
    if (generation) status.generation = generation;
    status.initialized = true;
    status.synced = true;
    status.syncedThisRun = true;
    // Every commit made before the copy the replica now reaches is in it; one made since
    // may not be, though a segment was just written.
    if (end !== undefined && status.target !== undefined && reaches(end, status.target)) {
      status.lastSyncAt = status.targetCopiedSince ?? status.lastSyncAt;
    }
    status.lastError = undefined;
    return { kind: 'synced', db: status.path, generation: status.generation, txid: undefined, position };
  }

  /** Every database has been opened by the current litestream process (or may be skipped). */
  allInitialized(skip: (path: string) => boolean = () => false): boolean {
    return [...this.#databases.values()].every((status) => status.initialized || skip(status.path));
  }

  /** The databases with an upload in flight for at least `allowedMs(path, kind)` at `now`. */
  stalled(allowedMs: (path: string, kind: 'snapshot' | 'wal') => number, now = Date.now()): string[] {
    const late = (since: Date | undefined, limit: () => number) =>
      since !== undefined && now - since.getTime() >= limit();
    return [...this.#databases.values()]
      .filter(
        (status) =>
          late(status.snapshotSince, () => allowedMs(status.path, 'snapshot')) ||
          late(status.walSince, () => allowedMs(status.path, 'wal')),
      )
      .map((status) => status.path);
  }

  /** Some replica write is under way (a SIGTERM now can hang litestream 0.3.13). */
  writing(): boolean {
    return [...this.#databases.values()].some((status) => uploadingSince(status) !== undefined);
  }

  /** Every database has caught up at least once (ever, or since the current process started). */
  allSynced(thisRun = false, skip: (path: string) => boolean = () => false): boolean {
    return [...this.#databases.values()].every(
      (status) => (thisRun ? status.syncedThisRun : status.synced) || skip(status.path),
    );
  }

  replicaPosition(path: string): string | undefined {
    return this.#databases.get(path)?.replicaEnd;
  }

  /**
   * Every commit before the returned time is in the replica: the start of the latest WAL copy
   * whose shadow WAL end (read from disk once it finished) the replica has reached. Positions,
   * not the order of log lines: a copy's commits are all in the shadow WAL by its end, and
   * the replica holds the shadow WAL up to where it ends. It moves on an idle database too
   * (litestream copies every second, and uploads only what changed).
   */
  durableSince(path: string): Date | undefined {
    const status = this.#databases.get(path);
    const end = status?.replicaEnd;
    if (!status || end === undefined) return undefined;
    let since: Date | undefined;
    for (const copy of status.copies) {
      if (covers(end, copy.through) && (since === undefined || copy.since > since)) since = copy.since;
    }
    return since;
  }

  /** A copy finished: where the shadow WAL ends now, for {@link durableSince}. */
  #recordCopy(status: MutableStatus): void {
    // A line without litestream's own time would date the copy by our late read of it.
    if (status.copyingSince === undefined || !status.copyingTimed) return;
    const through = shadowWalEnd(status.path, status.generation);
    if (through === undefined) return;
    status.copies.push({ since: status.copyingSince, through });
    if (status.copies.length > RECENT_COPIES) status.copies.shift();
  }

  /** A frozen snapshot of every database's status. */
  snapshot(): DatabaseStatus[] {
    return [...this.#databases.values()].map((status) =>
      Object.freeze({
        path: status.path,
        initialized: status.initialized,
        synced: status.synced,
        generation: status.generation,
        txid: undefined,
        lastSyncAt: status.lastSyncAt,
        lastError: status.lastError,
        uploadingSince: uploadingSince(status),
      }),
    );
  }
}

/**
 * Where litestream 0.3's shadow WAL of `database` ends, as a position
 * (`<generation>/<index>:<size>` of the highest-indexed file in
 * `.<name>-litestream/generations/<generation>/wal/`); undefined when it cannot be read.
 */
function shadowWalEnd(database: string, generation: string | undefined): string | undefined {
  if (generation === undefined) return undefined;
  const dir = path.join(companionFiles(database).metaDir, 'generations', generation, 'wal');
  try {
    const newest = readdirSync(dir)
      .filter((name) => /^[0-9a-f]{8}\.wal$/.test(name))
      .sort()
      .at(-1);
    if (newest === undefined) return undefined;
    return `${generation}/${newest.slice(0, 8)}:${statSync(path.join(dir, newest)).size}`;
  } catch {
    return undefined;
  }
}

/** The older of the two uploads in flight, if any. */
function uploadingSince(status: { snapshotSince: Date | undefined; walSince: Date | undefined }): Date | undefined {
  const { snapshotSince, walSince } = status;
  if (snapshotSince && walSince) return new Date(Math.min(snapshotSince.getTime(), walSince.getTime()));
  return snapshotSince ?? walSince;
}

/** Finished copies kept per database: the replica is rarely more than a few behind. */
const RECENT_COPIES = 64;

/** `end` is at or beyond `through`, in the same generation (another one's position proves nothing). */
function covers(end: string, through: string): boolean {
  const a = POSITION.exec(end);
  const b = POSITION.exec(through);
  if (!a || !b || a[1] !== b[1]) return false;
  return a[2] === b[2] ? Number(a[3]) >= Number(b[3]) : (a[2] as string) > (b[2] as string);
}

/** A litestream position, `<generation>/<index, 8 hex digits>:<offset>`. */
const POSITION = /^([0-9a-f]+)\/([0-9a-f]{8}):(\d+)$/;

/** Where a WAL segment that starts at `position` and holds `size` bytes ends. */
function segmentEnd(position: string | undefined, size: unknown): string | undefined {
  const match = position === undefined ? null : POSITION.exec(position);
  if (!match || typeof size !== 'number') return undefined;
  return `${match[1]}/${match[2]}:${Number(match[3]) + size}`;
}

/** `end` is at or beyond `target` (both positions of one generation). */
function reaches(end: string, target: string): boolean {
  return furthest(target, end) === end;
}

/** The further of two positions; a position of another generation replaces the older one. */
function furthest(current: string | undefined, next: string | undefined): string | undefined {
  if (next === undefined) return current;
  const a = current === undefined ? null : POSITION.exec(current);
  const b = POSITION.exec(next);
  if (!a || !b || a[1] !== b[1]) return next;
  const ahead = a[2] === b[2] ? Number(b[3]) >= Number(a[3]) : (b[2] as string) > (a[2] as string);
  return ahead ? next : current;
}
