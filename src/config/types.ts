// The public shapes of the configuration: the options an app passes to defineConfig (or that
// configFromEnv builds from the environment), and the validated, frozen config every
// operation takes. Types only: importing this module loads nothing.
import type { Logger } from '../logging/logger.js';
import type { LoadedConfigFile } from './config-file.js';
import type { ReplicaLocation } from './replica-location.js';
import type { Secret } from './secret.js';

/** A database to keep in the replica. */
export interface DatabaseOptions {
  /** Path of the SQLite file; a relative path is resolved against `process.cwd()`. */
  path: string;
  /**
   * Where this database lives inside the replica (below `replica.path`).
   * Defaults to the file's name, e.g. `production.sqlite3`.
   */
  replicaPath?: string;
}

/** An S3 or S3-compatible bucket (AWS, R2, B2, Spaces, MinIO, …). */
export interface S3ReplicaOptions {
  type: 's3';
  /** Bucket name. It must exist already. */
  bucket: string;
  /** Endpoint URL for S3-compatible services, e.g. `https://s3.us-west-002.backblazeb2.com`. */
  endpoint?: string;
  /** Region. Defaults to `us-east-1`. */
  region?: string;
  /** Access key id. Omit both keys to use the AWS default credential chain. */
  accessKeyId?: string;
  /** Secret access key. Passed to litestream only through its environment. */
  secretAccessKey?: string;
  /** Key prefix inside the bucket under which every database is stored. */
  path?: string;
  /** Path-style requests. Litestream defaults to true when `endpoint` is set. */
  forcePathStyle?: boolean;
  /** Skip TLS certificate verification (self-signed MinIO only). */
  skipVerify?: boolean;
}

/** A directory replica: useful for local development, demos and tests. */
export interface FileReplicaOptions {
  type: 'file';
  /** Directory holding the replicas; a relative path is resolved against `process.cwd()`. */
  path: string;
}

/** What `ensureRestored` does when a database is missing. */
export interface RestorePolicyOptions {
  /**
   * How long to keep retrying a replica that cannot be reached (connection refused,
   * timeouts, 5xx) before failing with `ReplicaUnreachableError`. Default 30 000.
   */
  retryForMs?: number;
  /** A restore attempt that shows no progress for this long is abandoned. Default 60 000. */
  stallTimeoutMs?: number;
  /** `PRAGMA integrity_check` (`full`, default), `quick_check` (`quick`) or none (`off`). */
  integrityCheck?: 'full' | 'quick' | 'off';
  /**
   * What to do when a database already on disk is behind its replica's newest backup (a
   * persistent volume or machine that comes back with an old copy after another instance
   * wrote the replica), or has diverged from it. Checked on every boot where the file exists,
   * before anything is replicated:
   * - `refuse` (default): fail with a `StaleDatabaseError` naming both positions; nothing is
   *   replicated or changed.
   * - `restore`: move the old copy aside (`<file>.stale-<time>`, with its WAL; kept, never
   *   deleted) and restore the newest backup in its place.
   * - `keep-local`: replicate the local copy anyway (a deliberate rollback); a warning says so.
   *   The replica's newer writes stay restorable by point in time.
   */
  onStale?: 'refuse' | 'restore' | 'keep-local';
}

/** How a crashed replicator is restarted. */
export interface SupervisorOptions {
  /** First restart delay. Default 1 000. */
  initialBackoffMs?: number;
  /** Longest restart delay. Default 30 000. */
  maxBackoffMs?: number;
  /** A replicator that ran this long without crashing resets the backoff. Default 60 000. */
  resetAfterMs?: number;
  /**
   * A replica upload still unfinished this long (for a snapshot: this long after the time
   * sending the database at 1 MiB/s takes) is hung — litestream 0.3.13 sets no HTTP timeouts, so
   * a half-open connection to S3 blocks replication for good. The replicator is killed and
   * restarted, and resumes over a new connection. Each restart that gets no upload through
   * doubles this. Default 120 000.
   */
  restartStalledAfterMs?: number;
}

/**
 * One writer per replica path, across machines: the guard that makes rolling deploys safe.
 * A small lease object beside each database's replica (`<replica path>.litestream-node-lease`)
 * is taken before the restore, renewed while replicating, and released after the final sync.
 */
