/**
 * The one interface between litestream-node and a Litestream release line. Everything that
 * knows a version's YAML, flags, output, log lines and quirks lives behind it, in
 * `engine/v0_3/` or `engine/v0_5/`; nothing else branches on versions.
 * @internal
 */

import type { ReplicaLocation } from '../config/replica-location.js';
import type { DatabaseConfig, LitestreamConfig } from '../config/types.js';
import type { LitestreamLogLine } from '../process/log-lines.js';
import type { CommandResult } from '../process/run-command.js';
import type { LitestreamBinary, LitestreamFamily } from './binary.js';
import type { GenerationRow, LtxRow, SnapshotRow, WalRow } from './listing-rows.js';
import type { GenerationSpan } from './replica-formats.js';

/** The listings one release line has and the other has not, and the rows each gives. */
export interface VersionedListings {
  generations: GenerationRow;
  snapshots: SnapshotRow;
  wal: WalRow;
  ltx: LtxRow;
}

/** The name of a listing one release line alone has. */
export type VersionedListing = keyof VersionedListings;

/** A listing's name as a message shows it: `ltx()` to the API's users, `"litestream-node ltx"` to the CLI's. */
export type ListingNamer = (listing: VersionedListing | 'backups') => string;

/** Runs one listing of `db`'s replica. */
export type ListingRunner<K extends VersionedListing> = (
  config: LitestreamConfig,
  runtime: Runtime,
  db: DatabaseConfig,
  options: { signal?: AbortSignal | undefined },
) => Promise<VersionedListings[K][]>;

/** The listings of one release line, and what does the job of the other line's. */
export interface EngineListings {
  /** The listings this line has. */
  readonly own: { readonly [K in VersionedListing]?: ListingRunner<K> };
  /** For a listing of the other line: what to run on this one instead, named by `name`. */
  instead(listing: VersionedListing, name: ListingNamer): string;
}

/** Replication state of one database, as read from litestream's log. */
export interface DatabaseStatus {
  /** Absolute path of the database. */
  readonly path: string;
  /** Litestream has opened the database (a stop now ends with a final sync). */
  readonly initialized: boolean;
  /** The replica has caught up with the database at least once since start. */
  readonly synced: boolean;
  /** Litestream 0.3: the current generation, once known. */
  readonly generation: string | undefined;
  /** Litestream 0.5: the last transaction id known to be in the replica. */
  readonly txid: number | undefined;
  /**
   * Every commit made before this time is in the replica: it is when litestream began
   * reading the WAL that the replica has since caught up with (by litestream's clock, which
   * is this machine's). A write acknowledged before this time is safe; one acknowledged
   * after it may not be in the replica yet, though litestream has said it caught up.
   * Litestream 0.5 reads every second, so an idle database's time keeps moving; 0.3 says
   * nothing about a read that found nothing new, so an idle database keeps the time of the
   * read that carried its last write.
   */
  readonly lastSyncAt: Date | undefined;
  /** The last replication error, cleared by the next successful sync. */
  readonly lastError: { readonly message: string; readonly at: Date } | undefined;
  /**
   * When the oldest replica upload now in flight began; undefined when none is. One that
   * runs far longer than its size explains means the replica has stalled: S3 accepts
   * connections but does not answer.
   */
  readonly uploadingSince: Date | undefined;
}

/** What a log line meant for a database. */
export type SyncEvent =
  | {
      kind: 'synced';
      db: string;
      generation: string | undefined;
      txid: number | undefined;
      position: string | undefined;
    }
  | { kind: 'error'; db: string; message: string }
  | { kind: 'initialized'; db: string };

