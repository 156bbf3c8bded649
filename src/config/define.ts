import { statSync } from 'node:fs';
import path from 'node:path';
import { type ConfigIssue, LitestreamConfigError } from '../errors.js';
import { consoleLogger, type Logger, silentLogger } from '../logging/logger.js';
import { loadZod } from '../support/load-on-use.js';
import { type LoadedConfigFile, loadConfigFile } from './config-file.js';
import { parseDuration } from './duration.js';
import { describeLocation, locationInReplica, locationsInYaml, type ReplicaLocation } from './replica-location.js';
import { Secret } from './secret.js';

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

/** The defaults: sync every 10 s, 7 days of history, a snapshot a day. */
export const DEFAULTS = Object.freeze({
  syncInterval: '10s',
  retention: '168h',
  snapshotInterval: '24h',
  shutdownTimeoutMs: 30_000,
  region: 'us-east-1',
  restore: Object.freeze({
    retryForMs: 30_000,
    stallTimeoutMs: 60_000,
    integrityCheck: 'full' as const,
    onStale: 'refuse' as const,
  }),
  supervisor: Object.freeze({
    initialBackoffMs: 1_000,
    maxBackoffMs: 30_000,
    resetAfterMs: 60_000,
    restartStalledAfterMs: 120_000,
  }),
  lease: Object.freeze({ minTtlMs: 60_000, syncIntervalsPerTtl: 6, minWaitMs: 120_000 }),
  alerts: Object.freeze({ heartbeatIntervalMs: 60_000, unhealthyAfterMs: 60_000, timeoutMs: 10_000 }),
});

const CONFIGS = new WeakSet<LitestreamConfig>();

/** The same config limited to some of its databases (for one-database operations). @internal */
export function withDatabases(config: LitestreamConfig, paths: readonly string[]): LitestreamConfig {
  const subset: LitestreamConfig = Object.freeze({
    ...config,
    databases: Object.freeze(config.databases.filter((db) => paths.includes(db.path))),
  });
  CONFIGS.add(subset);
  return subset;
}

/**
 * The same config, refusing at once a replica another instance holds (for manual operations,
 * which must not wait for an app's shutdown). @internal
 */
export function refusingHeldReplicas(config: LitestreamConfig): LitestreamConfig {
  if (config.lease.mode !== 'take') return config;
  const refusing: LitestreamConfig = Object.freeze({
    ...config,
    lease: Object.freeze({ ...config.lease, whenHeld: 'refuse' as const }),
  });
  CONFIGS.add(refusing);
  return refusing;
}

/** The values to redact from anything litestream prints. @internal */
export function secretsOf(config: LitestreamConfig): Secret[] {
  return config.credentials ? [config.credentials.accessKeyId, config.credentials.secretAccessKey] : [];
}

/** Where a database's backup lives, for messages (never includes credentials). @internal */
export function describeReplica(config: LitestreamConfig, db: DatabaseConfig): string {
  if (config.configFile) return `the replica of ${db.path} in ${config.configFile.path}`;
  const location = db.replicas[0];
  return location ? describeLocation(location) : 'no replica (disabled)';
}

/** True when `value` was returned by {@link defineConfig}. */
export function isLitestreamConfig(value: unknown): value is LitestreamConfig {
  return typeof value === 'object' && value !== null && CONFIGS.has(value as LitestreamConfig);
}

const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/**
 * An object's error: `message` for a wrong type, and for a misspelt key the key itself —
 * a typo must not silently fall back to a default.
 */
const objectError =
  (message: string) =>
  (issue: { code: string; keys?: readonly string[] }): string =>
    issue.code === 'unrecognized_keys' && issue.keys
      ? `has unknown option${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((key) => `"${key}"`).join(', ')}: check the spelling`
      : message;

function replicaTypeError(type: unknown): string {
  const kinds = '"s3" (with bucket, region, …) or "file" (with path)';
  return type === undefined ? `type is required: ${kinds}` : `type must be ${kinds}, not ${JSON.stringify(type)}`;
}

let cachedSchema: ReturnType<typeof makeOptionsSchema> | undefined;

