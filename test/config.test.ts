import path from 'node:path';
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { withDatabases } from '../src/config/derived.js';
import { formatGoDuration, parseDuration, parseGoDuration } from '../src/config/duration.js';
import {
  configFromEnv,
  DEFAULTS,
  defineConfig,
  type LitestreamConfigError,
  type LitestreamOptions,
} from '../src/index.js';
import { REJECTED_ENVS, REJECTED_OPTIONS, SEED_ENV, s3 } from './support/config-cases.js';
import { tempDir } from './support/fixtures.js';
import { engine } from './support/litestream-version.js';

function configError(run: () => unknown): LitestreamConfigError {
  try {
    run();
  } catch (error) {
    expect((error as Error).name).toBe('LitestreamConfigError');
    return error as LitestreamConfigError;
  }
  throw new Error('expected a LitestreamConfigError');
}

describe('defineConfig', () => {
  it("fills in the seed's defaults and resolves paths against the cwd", () => {
    const config = defineConfig({
      databases: ['storage/production.sqlite3', 'storage/production_queue.sqlite3'],
      replica: s3,
    });
    expect(config.enabled).toBe(true);
    expect(config.syncInterval).toBe('10s');
    expect(config.retention).toBe('168h');
    expect(config.snapshotInterval).toBe('24h');
    expect(config.shutdownTimeoutMs).toBe(DEFAULTS.shutdownTimeoutMs);
    // Resolved once, for everything downstream: the intervals in milliseconds, and where
    // each database's backup lives.
    expect([config.syncIntervalMs, config.retentionMs, config.snapshotIntervalMs]).toEqual([
      10_000,
      168 * 3_600_000,
      24 * 3_600_000,
    ]);
    const inBucket = (prefix: string) => ({
      type: 's3',
      bucket: 'my-bucket',
      prefix,
      endpoint: undefined,
      region: 'us-east-1',
      forcePathStyle: undefined,
      skipVerify: false,
      credentials: undefined,
    });
    expect(config.databases).toEqual([
      {
        path: path.resolve('storage/production.sqlite3'),
        replicaPath: 'production.sqlite3',
        replicas: [inBucket('production.sqlite3')],
      },
      {
        path: path.resolve('storage/production_queue.sqlite3'),
        replicaPath: 'production_queue.sqlite3',
        replicas: [inBucket('production_queue.sqlite3')],
      },
    ]);
    expect(config.replica).toMatchObject({ type: 's3', bucket: 'my-bucket', region: 'us-east-1', path: '' });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.databases[0])).toBe(true);
    expect(Object.isFrozen(config.databases[0]?.replicas[0])).toBe(true);
  });

  it("resolves each database's replica location under the replica's path, and keeps them in a subset", () => {
    const config = defineConfig({
      databases: ['storage/a.sqlite3', { path: 'storage/b.sqlite3', replicaPath: 'queues/b' }],
      replica: {
        ...s3,
        path: '/apps/shop/',
        endpoint: 'http://127.0.0.1:9000',
        accessKeyId: 'id',
        secretAccessKey: 'key',
      },
      syncInterval: '1m30s',
    });
    expect(config.syncIntervalMs).toBe(90_000);
    expect(config.databases.map((db) => db.replicas.map((r) => r.type === 's3' && r.prefix))).toEqual([
      ['apps/shop/a.sqlite3'],
      ['apps/shop/queues/b'],
    ]);
    const [a, b] = config.databases;
    expect(a?.replicas[0]).toMatchObject({ endpoint: 'http://127.0.0.1:9000', credentials: config.credentials });
    const subset = withDatabases(config, [b?.path as string]);
    expect(subset.databases).toEqual([b]);
    expect(subset.syncIntervalMs).toBe(90_000);

    const files = defineConfig({ databases: ['storage/a.sqlite3'], replica: { type: 'file', path: 'backups' } });
    expect(files.databases[0]?.replicas).toEqual([{ type: 'file', directory: path.resolve('backups', 'a.sqlite3') }]);
  });

  it('never prints credentials, however the config is logged', () => {
    const secret = 'super-secret-value-123';
    const config = defineConfig({
      databases: ['a.db'],
      replica: { ...s3, accessKeyId: 'AKIAEXAMPLE', secretAccessKey: secret },
    });
    expect(JSON.stringify(config)).not.toContain(secret);
    expect(inspect(config, { depth: 10 })).not.toContain(secret);
    expect(String(config.replica?.type === 's3' && config.replica.secretAccessKey)).not.toContain(secret);
    expect(engine.renderYaml(config)).not.toContain(secret);
    expect(engine.renderYaml(config)).not.toContain('AKIAEXAMPLE');
  });

  const cases = REJECTED_OPTIONS.map(
    ([name, options, field, message]) =>
      [name, () => defineConfig(options(tempDir) as LitestreamOptions), field, message] as const,
  );

  it.each(cases)('rejects %s, naming %s', (_name, run, field, message) => {
    const error = configError(run);
    const issue = error.issues.find((candidate) => candidate.field === field);
    expect(issue, `issues: ${JSON.stringify(error.issues)}`).toBeDefined();
    expect(issue?.message).toMatch(message);
    expect(error.message).toContain(field);
  });

  it('lists every bad field at once', () => {
    const error = configError(() =>
      defineConfig({ databases: [], replica: { ...s3, bucket: '' }, syncInterval: 'soon', retention: '7d' }),
    );
    expect(error.issues.map((issue) => issue.field).sort()).toEqual(
      ['databases', 'replica.bucket', 'retention', 'syncInterval'].sort(),
    );
  });

  it('needs no replica when disabled', () => {
    const config = defineConfig({ enabled: false, databases: ['a.db'] });
    expect(config.enabled).toBe(false);
    expect(config.replica).toBeUndefined();
  });
});