/** Follows one litestream process family's log, per database. */
export interface ReplicationTracker {
  /** Cheap pre-filter on the raw line: true for high-volume lines that carry nothing used. */
  ignores(raw: string): boolean;
  /** Applies one log line; returns what it meant, if anything. */
  apply(line: LitestreamLogLine, now?: Date): SyncEvent | undefined;
  /** True for log lines that are routine noise despite their level. */
  isBenign(line: LitestreamLogLine): boolean;
  /** A new litestream process starts from scratch: it must open every database again. */
  restarted(): void;
  /** Litestream has said it is shutting down (it received a signal). */
  readonly isShuttingDown: boolean;
  /** The final sync of `path` is known to have reached the replica, from the log alone. */
  finalSyncLanded(path: string): boolean;
  /** An upload of `path` began and never ended (litestream 0.3.13 hangs on one at shutdown). */
  hasOpenUpload(path: string): boolean;
  /** Every database has been opened by the current process (or may be skipped). */
  allInitialized(skip?: (path: string) => boolean): boolean;
  /** Every database has caught up at least once (ever, or since the current process started). */
  allSynced(thisRun?: boolean, skip?: (path: string) => boolean): boolean;
  /** The databases with an upload in flight for at least `allowedMs(path, kind)`. */
  stalled(allowedMs: (path: string, kind: 'snapshot' | 'wal') => number, now?: number): string[];
  /** Some replica write is under way. */
  writing(): boolean;
  /** A frozen snapshot of every database's status. */
  snapshot(): DatabaseStatus[];
  /**
   * A time before which every commit to `path` is known to be in the replica (its
   * `lastSyncAt`, or later where the line can tell that the replica holds all the database
   * had at a later moment); undefined when none is known.
   */
  durableSince(path: string): Date | undefined;
  /** Where the replica of `path` ends, in the release line's terms (0.3: `generation/index:offset`), when the log says. */
  replicaPosition(path: string): string | undefined;
}

/** What to restore: the latest state, or a point in time or position. */
export interface RestoreTarget {
  readonly timestamp?: Date;
  /** Litestream 0.3. */
  readonly generation?: string;
  /** Litestream 0.3, with `generation`. */
  readonly index?: number;
  /** Litestream 0.5. */
  readonly txid?: number;
}

/** What a finished restore command said it restored. */
export interface RestoredPosition {
  /** Litestream 0.3: the generation restored from. */
  readonly generation: string | undefined;
  /** Litestream 0.5: the transaction id restored up to. */
  readonly txid: number | undefined;
}

/** How an engine restores. */
export interface RestoreDialect {
  /** Flags that choose what to restore (none for the latest state). */
  targetFlags(target: RestoreTarget): string[];
  /** The file whose growth shows a restore into `output` is progressing. */
  progressFile(output: string): string;
  /** Every file litestream may leave beside `output` (removed after every attempt). */
  tempFiles(output: string): string[];
  /** What the command restored, from its output. */
  restoredPosition(result: CommandResult): RestoredPosition;
  /** True when the output says the replica holds no (matching) backup. */
  saysNoBackup(result: CommandResult, errorText: string): boolean;
  /**
   * Runs beside a restore of the latest state; resolves to the target to restore instead
   * when litestream's own choice is known to be wrong (0.3's generation ties). `listed` is
   * the replica's generations as Node listed them, when it could (else it asks litestream).
   */
  checkLatestChoice?(
    config: LitestreamConfig,
    runtime: Runtime,
    db: DatabaseConfig,
    signal: AbortSignal,
    listed: Promise<readonly GenerationSpan[] | undefined>,
  ): Promise<(restored: RestoredPosition) => RestoreTarget | undefined>;
  /**
   * After litestream restored the latest state without complaint: why the replica's history
   * it read has a gap litestream does not check for (0.3: a WAL segment missing from the
   * middle of a WAL index), or undefined. Runs beside the integrity check.
   */
  findGap?(db: DatabaseConfig, restored: RestoredPosition, signal: AbortSignal): Promise<string | undefined>;
  /**
   * After litestream failed to restore `target` on a damaged backup or an object that ended
   * early (`detail`, its error): the objects of the replica it read that are damaged, each
   * `<key>: <what is wrong>`, checked from Node. Empty when none is found, or when Node
   * cannot read the replica.
   */
  findDamaged(
    db: DatabaseConfig,
    target: RestoreTarget,
    detail: string,
    signal: AbortSignal | undefined,
  ): Promise<string[]>;
}

/** A point-in-time restore as asked for, its values parsed (not yet checked against the replica). */
export interface PointInTimeRequest {
  readonly timestamp: Date | undefined;
  readonly generation: string | undefined;
  readonly index: number | undefined;
  readonly txid: number | undefined;
}