/** The options schema, built on first use (zod loads then, not at import). */
function optionsSchema() {
  cachedSchema ??= makeOptionsSchema();
  return cachedSchema;
}

function makeOptionsSchema() {
  const { z } = loadZod();
  const duration = (fallback: string) =>
    z
      .string({ error: 'must be a Go duration string such as "10s", "5m" or "168h"' })
      .default(fallback)
      // Parsed here, once: the config carries the text for litestream and the milliseconds for us.
      .transform((text, context) => {
        const ms = parseDuration(text);
        if (ms !== undefined) return { text, ms };
        context.addIssue({
          code: 'custom',
          input: text,
          message: `${JSON.stringify(text)} is not a positive duration: use a number with a unit, e.g. "10s", "5m" or "168h"`,
        });
        return z.NEVER;
      });

  const positiveMs = (what: string) =>
    z
      .number({ error: `must be a number of milliseconds (${what})` })
      .int({ error: 'must be a whole number of milliseconds' })
      .positive({ error: 'must be greater than 0' });

  // The value is never repeated in the message: it may hold a token.
  const httpUrl = (what: string) =>
    z
      .string({ error: `must be a URL string: ${what}` })
      .refine(isHttpUrl, { error: `must be an http:// or https:// URL: ${what}` });

  const nonEmpty = (what: string) =>
    z
      .string({ error: `must be a string: ${what}` })
      .trim()
      .min(1, { error: `must not be empty: ${what}` });

  const databaseSchema = z.union(
    [
      nonEmpty('the path of a SQLite file, e.g. "storage/production.sqlite3"'),
      z
        .object(
          {
            path: nonEmpty('the path of a SQLite file, e.g. "storage/production.sqlite3"'),
            replicaPath: nonEmpty('a key such as "production.sqlite3"').optional(),
          },
          { error: objectError('must be a path string or { path, replicaPath? }') },
        )
        .strict(),
    ],
    { error: 'must be a path string or { path, replicaPath? }' },
  );

  const s3Schema = z
    .object(
      {
        type: z.literal('s3'),
        bucket: z
          .string({ error: 'is required: set the name of an existing S3 bucket' })
          .trim()
          .min(1, { error: 'is required: set the name of an existing S3 bucket', abort: true })
          .regex(BUCKET_NAME, {
            error: 'is not a valid bucket name: use 3-63 lowercase letters, digits, dots or hyphens',
          }),
        endpoint: z
          .string({ error: 'must be a URL such as "https://s3.amazonaws.com"' })
          .trim()
          .refine(isHttpUrl, {
            error: 'must be an http(s) URL with a scheme, e.g. "https://s3.amazonaws.com" or "http://127.0.0.1:9000"',
          })
          .optional(),
        region: nonEmpty('an S3 region such as "us-east-1"').optional(),
        accessKeyId: nonEmpty('the access key id').optional(),
        secretAccessKey: nonEmpty('the secret access key').optional(),
        path: z.string({ error: 'must be a key prefix string such as "myapp"' }).optional(),
        forcePathStyle: z.boolean({ error: 'must be true or false' }).optional(),
        skipVerify: z.boolean({ error: 'must be true or false' }).optional(),
      },
      { error: objectError('must be { type: "s3", bucket, … }') },
    )
    .strict();

  const fileSchema = z
    .object(
      {
        type: z.literal('file'),
        path: nonEmpty('a directory for the replica, e.g. "/var/backups/litestream"'),
      },
      { error: objectError('must be { type: "file", path }') },
    )
    .strict();

  const replicaSchema = z.discriminatedUnion('type', [s3Schema, fileSchema], {
    error: (issue) =>
      issue.code === 'invalid_union'
        ? replicaTypeError((issue.input as { type?: unknown } | undefined)?.type)
        : 'must be { type: "s3", bucket, … } or { type: "file", path }',
  });

  const loggerSchema = z.custom<Logger | false>(
    (value) =>
      value === false ||
      (typeof value === 'object' &&
        value !== null &&
        ['debug', 'info', 'warn', 'error'].every((m) => typeof (value as Record<string, unknown>)[m] === 'function')),
    { error: 'must be a pino-compatible logger with debug/info/warn/error methods, or false to silence' },
  );

  const schema = z
    .object(
      {
        enabled: z.boolean({ error: 'must be true or false' }).default(true),
        databases: z
          .array(databaseSchema, { error: 'must be a list of SQLite file paths, e.g. ["storage/production.sqlite3"]' })
          .min(1, { error: 'is empty: list at least one SQLite file, e.g. ["storage/production.sqlite3"]' })
          .optional(),
        replica: replicaSchema.optional(),
        configFile: nonEmpty('the path of a litestream.yml').optional(),
        syncInterval: duration(DEFAULTS.syncInterval),
        retention: duration(DEFAULTS.retention),
        snapshotInterval: duration(DEFAULTS.snapshotInterval),
        binaryPath: nonEmpty('the path of a litestream executable').optional(),
        logger: loggerSchema.optional(),
        shutdownTimeoutMs: positiveMs('how long stop() waits for the final sync').default(DEFAULTS.shutdownTimeoutMs),
        restore: z
          .object(
            {
              retryForMs: z
                .number({ error: 'must be a number of milliseconds' })
                .int({ error: 'must be a whole number of milliseconds' })
                .nonnegative({ error: 'must be 0 or more' })
                .default(DEFAULTS.restore.retryForMs),
              stallTimeoutMs: positiveMs('how long a restore may show no progress').default(
                DEFAULTS.restore.stallTimeoutMs,
              ),
              integrityCheck: z
                .enum(['full', 'quick', 'off'], { error: 'must be "full", "quick" or "off"' })
                .default(DEFAULTS.restore.integrityCheck),
              onStale: z
                .enum(['refuse', 'restore', 'keep-local'], { error: 'must be "refuse", "restore" or "keep-local"' })
                .default(DEFAULTS.restore.onStale),
            },
            { error: objectError('must be an object') },
          )
          .strict()
          .default({ ...DEFAULTS.restore }),
        supervisor: z
          .object(
            {
              initialBackoffMs: positiveMs('first restart delay').default(DEFAULTS.supervisor.initialBackoffMs),
              maxBackoffMs: positiveMs('longest restart delay').default(DEFAULTS.supervisor.maxBackoffMs),
              resetAfterMs: positiveMs('stable run that resets the backoff').default(DEFAULTS.supervisor.resetAfterMs),
              restartStalledAfterMs: positiveMs('hung upload that restarts litestream').default(
                DEFAULTS.supervisor.restartStalledAfterMs,
              ),
            },
            { error: objectError('must be an object') },
          )
          .strict()
          .default({ ...DEFAULTS.supervisor }),
        lease: z
          .union(
            [
              z.literal(false),
              z
                .object(
                  {
                    mode: z
                      .enum(['take', 'off', 'off-write-over-live-holder'], {
                        error: 'must be "take", "off" or "off-write-over-live-holder"',
                      })
                      .optional(),
                    whenHeld: z.enum(['wait', 'refuse'], { error: 'must be "wait" or "refuse"' }).optional(),
                    waitMs: z
                      .number({ error: 'must be a number of milliseconds' })
                      .int({ error: 'must be a whole number of milliseconds' })
                      .nonnegative({ error: 'must be 0 or more' })
                      .optional(),
                    ttlMs: z
                      .number({ error: 'must be a number of milliseconds' })
                      .int({ error: 'must be a whole number of milliseconds' })
                      .min(2_000, { error: 'must be at least 2000: the lease is renewed every third of it' })
                      .optional(),
                  },
                  { error: objectError('must be false, or { mode?, whenHeld?, waitMs?, ttlMs? }') },
                )
                .strict()
                .superRefine((lease, context) => {
                  // A lease that is not taken is never waited for: these would be silently ignored.
                  if (lease.mode === undefined || lease.mode === 'take') return;
                  for (const field of ['whenHeld', 'waitMs'] as const) {
                    if (lease[field] === undefined) continue;
                    context.addIssue({
                      code: 'custom',
                      path: [field],
                      message: `has no effect with mode "${lease.mode}" (no lease is taken, so none is waited for): remove it, or take the lease`,
                    });
                  }
                }),
            ],
            {
              error:
                'must be false (no lease taken), or { mode?: "take" | "off" | "off-write-over-live-holder", whenHeld?: "wait" | "refuse", waitMs?, ttlMs? }',
            },
          )
          .default({}),
        alerts: z
          .object(
            {
              heartbeatUrl: httpUrl('the URL to ping while replication is healthy').optional(),
              heartbeatIntervalMs: positiveMs('how often the heartbeat is pinged').default(
                DEFAULTS.alerts.heartbeatIntervalMs,
              ),
              webhookUrl: httpUrl('the URL to call when replication is unhealthy').optional(),
              unhealthyAfterMs: positiveMs('how long replication is unhealthy before the webhook is called').default(
                DEFAULTS.alerts.unhealthyAfterMs,
              ),
              timeoutMs: positiveMs('how long one alert request may take').default(DEFAULTS.alerts.timeoutMs),
            },
            {
              error: objectError(
                'must be an object { heartbeatUrl?, heartbeatIntervalMs?, webhookUrl?, unhealthyAfterMs?, timeoutMs? }',
              ),
            },
          )
          .strict()
          .optional(),
      },
      { error: objectError('options must be an object such as { databases: [...], replica: {...} }') },
    )
    .strict();
  return schema;
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname.length > 0;
  } catch {
    return false;
  }
}

