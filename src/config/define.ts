// defineConfig: options → a validated, frozen LitestreamConfig, resolved once (durations in
// milliseconds, absolute paths, each database's replica location, a user's litestream.yml).
// The options are checked by the fast acceptor (accept.ts) when they have a common shape,
// and by the zod schema (schema.ts) otherwise, which then words every error.
import path from 'node:path';
import { type ConfigIssue, LitestreamConfigError } from '../errors.js';
import { consoleLogger, silentLogger } from '../logging/logger.js';
import { acceptOptions } from './accept.js';
import { type LoadedConfigFile, loadConfigFile, syncIntervalOfFile } from './config-file.js';
import { DEFAULTS } from './defaults.js';
import { formatGoDuration } from './duration.js';
import { databasePathProblem, isInside, normalizeReplicaPath } from './paths.js';
import { locationInReplica, locationsInYaml, type ReplicaLocation } from './replica-location.js';
import { optionsSchema, type ParsedOptions } from './schema.js';
import { Secret } from './secret.js';
import type {
  FileReplicaConfig,
  LeaseOptions,
  LeaseSettings,
  LitestreamConfig,
  LitestreamOptions,
  S3ReplicaConfig,
} from './types.js';

const CONFIGS = new WeakSet<LitestreamConfig>();

/** Marks `config` as one {@link isLitestreamConfig} recognizes, and returns it. @internal */
export function issued(config: LitestreamConfig): LitestreamConfig {
  CONFIGS.add(config);
  return config;
}

/** True when `value` was returned by {@link defineConfig}. */
export function isLitestreamConfig(value: unknown): value is LitestreamConfig {
  return typeof value === 'object' && value !== null && CONFIGS.has(value as LitestreamConfig);
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
  const data = acceptOptions(options) ?? parseOptions(options, names);
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

  // With a user's litestream.yml, litestream syncs as that file says: the watchdogs time by it.
  const fileSyncMs = loaded === undefined ? undefined : syncIntervalOfFile(loaded.document);
  const syncInterval =
    fileSyncMs === undefined ? data.syncInterval : { text: formatGoDuration(fileSyncMs), ms: fileSyncMs };

  const config: LitestreamConfig = Object.freeze({
    enabled: data.enabled,
    databases: Object.freeze(databases.map((db) => Object.freeze({ ...db, replicas: replicasOf(db) }))),
    replica,
    syncInterval: syncInterval.text,
    retention: data.retention.text,
    snapshotInterval: data.snapshotInterval.text,
    syncIntervalMs: syncInterval.ms,
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
    lease: leaseSettings(data.lease === false ? { mode: 'off' } : data.lease, syncInterval.ms),
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
  return issued(config);
}

/** The zod schema's parse of `options`: what {@link acceptOptions} does not take, and every error. */
function parseOptions(options: unknown, names: FieldNames): ParsedOptions {
  const parsed = optionsSchema().safeParse(options);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((issue) => ({
    field: fieldName(issue.path, names),
    message: issue.message,
  }));
  throw new LitestreamConfigError(dedupe(issues));
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