/**
 * How messages name the options of a point-in-time restore: the API's keys, or the CLI's
 * flags, so that each caller is told what to change in its own words.
 */
export interface RestoreNames {
  readonly output: string;
  readonly timestamp: string;
  readonly generation: string;
  readonly index: string;
  readonly txid: string;
  /** How to list what the replica holds, per release line. */
  readonly listing: { readonly '0.3': string; readonly '0.5': string };
}

/** The newest backup of a database in its replica. */
export interface NewestBackup {
  /** When the replica last received data. */
  readonly at: Date;
  /** Litestream 0.3: its generation. */
  readonly generation: string | undefined;
  /** Litestream 0.5: the last transaction id in the replica. */
  readonly txid: number | undefined;
  /** Litestream 0.3: how far the replica is behind the local database, as litestream computes it. */
  readonly lagMs: number | undefined;
}

/** One point the replica can restore to, on either Litestream version. */
export interface BackupRow {
  /** When it reached the replica (whole seconds, as the replica stamps it). */
  readonly createdAt: Date;
  /** A full copy of the database, or changes on top of an earlier one. */
  readonly kind: 'snapshot' | 'changes';
  /** Bytes in the replica (compressed). */
  readonly size: number;
  /** Litestream 0.3: its generation; with `index`, pass both to `restore()` to restore up to it. */
  readonly generation?: string;
  /** Litestream 0.3: its WAL index (snapshots: the index they start at). */
  readonly index?: number;
  /** Litestream 0.5: the last transaction it holds; pass it to `restore()` as `txid`. */
  readonly txid?: number;
}

/**
 * The replica state a database copy is known to hold (recorded by litestream-node after a
 * restore, or when a boot found the copy current): what a copy without litestream's own
 * record is compared by.
 */
export type LineageMark =
  /** Litestream 0.3: a generation. */
  | { readonly generation: string }
  /** Litestream 0.5: a transaction id, and the database checksum after it when known (hex). */
  | { readonly txid: number; readonly checksum?: string | undefined }
  /** The replica held no backup: the copy began as a new database. */
  | { readonly empty: true };

/** Whether a database already on disk may be replicated over its replica's newest backup. */
export type LineageVerdict =
  | {
      readonly fits: true;
      /** Why, for the log. */
      readonly why: string;
      /** What the replica's newest backup is, to record beside the copy (undefined: nothing to record). */
      readonly mark: LineageMark | undefined;
    }
  | {
      readonly fits: false;
      /**
       * `behind`: the replica holds writes this copy lacks. `diverged`: each holds writes the
       * other lacks (two histories from one point). `unknown`: this copy has no record to
       * compare, and the replica has a backup.
       */
      readonly kind: 'behind' | 'diverged' | 'unknown';
      /** This copy's position, in the release line's terms. */
      readonly local: string;
      /** The replica's newest backup, in the release line's terms. */
      readonly replica: string;
      /** Why it does not fit, one sentence. */
      readonly why: string;
    };

/** How a release line compares a database on disk with its replica. */
export interface LineageDialect {
  /**
   * Compares litestream's local record of `database` (its meta directory), or `marker` when
   * there is none, with the newest backup in `location`. Reads the replica from Node: one
   * listing, plus (0.5) the end of one object. Throws when the replica cannot be read.
   */
  compare(
    database: string,
    location: ReplicaLocation,
    marker: LineageMark | undefined,
    options: { signal?: AbortSignal | undefined },
  ): Promise<LineageVerdict>;
  /** What a restore of `position` leaves the copy holding. */
  markOf(position: RestoredPosition): LineageMark | undefined;
}