/**
 * Renames option paths in error messages, so that `configFromEnv` can report
 * `LITESTREAM_S3_BUCKET` where the option is `replica.bucket`.
 * @internal
 */
export type FieldNames = Readonly<Record<string, string>>;

function fieldName(pathParts: readonly PropertyKey[], names: FieldNames): string {
  let field = '';
  for (const part of pathParts) {
    field += typeof part === 'number' ? `[${part}]` : field === '' ? String(part) : `.${String(part)}`;
  }
  if (field === '') return 'options';
  return names[field] ?? names[field.replace(/\[\d+\]/g, '[]')] ?? field;
}

/**
 * Validates options, fills in the defaults, resolves paths against the current
 * directory, and returns a frozen {@link LitestreamConfig}.
 *
 * @throws {@link LitestreamConfigError} listing every invalid field with its fix.
 *
 * @example
 * ```ts
 * const config = defineConfig({
 *   databases: ['storage/production.sqlite3', 'storage/production_queue.sqlite3'],
 *   replica: { type: 's3', bucket: 'my-app-backups', region: 'us-east-1' },
 * });
 * ```
 */
export function defineConfig(options: LitestreamOptions): LitestreamConfig {
  return buildConfig(options, {});
}

/** @internal `defineConfig` with renamed fields, for `configFromEnv`. */
export function buildConfig(
  options: unknown,
  names: FieldNames,
  env: Readonly<Record<string, string | undefined>> = process.env,
): LitestreamConfig {
  const parsed = optionsSchema().safeParse(options);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) => ({
      field: fieldName(issue.path, names),
      message: issue.message,
    }));
    throw new LitestreamConfigError(dedupe(issues));
  }
  const data = parsed.data;
  const issues: ConfigIssue[] = [];
  const field = (...parts: PropertyKey[]) => fieldName(parts, names);

  let loaded: LoadedConfigFile | undefined;
  if (data.configFile !== undefined && data.enabled) {
    const result = loadConfigFile(path.resolve(data.configFile), field('configFile'), env);
    issues.push(...result.issues);
    loaded = result.value;
    if (data.replica !== undefined) {
      issues.push({
        field: field('replica'),
        message: 'cannot be combined with configFile: the replicas come from that file; remove one of them',
      });
    }
  }
  const entries = data.databases ?? loaded?.databases ?? [];
  if (data.databases === undefined && loaded === undefined && !issues.some((i) => i.field === field('configFile'))) {
    issues.push({
      field: field('databases'),
      message: 'must be a list of SQLite file paths, e.g. ["storage/production.sqlite3"]',
    });
  }

  const databases = entries.map((entry, index) => {
    const given = typeof entry === 'string' ? { path: entry } : entry;
    const absolute = path.resolve(given.path);
    const where = typeof entry === 'string' ? field('databases', index) : field('databases', index, 'path');
    const problem = databasePathProblem(absolute);
    if (problem) issues.push({ field: where, message: problem });
    const replicaPath = normalizeReplicaPath(given.replicaPath ?? path.basename(absolute));
    if (replicaPath === undefined) {
      issues.push({
        field: field('databases', index, 'replicaPath'),
        message: 'must be a relative key without "..", e.g. "production.sqlite3"',
      });
    }
    if (loaded && data.databases !== undefined && !loaded.databases.includes(absolute)) {
      issues.push({ field: where, message: `${absolute} is not in ${loaded.path}: add it there, or remove it here` });
    }
    return { path: absolute, replicaPath: replicaPath ?? '' };
  });

  const seenPaths = new Map<string, number>();
  const seenKeys = new Map<string, number>();
  databases.forEach((db, index) => {
    const samePath = seenPaths.get(db.path);
    if (samePath !== undefined) {
      issues.push({
        field: field('databases', index),
        message: `duplicates databases[${samePath}] (${db.path}): list each database once — two replicators on one file would corrupt its backup`,
      });
    } else {
      seenPaths.set(db.path, index);
      const sameKey = seenKeys.get(db.replicaPath);
      if (sameKey !== undefined && db.replicaPath !== '') {
        issues.push({
          field: field('databases', index, 'replicaPath'),
          message: `"${db.replicaPath}" is also the replica path of databases[${sameKey}]: give one of them a distinct replicaPath`,
        });
      } else {
        seenKeys.set(db.replicaPath, index);
      }
    }
  });

  if (data.enabled && data.replica === undefined && data.configFile === undefined) {
    issues.push({
      field: field('replica', 'bucket'),
      message:
        'is required when replication is enabled: set the name of an existing S3 bucket (or use a { type: "file" } replica)',
    });
  }

  let replica: S3ReplicaConfig | FileReplicaConfig | undefined;
  if (data.replica?.type === 's3') {
    const s3 = data.replica;
    if ((s3.accessKeyId === undefined) !== (s3.secretAccessKey === undefined)) {
      const missing = s3.accessKeyId === undefined ? 'accessKeyId' : 'secretAccessKey';
      issues.push({
        field: field('replica', missing),
        message: 'is required when the other key is set: give both keys, or neither to use the AWS default credentials',
      });
    }
    const prefix = normalizeReplicaPath(s3.path ?? '', true);
    if (prefix === undefined) {
      issues.push({ field: field('replica', 'path'), message: 'must be a key prefix without "..", e.g. "myapp"' });
    }
    replica = Object.freeze({
      type: 's3',
      bucket: s3.bucket,
      endpoint: s3.endpoint,
      region: s3.region ?? DEFAULTS.region,
      path: prefix ?? '',
      forcePathStyle: s3.forcePathStyle,
      skipVerify: s3.skipVerify ?? false,
      accessKeyId: s3.accessKeyId === undefined ? undefined : new Secret(s3.accessKeyId),
      secretAccessKey: s3.secretAccessKey === undefined ? undefined : new Secret(s3.secretAccessKey),
    });
  } else if (data.replica?.type === 'file') {
    const dir = path.resolve(data.replica.path);
    if (databases.some((db) => isInside(dir, db.path))) {
      issues.push({
        field: field('replica', 'path'),
        message: `${dir} holds a database: put the replica in a directory of its own`,
      });
    }
    replica = Object.freeze({ type: 'file', path: dir });
  }

  if (issues.length > 0) throw new LitestreamConfigError(issues);

  const credentials =
    replica?.type === 's3' && replica.accessKeyId && replica.secretAccessKey
      ? Object.freeze({ accessKeyId: replica.accessKeyId, secretAccessKey: replica.secretAccessKey })
      : loaded?.credentials;
  const replicasOf = (db: { path: string; replicaPath: string }): readonly ReplicaLocation[] => {
    if (loaded) {
      const entry = loaded.document.dbs.find((candidate) => candidate.path === db.path);
      return Object.freeze(entry ? locationsInYaml(entry, credentials) : []);
    }
    return Object.freeze(replica ? [locationInReplica(replica, db.replicaPath, credentials)] : []);
  };

  const config: LitestreamConfig = Object.freeze({
    enabled: data.enabled,
    databases: Object.freeze(databases.map((db) => Object.freeze({ ...db, replicas: replicasOf(db) }))),
    replica,
    syncInterval: data.syncInterval.text,
    retention: data.retention.text,
    snapshotInterval: data.snapshotInterval.text,
    syncIntervalMs: data.syncInterval.ms,
    retentionMs: data.retention.ms,
    snapshotIntervalMs: data.snapshotInterval.ms,
    binaryPath: data.binaryPath === undefined ? undefined : path.resolve(data.binaryPath),
    configFile: loaded,
    credentials,
    logger: data.logger === false ? silentLogger : (data.logger ?? consoleLogger),
    settingNames: Object.freeze({ ...names }),
    shutdownTimeoutMs: data.shutdownTimeoutMs,
    restore: Object.freeze(data.restore),
    supervisor: Object.freeze(data.supervisor),
    lease: leaseSettings(data.lease === false ? { mode: 'off' } : data.lease, data.syncInterval.ms),
    alerts:
      data.alerts && (data.alerts.heartbeatUrl || data.alerts.webhookUrl)
        ? Object.freeze({
            heartbeatUrl: data.alerts.heartbeatUrl === undefined ? undefined : new Secret(data.alerts.heartbeatUrl),
            heartbeatIntervalMs: data.alerts.heartbeatIntervalMs,
            webhookUrl: data.alerts.webhookUrl === undefined ? undefined : new Secret(data.alerts.webhookUrl),
            unhealthyAfterMs: data.alerts.unhealthyAfterMs,
            timeoutMs: data.alerts.timeoutMs,
          })
        : undefined,
  });
  CONFIGS.add(config);
  return config;
}

