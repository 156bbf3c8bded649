// Option sets and environments that defineConfig and configFromEnv must reject, each with the
// field the error names and what its message says: test/config.test.ts checks the errors,
// test/config-fast-path.test.ts feeds the same inputs to the fast acceptor.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { LitestreamOptions } from '../../src/index.js';

export const s3 = { type: 's3' as const, bucket: 'my-bucket' };

/**
 * `[case, options (given a function that makes a fresh temporary directory), field, message]`:
 * `defineConfig(options)` must throw an error naming `field` with a matching message.
 */
export const REJECTED_OPTIONS: [string, (dir: () => string) => unknown, string, RegExp][] = [
  ['no options at all', () => undefined as unknown as LitestreamOptions, 'options', /object/],
  ['databases missing', () => ({ replica: s3 }) as LitestreamOptions, 'databases', /list/],
  ['databases empty', () => ({ databases: [], replica: s3 }), 'databases', /at least one/],
  ['a blank database path', () => ({ databases: ['  '], replica: s3 }), 'databases[0]', /path/],
  [
    'a database that is a number',
    () => ({ databases: [42 as unknown as string], replica: s3 }),
    'databases[0]',
    /path/,
  ],
  ['replica missing while enabled', () => ({ databases: ['a.db'] }), 'replica.bucket', /required/],
  ['an empty bucket', () => ({ databases: ['a.db'], replica: { ...s3, bucket: '' } }), 'replica.bucket', /required/],
  [
    'an invalid bucket name',
    () => ({ databases: ['a.db'], replica: { ...s3, bucket: 'My_Bucket' } }),
    'replica.bucket',
    /valid bucket name/,
  ],
  [
    'an endpoint without a scheme',
    () => ({ databases: ['a.db'], replica: { ...s3, endpoint: 's3.amazonaws.com' } }),
    'replica.endpoint',
    /scheme/,
  ],
  [
    'an ftp endpoint',
    () => ({ databases: ['a.db'], replica: { ...s3, endpoint: 'ftp://host' } }),
    'replica.endpoint',
    /http/,
  ],
  [
    'a secret without a key id',
    () => ({ databases: ['a.db'], replica: { ...s3, secretAccessKey: 'x' } }),
    'replica.accessKeyId',
    /both keys/,
  ],
  [
    'a key id without a secret',
    () => ({ databases: ['a.db'], replica: { ...s3, accessKeyId: 'x' } }),
    'replica.secretAccessKey',
    /both keys/,
  ],
  [
    'an unknown replica type',
    () => ({ databases: ['a.db'], replica: { type: 'gcs' } as never }),
    'replica.type',
    /type must be "s3" \(with bucket, region, …\) or "file" \(with path\), not "gcs"/,
  ],
  [
    'a replica without a type',
    () => ({ databases: ['a.db'], replica: { bucket: 'b' } as never }),
    'replica.type',
    /type is required: "s3"/,
  ],
  [
    'a file replica without a path',
    () => ({ databases: ['a.db'], replica: { type: 'file' } as never }),
    'replica.path',
    /directory/,
  ],
  [
    'a sync interval without a unit',
    () => ({ databases: ['a.db'], replica: s3, syncInterval: '10' }),
    'syncInterval',
    /"10s"/,
  ],
  [
    'a negative retention',
    () => ({ databases: ['a.db'], replica: s3, retention: '-5s' }),
    'retention',
    /positive duration/,
  ],
  [
    'a zero snapshot interval',
    () => ({ databases: ['a.db'], replica: s3, snapshotInterval: '0s' }),
    'snapshotInterval',
    /positive/,
  ],
  [
    'a numeric duration',
    () => ({ databases: ['a.db'], replica: s3, syncInterval: 10 as unknown as string }),
    'syncInterval',
    /duration/,
  ],
  [
    'duplicate database paths',
    () => ({ databases: ['data/a.db', './data/../data/a.db'], replica: s3 }),
    'databases[1]',
    /duplicates databases\[0\]/,
  ],
  [
    'two databases with one replica path',
    () => ({ databases: ['x/app.db', 'y/app.db'], replica: s3 }),
    'databases[1].replicaPath',
    /distinct replicaPath/,
  ],
  [
    'a replica path escaping the prefix',
    () => ({ databases: [{ path: 'a.db', replicaPath: '../other' }], replica: s3 }),
    'databases[0].replicaPath',
    /without "\.\."/,
  ],
  [
    'a negative shutdown timeout',
    () => ({ databases: ['a.db'], replica: s3, shutdownTimeoutMs: -1 }),
    'shutdownTimeoutMs',
    /greater than 0/,
  ],
  [
    'a bad integrity check mode',
    () => ({ databases: ['a.db'], replica: s3, restore: { integrityCheck: 'maybe' as never } }),
    'restore.integrityCheck',
    /"full", "quick" or "off"/,
  ],
  [
    'a logger without methods',
    () => ({ databases: ['a.db'], replica: s3, logger: {} as never }),
    'logger',
    /pino-compatible/,
  ],
  [
    'enabled as a string',
    () => ({ databases: ['a.db'], replica: s3, enabled: 'yes' as never }),
    'enabled',
    /true or false/,
  ],
  [
    'a database path that is a directory',
    (dir) => {
      const d = dir();
      return { databases: [d], replica: s3 };
    },
    'databases[0]',
    /is a directory/,
  ],
  [
    'a database under a file',
    (dir) => {
      const d = dir();
      writeFileSync(path.join(d, 'file'), '');
      return { databases: [path.join(d, 'file', 'a.db')], replica: s3 };
    },
    'databases[0]',
    /is a file, not a directory/,
  ],
  [
    'a file replica holding the database',
    (dir) => {
      const d = dir();
      mkdirSync(path.join(d, 'data'));
      return { databases: [path.join(d, 'data', 'a.db')], replica: { type: 'file', path: d } };
    },
    'replica.path',
    /directory of its own/,
  ],
];