describe('configFromEnv', () => {
  const env = SEED_ENV;
  const databases = ['storage/production.sqlite3', 'storage/production_queue.sqlite3'];

  it("reads the seed's six variables", () => {
    const config = configFromEnv(env, { databases });
    expect(config.enabled).toBe(true);
    expect(config.replica).toMatchObject({
      type: 's3',
      bucket: 'your-litestream-bucket',
      endpoint: 'https://s3.amazonaws.com',
      region: 'us-east-1',
    });
    const replica = config.replica?.type === 's3' ? config.replica : undefined;
    expect(replica?.accessKeyId?.reveal()).toBe('your-access-key');
    expect(replica?.secretAccessKey?.reveal()).toBe('your-secret-key');
    expect(config.databases.map((db) => db.replicaPath)).toEqual(['production.sqlite3', 'production_queue.sqlite3']);
  });

  it.each([
    ['true', true],
    ['TRUE', true],
    ['1', true],
    ['false', false],
    ['False', false],
    ['0', false],
  ])('accepts LITESTREAM_ENABLED=%s', (value, enabled) => {
    expect(configFromEnv({ ...env, LITESTREAM_ENABLED: value }, { databases }).enabled).toBe(enabled);
  });

  it('is disabled when LITESTREAM_ENABLED is unset, as in the seed', () => {
    expect(configFromEnv({}, { databases }).enabled).toBe(false);
  });

  it.each(REJECTED_ENVS)('rejects %s, naming the variable', (_name, values, field, message) => {
    const error = configError(() => configFromEnv(values, { databases }));
    const issue = error.issues.find((candidate) => candidate.field === field);
    expect(issue, `issues: ${JSON.stringify(error.issues)}`).toBeDefined();
    expect(issue?.message).toMatch(message);
  });

  it('reads the restore policy variables, and keeps them when overrides set other restore options', () => {
    const values = { ...env, LITESTREAM_ON_STALE: 'restore', LITESTREAM_RESTORE_RETRY_FOR: '5s' };
    expect(configFromEnv(values, { databases }).restore).toMatchObject({ onStale: 'restore', retryForMs: 5_000 });
    const merged = configFromEnv(values, { databases, restore: { stallTimeoutMs: 1_000 } }).restore;
    expect(merged).toMatchObject({ onStale: 'restore', retryForMs: 5_000, stallTimeoutMs: 1_000 });
    // An override of the same option wins.
    expect(configFromEnv(values, { databases, restore: { retryForMs: 7_000 } }).restore.retryForMs).toBe(7_000);
  });

  it('asks for the databases when neither LITESTREAM_DATABASES nor overrides give them', () => {
    const error = configError(() => configFromEnv(env));
    expect(error.issues.map((issue) => issue.field)).toContain('LITESTREAM_DATABASES');
  });

  it('reads LITESTREAM_DATABASES and the optional variables; overrides win', () => {
    const config = configFromEnv(
      {
        ...env,
        LITESTREAM_DATABASES: 'storage/a.db, storage/b.db',
        LITESTREAM_S3_PATH: 'myapp',
        LITESTREAM_SYNC_INTERVAL: '1s',
        LITESTREAM_RETENTION: '72h',
      },
      { retention: '24h' },
    );
    expect(config.databases.map((db) => db.path)).toEqual([path.resolve('storage/a.db'), path.resolve('storage/b.db')]);
    expect(config.replica).toMatchObject({ path: 'myapp' });
    expect(config.syncInterval).toBe('1s');
    expect(config.retention).toBe('24h');
  });

  it('uses a file replica from LITESTREAM_FILE_REPLICA', () => {
    const config = configFromEnv({ LITESTREAM_ENABLED: '1', LITESTREAM_FILE_REPLICA: 'backups' }, { databases });
    expect(config.replica).toEqual({ type: 'file', path: path.resolve('backups') });
  });

  it('does not check LITESTREAM_BINARY_PATH while litestream is disabled (a production .env in development)', () => {
    const env = { LITESTREAM_DATABASES: 'a.db', LITESTREAM_BINARY_PATH: '/nonexistent/litestream' };
    expect(configFromEnv(env).enabled).toBe(false);
    expect(() => configFromEnv({ ...env, LITESTREAM_ENABLED: 'true', LITESTREAM_S3_BUCKET: 'my-bucket' })).toThrow(
      /LITESTREAM_BINARY_PATH/,
    );
  });

  it('never puts a secret in an error message', () => {
    const error = configError(() =>
      configFromEnv({ ...env, LITESTREAM_SYNC_INTERVAL: 'bad', LITESTREAM_ACCESS_KEY_ID: '' }, { databases }),
    );
    expect(error.message).not.toContain('your-secret-key');
    expect(JSON.stringify(error.issues)).not.toContain('your-secret-key');
  });
});