/** The lease's defaults, from the sync interval: a ttl of six syncs (a minute at least). */
function leaseSettings(given: LeaseOptions, syncIntervalMs: number): LeaseSettings {
  const { minTtlMs, syncIntervalsPerTtl, minWaitMs } = DEFAULTS.lease;
  const ttlMs = given.ttlMs ?? Math.max(minTtlMs, syncIntervalsPerTtl * syncIntervalMs);
  const mode = given.mode ?? 'take';
  if (mode !== 'take') return Object.freeze({ mode, ttlMs });
  return Object.freeze({
    mode,
    whenHeld: given.whenHeld ?? 'wait',
    ttlMs,
    waitMs: given.waitMs ?? Math.max(minWaitMs, 2 * ttlMs),
  });
}

function dedupe(issues: ConfigIssue[]): ConfigIssue[] {
  const seen = new Set<string>();
  return issues.filter((issue) => {
    const key = `${issue.field}\0${issue.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function statOrUndefined(file: string) {
  try {
    return statSync(file, { throwIfNoEntry: false });
  } catch {
    // ENOTDIR and friends: something on the way is not a directory; the parent check says so.
    return undefined;
  }
}

function databasePathProblem(absolute: string): string | undefined {
  const parentDir = path.dirname(absolute);
  const stat = statOrUndefined(absolute);
  if (stat?.isDirectory()) return `${absolute} is a directory: give the path of the SQLite file inside it`;
  if (stat && !stat.isFile()) return `${absolute} is not a regular file`;
  let ancestor = parentDir;
  for (;;) {
    const parent = statOrUndefined(ancestor);
    if (parent && !parent.isDirectory()) return `${ancestor} is a file, not a directory: fix the database path`;
    if (parent || path.dirname(ancestor) === ancestor) return undefined;
    ancestor = path.dirname(ancestor);
  }
}

function normalizeReplicaPath(key: string, allowEmpty = false): string | undefined {
  const trimmed = key.trim().replace(/^\/+|\/+$/g, '');
  if (trimmed === '') return allowEmpty ? '' : undefined;
  const normalized = path.posix.normalize(trimmed);
  if (normalized === '..' || normalized.startsWith('../..') || normalized.split('/').includes('..')) return undefined;
  return normalized;
}

function isInside(dir: string, file: string): boolean {
  const relative = path.relative(dir, file);
  return relative !== '' && !relative.startsWith('..') && !path.isAbsolute(relative);
}