/** Everything one Litestream release line needs. */
export interface Engine {
  readonly family: LitestreamFamily;
  /**
   * The litestream.yml for `config`; `standIns` maps database paths to stand-in files;
   * `control.socketPath` enables the control socket there (a line that has one).
   */
  renderYaml(
    config: LitestreamConfig,
    standIns?: ReadonlyMap<string, string>,
    control?: { readonly socketPath: string },
  ): string;
  /**
   * True when `version` answers `POST /sync` with `wait` on its control socket (litestream
   * 0.5.9 and later): `Replication#sync()` asks it instead of waiting for the log.
   */
  syncsOnRequest(version: string): boolean;
  /**
   * Changes the child's environment needs for this release line; returns a sentence for
   * the log when it changed something the user set.
   */
  adaptEnv(env: NodeJS.ProcessEnv): string | undefined;
  readonly restore: RestoreDialect;
  /** How it tells a database on disk that fell behind its replica (see {@link LineageDialect}). */
  readonly lineage: LineageDialect;
  /**
   * The replica formats this release line cannot read, though another supported one wrote
   * them: a restore must not take their absence for "no backup".
   */
  readonly unreadableFormats: readonly LitestreamFamily[];
  /**
   * Checks a point-in-time request against what the replica holds and turns it into what
   * to restore; throws a `LitestreamError` naming the bad option, and a
   * `LitestreamVersionError` for an option of the other release line.
   */
  planTarget(
    config: LitestreamConfig,
    runtime: Runtime,
    db: DatabaseConfig,
    request: PointInTimeRequest,
    names: RestoreNames,
  ): Promise<RestoreTarget>;
  /** The databases litestream would replicate with this config, and their replicas' names. */
  listDatabases(
    config: LitestreamConfig,
    runtime: Runtime,
    options: { signal?: AbortSignal | undefined },
  ): Promise<{ path: string; replicas: string[] }[]>;
  /** The listings this line alone has. */
  readonly listings: EngineListings;
  /** Every point the replica of `db` can restore to, oldest first. Throws when it cannot be read. */
  listBackups(
    config: LitestreamConfig,
    runtime: Runtime,
    db: DatabaseConfig,
    options: { signal?: AbortSignal | undefined },
  ): Promise<BackupRow[]>;
  /** The newest backup of `db`, or undefined when the replica holds none. Throws when it cannot be read. */
  newestBackup(config: LitestreamConfig, runtime: Runtime, db: DatabaseConfig): Promise<NewestBackup | undefined>;
  createTracker(paths: readonly string[]): ReplicationTracker;
  /** Why these databases cannot be replicated together by this release line, if they cannot. */
  replicationProblem(paths: readonly string[]): string | undefined;
  /**
   * A clean exit that says nothing about the final sync: litestream 0.5 exits 0 from SIGTERM
   * even when its final sync never reached the replica, so only the log can tell.
   */
  readonly exitCodeProvesFinalSync: boolean;
  /**
   * The log alone can prove that every commit before a moment is in the replica (see
   * `ReplicationTracker.durableSince`): `sync()` may wait for it where there is no control socket.
   */
  readonly logProvesDurability: boolean;
  /**
   * A litestream run again to finish a failed final sync must catch up by itself before it
   * is signalled (0.3: a SIGTERM during its first sync can hang it); otherwise its own
   * shutdown sync does the work as soon as it has opened the databases (0.5).
   */
  readonly finalSyncRetryWaitsForCatchUp: boolean;
  /**
   * Run again on a database it was replicating (after a crash, a pause for the replica lease
   * or a failed final sync), it can skip commits that the app made and checkpointed while it
   * was not running, so the WAL must be truncated before it starts: its next sync is then a
   * full snapshot. Litestream 0.5.18 takes a WAL restarted meanwhile, whose old frames are
   * still in the file past the new ones, for a checkpoint of only what it had read, and goes
   * on from the new WAL's start: the replica then restores with a hole.
   */
  readonly resumeNeedsTruncatedWal: boolean;
  /** How its shutdown misbehaves, which `stop()` works around. */
  readonly shutdown: {
    /** A SIGTERM while an upload is in flight can hang it (0.3.13): let uploads finish first. */
    readonly hangsOnSignalDuringUpload: boolean;
    /** It logs nothing while it retries a slow replica (0.5), so silence is not a hang. */
    readonly silentWhileRetrying: boolean;
  };
}

/** The executable a config runs and the engine that speaks to it. */
export interface Runtime {
  readonly engine: Engine;
  /** The executable's path. */
  readonly binary: string;
  /** The executable's version and release line (known before any command runs). */
  verified(): Promise<LitestreamBinary>;
  /**
   * After a command failed: runs `litestream version` (once) if it has not run, and rejects
   * with a `LitestreamBinaryError` when the executable itself is what is broken.
   */
  diagnose(): Promise<void>;
}
