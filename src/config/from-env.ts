import path from 'node:path';
import { LitestreamConfigError } from '../errors.js';
import { buildConfig, type FieldNames } from './define.js';
import { parseDuration } from './duration.js';
import { unknownVariables, warnUnknownVariables } from './env-typos.js';
import { assertExecutable } from './executable.js';
import type { LeaseOptions, LitestreamConfig, LitestreamOptions } from './types.js';

/**
 * The environment variables {@link configFromEnv} reads. The first six are the basic ones;
 * the rest are litestream-node additions.
 */
export const ENV = Object.freeze({
  enabled: 'LITESTREAM_ENABLED',
  bucket: 'LITESTREAM_S3_BUCKET',
  endpoint: 'LITESTREAM_S3_ENDPOINT',
  region: 'LITESTREAM_S3_REGION',
  accessKeyId: 'LITESTREAM_ACCESS_KEY_ID',
  secretAccessKey: 'LITESTREAM_SECRET_ACCESS_KEY',
  /** Comma-separated database paths. */
  databases: 'LITESTREAM_DATABASES',
  /** Key prefix inside the bucket. */
  s3Path: 'LITESTREAM_S3_PATH',
  forcePathStyle: 'LITESTREAM_S3_FORCE_PATH_STYLE',
  skipVerify: 'LITESTREAM_S3_SKIP_VERIFY',
  /** A directory to use as a file replica instead of S3. */
  fileReplica: 'LITESTREAM_FILE_REPLICA',
  syncInterval: 'LITESTREAM_SYNC_INTERVAL',
  retention: 'LITESTREAM_RETENTION',
  snapshotInterval: 'LITESTREAM_SNAPSHOT_INTERVAL',
  /** Path of the litestream executable (read by the binary resolver too). */
  binaryPath: 'LITESTREAM_BINARY_PATH',
  /** Your own litestream.yml (litestream's own variable); replaces the S3 variables. */
  configFile: 'LITESTREAM_CONFIG',
  /**
   * The replica lease: `wait` (default), `refuse`, `off` (no lease taken; a live holder's is
   * still respected), or `off-write-over-live-holder` (no lease taken, none respected).
   */
  lease: 'LITESTREAM_LEASE',
  /** How long `wait` waits for the previous instance, as a Go duration (`5m`). */
  leaseWait: 'LITESTREAM_LEASE_WAIT',
  /** How long an unrenewed lease lasts, as a Go duration (`1m`). */
  leaseTtl: 'LITESTREAM_LEASE_TTL',
  /** What to do with a database on disk that is behind its replica: `refuse` (default), `restore` or `keep-local`. */
  onStale: 'LITESTREAM_ON_STALE',
  /** How long a boot retries a replica it cannot reach before it fails, as a Go duration (`30s`). */
  restoreRetryFor: 'LITESTREAM_RESTORE_RETRY_FOR',
  /** A URL pinged while replication is healthy (healthchecks.io style). */
  heartbeatUrl: 'LITESTREAM_HEARTBEAT_URL',
  /** A URL called (POST, JSON) when replication has been unhealthy for a while, and when it recovers. */
  alertWebhookUrl: 'LITESTREAM_ALERT_WEBHOOK_URL',
  /** How long replication must be unhealthy before the webhook is called, as a Go duration (`1m`). */
  alertAfter: 'LITESTREAM_ALERT_AFTER',
});

const S3_FIELDS: FieldNames = {
  enabled: ENV.enabled,
  databases: ENV.databases,
  'databases[]': ENV.databases,
  replica: ENV.bucket,
  'replica.bucket': ENV.bucket,
  'replica.endpoint': ENV.endpoint,
  'replica.region': ENV.region,
  'replica.accessKeyId': ENV.accessKeyId,
  'replica.secretAccessKey': ENV.secretAccessKey,
  'replica.path': ENV.s3Path,
  'replica.forcePathStyle': ENV.forcePathStyle,
  'replica.skipVerify': ENV.skipVerify,
  syncInterval: ENV.syncInterval,
  retention: ENV.retention,
  snapshotInterval: ENV.snapshotInterval,
  binaryPath: ENV.binaryPath,
  configFile: ENV.configFile,
  lease: ENV.lease,
  'lease.mode': ENV.lease,
  'lease.whenHeld': ENV.lease,
  'lease.waitMs': ENV.leaseWait,
  'lease.ttlMs': ENV.leaseTtl,
  'alerts.heartbeatUrl': ENV.heartbeatUrl,
  'alerts.webhookUrl': ENV.alertWebhookUrl,
  'alerts.unhealthyAfterMs': ENV.alertAfter,
  'restore.onStale': ENV.onStale,
  'restore.retryForMs': ENV.restoreRetryFor,
};
const FILE_FIELDS: FieldNames = { ...S3_FIELDS, replica: ENV.fileReplica, 'replica.path': ENV.fileReplica };