describe('parseDuration', () => {
  it.each([
    ['10s', 10_000],
    ['168h', 604_800_000],
    ['1h30m', 5_400_000],
    ['1.5s', 1_500],
    ['250ms', 250],
  ])('parses %s', (text, ms) => expect(parseDuration(text)).toBe(ms));

  it.each(['', '10', '-5s', '0s', '7d', 's', '10 s', '1h 30m'])('rejects %j', (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });
});

describe('formatGoDuration', () => {
  // What litestream 0.3.13 prints for these lags (its truncateDuration, then Go's Duration.String).
  it.each([
    [0, '0s'],
    [150, '150ms'],
    [1_000, '1s'],
    [8_549, '8.5s'],
    [10_000, '10s'],
    [10_900, '10s'],
    [90_000, '1m30s'],
    [1_317_900, '21m57s'],
    [3_600_000, '1h0m0s'],
    [3_661_500, '1h1m1s'],
    [-8_500, '-8.5s'],
  ])('formats %d ms as %s', (ms, text) => expect(formatGoDuration(ms)).toBe(text));

  it('reads back what it writes', () => {
    for (const ms of [150, 8_500, 90_000, 1_317_000, 3_661_000]) {
      expect(parseGoDuration(formatGoDuration(ms))).toBe(ms);
    }
  });
});