/** The seed's six variables, valid. */
export const SEED_ENV = {
  LITESTREAM_ENABLED: 'true',
  LITESTREAM_S3_BUCKET: 'your-litestream-bucket',
  LITESTREAM_S3_ENDPOINT: 'https://s3.amazonaws.com',
  LITESTREAM_S3_REGION: 'us-east-1',
  LITESTREAM_ACCESS_KEY_ID: 'your-access-key',
  LITESTREAM_SECRET_ACCESS_KEY: 'your-secret-key',
};

/** `[case, environment, variable, message]`: `configFromEnv(environment, { databases })` must name `variable`. */
export const REJECTED_ENVS: [string, Record<string, string>, string, RegExp][] = [
  [
    'LITESTREAM_ENABLED=maybe',
    { ...SEED_ENV, LITESTREAM_ENABLED: 'maybe' },
    'LITESTREAM_ENABLED',
    /true, false, 1 or 0/,
  ],
  ['LITESTREAM_ENABLED=yes', { ...SEED_ENV, LITESTREAM_ENABLED: 'yes' }, 'LITESTREAM_ENABLED', /not a boolean/],
  ['no bucket while enabled', { LITESTREAM_ENABLED: 'true' }, 'LITESTREAM_S3_BUCKET', /required/],
  ['a blank bucket', { ...SEED_ENV, LITESTREAM_S3_BUCKET: '   ' }, 'LITESTREAM_S3_BUCKET', /required/],
  [
    'an endpoint without a scheme',
    { ...SEED_ENV, LITESTREAM_S3_ENDPOINT: 's3.amazonaws.com' },
    'LITESTREAM_S3_ENDPOINT',
    /scheme/,
  ],
  ['a secret without a key id', { ...SEED_ENV, LITESTREAM_ACCESS_KEY_ID: '' }, 'LITESTREAM_ACCESS_KEY_ID', /both keys/],
  ['a bad sync interval', { ...SEED_ENV, LITESTREAM_SYNC_INTERVAL: '10' }, 'LITESTREAM_SYNC_INTERVAL', /duration/],
  ['a bad stale-copy policy', { ...SEED_ENV, LITESTREAM_ON_STALE: 'overwrite' }, 'LITESTREAM_ON_STALE', /keep-local/],
  [
    'a bad restore retry',
    { ...SEED_ENV, LITESTREAM_RESTORE_RETRY_FOR: '30' },
    'LITESTREAM_RESTORE_RETRY_FOR',
    /duration/,
  ],
  [
    'a bad path-style flag',
    { ...SEED_ENV, LITESTREAM_S3_FORCE_PATH_STYLE: 'on' },
    'LITESTREAM_S3_FORCE_PATH_STYLE',
    /boolean/,
  ],
];