/** An environment: `process.env` or any map of variable names to values. */
export type Env = Readonly<Record<string, string | undefined>>;

/**
 * Builds a config from the `LITESTREAM_*` environment variables:
 * `LITESTREAM_ENABLED`, `LITESTREAM_S3_BUCKET`, `LITESTREAM_S3_ENDPOINT`,
 * `LITESTREAM_S3_REGION`, `LITESTREAM_ACCESS_KEY_ID`, `LITESTREAM_SECRET_ACCESS_KEY`
 * (plus the optional ones in {@link ENV}). `overrides` win over the environment.
 *
 * Replication is on only when `LITESTREAM_ENABLED` is `true` or `1`
 * (case-insensitive); unset means off, and any other value is an error.
 *
 * @throws {@link LitestreamConfigError} naming the environment variable to fix.
 *
 * @example
 * ```ts
 * const config = configFromEnv(process.env, {
 *   databases: ['storage/production.sqlite3', 'storage/production_queue.sqlite3'],
 * });
 * ```
 */
export function configFromEnv(env: Env = process.env, overrides: Partial<LitestreamOptions> = {}): LitestreamConfig {
  const read = (name: string): string | undefined => {
    const value = env[name]?.trim();
    return value === undefined || value === '' ? undefined : value;
  };
  const problems: { field: string; message: string }[] = [];
  const bool = (name: string): boolean | undefined => {
    const value = read(name);
    if (value === undefined) return undefined;
    const parsed = parseBoolean(value);
    if (parsed === undefined)
      problems.push({ field: name, message: `${JSON.stringify(value)} is not a boolean: use true, false, 1 or 0` });
    return parsed;
  };

  const enabled = bool(ENV.enabled) ?? false;
  const configFile = overrides.configFile ?? read(ENV.configFile);
  const fileReplica = read(ENV.fileReplica);
  const bucket = read(ENV.bucket);
  // A bucket present in the environment at all (even blank) is an S3 setup, so report it as such.
  const replica: LitestreamOptions['replica'] | undefined =
    configFile !== undefined
      ? undefined // The file names its replicas; it may use the S3 variables through ${VAR}.
      : fileReplica !== undefined && bucket === undefined
        ? { type: 'file', path: fileReplica }
        : bucket !== undefined || enabled
          ? stripUndefined({
              type: 's3' as const,
              bucket: bucket ?? '',
              endpoint: read(ENV.endpoint),
              region: read(ENV.region),
              accessKeyId: read(ENV.accessKeyId),
              secretAccessKey: read(ENV.secretAccessKey),
              path: read(ENV.s3Path),
              forcePathStyle: bool(ENV.forcePathStyle),
              skipVerify: bool(ENV.skipVerify),
            })
          : undefined;
  if (configFile === undefined && fileReplica !== undefined && bucket !== undefined) {
    problems.push({
      field: ENV.fileReplica,
      message: `cannot be used together with ${ENV.bucket}: choose one replica`,
    });
  }

  const lease = leaseFromEnv(read, problems);
  const alerts = alertsFromEnv(read, problems);
  const onStale = read(ENV.onStale);
  if (onStale !== undefined && !['refuse', 'restore', 'keep-local'].includes(onStale)) {
    problems.push({
      field: ENV.onStale,
      message: `${JSON.stringify(onStale)} is not one of "refuse", "restore" or "keep-local"`,
    });
  }
  const retryForMs = durationFromEnv(read, problems, ENV.restoreRetryFor);
  const restore = stripUndefined({
    onStale: onStale === 'refuse' || onStale === 'restore' || onStale === 'keep-local' ? onStale : undefined,
    retryForMs,
  });

  const databases = read(ENV.databases)
    ?.split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');

  const options = stripUndefined({
    enabled,
    databases,
    replica: enabled || replica?.type === 'file' || bucket !== undefined ? replica : undefined,
    syncInterval: read(ENV.syncInterval),
    retention: read(ENV.retention),
    snapshotInterval: read(ENV.snapshotInterval),
    binaryPath: read(ENV.binaryPath),
    configFile,
    lease,
    alerts,
    ...overrides,
    // LITESTREAM_ON_STALE and _RESTORE_RETRY_FOR survive overrides that set other restore options.
    ...(Object.keys(restore).length === 0 ? {} : { restore: { ...restore, ...overrides.restore } }),
  });
  if (options.databases === undefined && options.configFile === undefined) {
    problems.push({
      field: ENV.databases,
      message: `is not set: list the SQLite files (comma-separated), or pass { databases: [...] } as overrides`,
    });
  }

  // Checked here so that the error names the variable, not the option it becomes.
  const binaryPath = read(ENV.binaryPath);
  if (binaryPath !== undefined && overrides.binaryPath === undefined && (overrides.enabled ?? enabled)) {
    try {
      assertExecutable(path.resolve(binaryPath), ENV.binaryPath);
    } catch (error) {
      problems.push({ field: ENV.binaryPath, message: (error as Error).message });
    }
  }

  const names = namesOf(replica?.type === 'file' ? FILE_FIELDS : S3_FIELDS, overrides);
  try {
    const config = buildConfig(options, names, env);
    if (problems.length > 0) throw new LitestreamConfigError(problems);
    warnUnknownVariables(env, Object.values(ENV), config.logger);
    return config;
  } catch (error) {
    if (error instanceof LitestreamConfigError) {
      const issues = [...problems, ...error.issues.filter((issue) => !problems.some((p) => p.field === issue.field))];
      // A misspelt variable is often why another one is missing: the error names both.
      for (const { name, didYouMean } of unknownVariables(env, Object.values(ENV))) {
        const hint = didYouMean ? `: did you mean ${didYouMean}?` : ': check the spelling';
        issues.push({ field: name, message: `is read by neither litestream-node nor Litestream${hint}` });
      }
      throw new LitestreamConfigError(issues);
    }
    throw error;
  }
}