export interface LeaseOptions {
  /**
   * `'take'` (default): take the lease, as described above. `'off'` (also `lease: false`,
   * `LITESTREAM_LEASE=off`): take none and write none, but still read the lease object and
   * refuse to replicate while another live instance holds it (a `ReplicaLeaseError` naming
   * it), at start and every third of `ttlMs` while replicating. `'off-write-over-live-holder'`
   * (`LITESTREAM_LEASE=off-write-over-live-holder`): take none and replicate even while
   * another instance holds it, with a warning naming it — two writers fork the backup, and
   * one of them loses its writes.
   */
  mode?: 'take' | 'off' | 'off-write-over-live-holder';
  /**
   * What a booting instance does when another one holds the replica: `'wait'` (default) until
   * it releases it after its final sync, or until its lease expires when it died, for up to
   * `waitMs`, then restore what it left; `'refuse'` fails at once with a `ReplicaLeaseError`
   * naming the holder.
   */
  whenHeld?: 'wait' | 'refuse';
  /**
   * How long `'wait'` waits. Default the longer of 120 000 and twice `ttlMs`. Keep it above
   * `ttlMs`, or a holder that crashed is never waited out.
   */
  waitMs?: number;
  /**
   * A holder that has not renewed its lease for this long is gone; it renews every third of
   * it, and stops replicating when it could not renew for four fifths of it. Each renewal is
   * one PUT request per database. Default the longer of 60 000 and six sync intervals. With
   * `mode: 'off'`, the lease object is read every third of it (one GET per database).
   */
  ttlMs?: number;
}

/** {@link LeaseOptions} after validation, defaults filled in. */
export type LeaseSettings = TakenLeaseSettings | OffLeaseSettings;

/** The lease taken: `mode: 'take'`. */
export interface TakenLeaseSettings {
  readonly mode: 'take';
  readonly whenHeld: 'wait' | 'refuse';
  readonly waitMs: number;
  readonly ttlMs: number;
}

/** The lease turned off: none is taken; see {@link LeaseOptions.mode}. */
export interface OffLeaseSettings {
  readonly mode: 'off' | 'off-write-over-live-holder';
  readonly ttlMs: number;
}

/**
 * Tell a monitoring service that replication is healthy, and a webhook when it is not. The
 * Node process makes these requests itself; none ever carries a secret, and the URLs (which
 * often hold a token) are never logged: only their host is.
 */
export interface AlertOptions {
  /**
   * Pinged (an HTTP GET) every `heartbeatIntervalMs` while replication is healthy, as
   * healthchecks.io, Better Uptime or Cronitor expect: the pings stop when it is not, and the
   * service alerts after its own grace period.
   */
  heartbeatUrl?: string;
  /** Default 60 000. */
  heartbeatIntervalMs?: number;
  /**
   * Called (an HTTP POST of JSON) once replication has been unhealthy for
   * `unhealthyAfterMs`, and again when it recovers: `{ event: 'unhealthy' | 'recovered',
   * since, at, host, causes: [{ database?, cause }] }`.
   */
  webhookUrl?: string;
  /** How long replication must be unhealthy before the webhook is called. Default 60 000. */
  unhealthyAfterMs?: number;
  /** Per request (each is retried twice, with a pause, before it is given up). Default 10 000. */
  timeoutMs?: number;
}

/** Options accepted by {@link defineConfig}. */
export interface LitestreamOptions {
  /** Turn everything into a logged no-op when false. Default true. */
  enabled?: boolean;
  /**
   * The SQLite files to restore and replicate. May be omitted with `configFile`, whose
   * `dbs` are then used.
   */
  databases?: readonly (string | DatabaseOptions)[];
  /** Where the backups live. Required when enabled, unless `configFile` is given. */
  replica?: S3ReplicaOptions | FileReplicaOptions;
  /**
   * A litestream.yml you already have (e.g. `config/litestream.yml`), instead of `replica`
   * and the interval options. It is read as litestream reads it (`$VAR` expanded);
   * credentials in it are moved to litestream's environment, and logging is switched to
   * JSON so the supervisor can follow it.
   */
  configFile?: string;
  /** How often WAL changes are pushed. Go duration, default `10s`. */
  syncInterval?: string;
  /** How long snapshots and WAL are kept. Go duration, default `168h` (7 days). */
  retention?: string;
  /** How often a full snapshot is taken. Go duration, default `24h`. */
  snapshotInterval?: string;
  /** The litestream executable. Default: `LITESTREAM_BINARY_PATH`, then the bundled one. */
  binaryPath?: string;
  /** Where log lines go; `false` silences them. Default: info and above to stderr. */
  logger?: Logger | false;
  /** How long `stop()` waits for the final sync before killing litestream. Default 30 000. */
  shutdownTimeoutMs?: number;
  /** Restore policy for `ensureRestored`. */
  restore?: RestorePolicyOptions;
  /** Restart policy for the replicator. */
  supervisor?: SupervisorOptions;
  /**
   * One writer per replica path (see {@link LeaseOptions}). On by default where the replica
   * supports it (S3 with conditional writes, file replicas); `false` is `{ mode: 'off' }`:
   * no lease is taken, but a live holder's is still respected.
   */
  lease?: LeaseOptions | false;
  /** Heartbeat and webhook alerts (see {@link AlertOptions}). Off by default. */
  alerts?: AlertOptions;
}