/** The variable names of the options the environment gave: an option in `overrides` keeps its own name. */
function namesOf(names: FieldNames, overrides: Partial<LitestreamOptions>): FieldNames {
  const given = new Set(
    Object.keys(overrides).filter((key) => overrides[key as keyof LitestreamOptions] !== undefined),
  );
  // `restore` is merged with the environment's (LITESTREAM_ON_STALE), not replaced: only its own keys count.
  const overridden = (option: string) => {
    const [top = option, nested] = option.split(/[.[]/);
    if (top === 'restore' && nested !== undefined) {
      return overrides.restore?.[nested as keyof NonNullable<LitestreamOptions['restore']>] !== undefined;
    }
    return given.has(top);
  };
  return Object.fromEntries(Object.entries(names).filter(([option]) => !overridden(option)));
}

type Problems = { field: string; message: string }[];

/** The milliseconds of the Go duration in variable `name`, if set; a bad value goes to `problems`. */
function durationFromEnv(read: (name: string) => string | undefined, problems: Problems, name: string) {
  const value = read(name);
  if (value === undefined) return undefined;
  const ms = parseDuration(value);
  if (ms === undefined) {
    problems.push({ field: name, message: `${JSON.stringify(value)} is not a duration: use e.g. "90s" or "5m"` });
  }
  return ms;
}

/** The alert options the `LITESTREAM_HEARTBEAT_URL` and `LITESTREAM_ALERT_*` variables give, if any. */
function alertsFromEnv(read: (name: string) => string | undefined, problems: Problems): LitestreamOptions['alerts'] {
  const heartbeatUrl = read(ENV.heartbeatUrl);
  const webhookUrl = read(ENV.alertWebhookUrl);
  const unhealthyAfterMs = durationFromEnv(read, problems, ENV.alertAfter);
  if (heartbeatUrl === undefined && webhookUrl === undefined && unhealthyAfterMs === undefined) return undefined;
  return stripUndefined({ heartbeatUrl, webhookUrl, unhealthyAfterMs });
}

/** The lease options the `LITESTREAM_LEASE*` variables give, if any; bad values go to `problems`. */
function leaseFromEnv(read: (name: string) => string | undefined, problems: Problems): LitestreamOptions['lease'] {
  const mode = read(ENV.lease)?.toLowerCase();
  const waitMs = durationFromEnv(read, problems, ENV.leaseWait);
  const ttlMs = durationFromEnv(read, problems, ENV.leaseTtl);
  if (mode === 'off' || mode === 'off-write-over-live-holder') {
    // Nothing waits for a lease that is not taken: a wait set beside it is a mistake to name.
    if (waitMs !== undefined) {
      problems.push({
        field: ENV.leaseWait,
        message: `has no effect with ${ENV.lease}=${mode} (no lease is taken, so none is waited for): unset it`,
      });
    }
    return stripUndefined({ mode: mode as NonNullable<LeaseOptions['mode']>, ttlMs });
  }
  if (mode !== undefined && mode !== 'wait' && mode !== 'refuse') {
    problems.push({
      field: ENV.lease,
      message: `${JSON.stringify(mode)} is not one of wait, refuse, off, off-write-over-live-holder`,
    });
    return undefined;
  }
  if (mode === undefined && waitMs === undefined && ttlMs === undefined) return undefined;
  return stripUndefined({ whenHeld: mode as 'wait' | 'refuse' | undefined, waitMs, ttlMs });
}

/** `true`/`1` → true, `false`/`0` → false (case-insensitive), anything else → undefined. */
export function parseBoolean(value: string): boolean | undefined {
  switch (value.trim().toLowerCase()) {
    case 'true':
    case '1':
      return true;
    case 'false':
    case '0':
      return false;
    default:
      return undefined;
  }
}

function stripUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