/** {@link AlertOptions} after validation: the URLs kept as secrets. */
export interface AlertSettings {
  readonly heartbeatUrl: Secret | undefined;
  readonly heartbeatIntervalMs: number;
  readonly webhookUrl: Secret | undefined;
  readonly unhealthyAfterMs: number;
  readonly timeoutMs: number;
}

/** A database after validation: absolute path and its key in the replica. */
export interface DatabaseConfig {
  readonly path: string;
  readonly replicaPath: string;
  /**
   * Where this database's backups live, resolved once from `replica` (one) or from its entry
   * in the user's litestream.yml (each S3 or file replica, in file order; other types left
   * out): the first is the one the Node process reads. Empty when replication is disabled.
   * @internal
   */
  readonly replicas: readonly ReplicaLocation[];
}

/** A validated S3 replica; credentials are wrapped so they never print. */
export interface S3ReplicaConfig {
  readonly type: 's3';
  readonly bucket: string;
  readonly endpoint: string | undefined;
  readonly region: string;
  readonly path: string;
  readonly forcePathStyle: boolean | undefined;
  readonly skipVerify: boolean;
  readonly accessKeyId: Secret | undefined;
  readonly secretAccessKey: Secret | undefined;
}

/** A validated file replica with an absolute directory. */
export interface FileReplicaConfig {
  readonly type: 'file';
  readonly path: string;
}

/** The validated, frozen configuration every operation takes. Build it with {@link defineConfig}. */
export interface LitestreamConfig {
  readonly enabled: boolean;
  readonly databases: readonly DatabaseConfig[];
  /** Undefined only when `enabled` is false. */
  readonly replica: S3ReplicaConfig | FileReplicaConfig | undefined;
  /**
   * How often litestream syncs, as a Go duration. With a `configFile`, the longest
   * `sync-interval` of its replicas (litestream's default of 1 s where none is set): the
   * file is what litestream follows, and the library times its stall and outage checks by it.
   */
  readonly syncInterval: string;
  readonly retention: string;
  readonly snapshotInterval: string;
  /** {@link LitestreamConfig.syncInterval} in milliseconds. @internal */
  readonly syncIntervalMs: number;
  /** {@link LitestreamConfig.retention} in milliseconds. @internal */
  readonly retentionMs: number;
  /** {@link LitestreamConfig.snapshotInterval} in milliseconds. @internal */
  readonly snapshotIntervalMs: number;
  readonly binaryPath: string | undefined;
  /** The user's own litestream.yml, sanitized, when `configFile` was given. */
  readonly configFile: LoadedConfigFile | undefined;
  /** Credentials passed to litestream through its environment. */
  readonly credentials: { readonly accessKeyId: Secret; readonly secretAccessKey: Secret } | undefined;
  readonly logger: Logger;
  readonly shutdownTimeoutMs: number;
  readonly restore: Readonly<Required<RestorePolicyOptions>>;
  readonly supervisor: Readonly<Required<SupervisorOptions>>;
  /** The replica lease: taken, or off (see {@link LeaseOptions.mode}). */
  readonly lease: LeaseSettings;
  /** Heartbeat and webhook alerts; undefined when neither URL is set. */
  readonly alerts: AlertSettings | undefined;
  /**
   * The environment variable that gave each option, by option path (`lease.whenHeld` →
   * `LITESTREAM_LEASE`), when the config came from `configFromEnv`: messages name what the
   * user set. @internal
   */
  readonly settingNames?: Readonly<Record<string, string>>;
}
