// Scenario 8: malformed configurations, environment values and PITR requests. Each goes
// through the path an app or operator takes (config → restore → replicate, or restore to a
// point in time) and must end in a clear error naming the field, with nothing on disk
// created, deleted or overwritten — not in the app's directory, not in the temp directory.
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  configFromEnv,
  defineConfig,
  ensureRestored,
  type LitestreamConfig,
  type LitestreamOptions,
  restore,
  startReplication,
} from '../../src/index.js';
import type { Logger } from '../../src/logging/logger.js';
import { captureLogger, seedBackup, seedEnv, tempDir, writeRows } from '../support/fixtures.js';
import { family } from '../support/litestream-version.js';
import { Scenario, secret, trials } from './harness.js';

/** Every file under `dir` with its size, mode, mtime and content hash. */
function snapshot(dir: string): Record<string, string> {
  const files: Record<string, string> = {};
  const walk = (current: string) => {
    for (const entry of readdirSync(current, { withFileTypes: true })) {
      const full = path.join(current, entry.name);
      const stats = statSync(full);
      if (entry.isDirectory()) {
        files[`${full}/`] = `dir ${stats.mode}`;
        walk(full);
      } else {
        const hash = stats.mode & 0o400 ? createHash('sha256').update(readFileSync(full)).digest('hex') : 'unreadable';
        files[full] = `${stats.size} ${stats.mode} ${stats.mtimeMs} ${hash}`;
      }
    }
  };
  walk(dir);
  return files;
}

interface Sandbox {
  /** The app's directory: a database with rows, a directory, an unreadable binary. */
  dir: string;
  /** An existing database the app owns. */
  existing: string;
  /** A directory where a database path is expected. */
  directory: string;
  /** A file that is not executable. */
  unreadable: string;
  /** A config whose replica holds a backup, for PITR cases. */
  backup: LitestreamConfig;
  /** When that backup's first snapshot was taken. */
  backupStartedAt: Date;
}

interface Case {
  name: string;
  /** Text the error must contain: the field or variable, and the fix. */
  names: RegExp;
  errorName: string;
  run: (box: Sandbox, logger: Logger) => Promise<unknown> | unknown;
}

const s3 = { type: 's3' as const, bucket: 'my-bucket' };
const base = (box: Sandbox): LitestreamOptions => ({ databases: [path.join(box.dir, 'new.sqlite3')], replica: s3 });
/** What an app does at boot. */
async function boot(config: LitestreamConfig): Promise<void> {
  await ensureRestored(config);
  const replication = startReplication(config);
  try {
    await replication.started;
  } finally {
    await replication.stop({ timeoutMs: 5_000 });
  }
}
const env = (box: Sandbox, values: Record<string, string | undefined>) => ({
  ...seedEnv('bad-input', [path.join(box.dir, 'new.sqlite3')]),
  ...values,
});
const fromEnv = (values: Record<string, string | undefined>) => (box: Sandbox, logger: Logger) =>
  boot(configFromEnv(env(box, values), { logger }));
const fromOptions = (options: (box: Sandbox) => Partial<LitestreamOptions>) => (box: Sandbox, logger: Logger) =>
  boot(defineConfig({ ...base(box), logger, ...options(box) } as LitestreamOptions));
const config = 'LitestreamConfigError';

const CASES: Case[] = [
  // Options.
  {
    name: 'empty bucket',
    names: /replica\.bucket/,
    errorName: config,
    run: fromOptions(() => ({ replica: { ...s3, bucket: '' } })),
  },
  { name: 'no databases', names: /databases/, errorName: config, run: fromOptions(() => ({ databases: [] })) },
  {
    name: 'blank database path',
    names: /databases\[0\]/,
    errorName: config,
    run: fromOptions(() => ({ databases: [' '] })),
  },
  {
    name: 'sync interval "10" (no unit)',
    names: /syncInterval.*10s/s,
    errorName: config,
    run: fromOptions(() => ({ syncInterval: '10' })),
  },
  {
    name: 'sync interval "-5s"',
    names: /syncInterval/,
    errorName: config,
    run: fromOptions(() => ({ syncInterval: '-5s' })),
  },
  {
    name: 'retention "1 week"',
    names: /retention/,
    errorName: config,
    run: fromOptions(() => ({ retention: '1 week' })),
  },
  {
    name: 'snapshot interval "0s"',
    names: /snapshotInterval/,
    errorName: config,
    run: fromOptions(() => ({ snapshotInterval: '0s' })),
  },
  {
    name: 'negative shutdown timeout',
    names: /shutdownTimeoutMs/,
    errorName: config,
    run: fromOptions(() => ({ shutdownTimeoutMs: -1 })),
  },
  {
    name: 'endpoint without a scheme',
    names: /replica\.endpoint.*https?:\/\//s,
    errorName: config,
    run: fromOptions(() => ({ replica: { ...s3, endpoint: 'minio:9000' } })),
  },
  {
    name: 'endpoint with another scheme',
    names: /replica\.endpoint/,
    errorName: config,
    run: fromOptions(() => ({ replica: { ...s3, endpoint: 'ftp://minio:9000' } })),
  },
  {
    name: 'unknown replica type',
    names: /replica\.type.*type must be "s3" .* or "file" .*, not "gcs"/s,
    errorName: config,
    run: fromOptions(() => ({ replica: { type: 'gcs', bucket: 'b' } as never })),
  },
  {
    name: 'file replica without a path',
    names: /replica\.path/,
    errorName: config,
    run: fromOptions(() => ({ replica: { type: 'file', path: '' } })),
  },
  {
    name: 'the same database twice',
    names: /databases\[1\]/,
    errorName: config,
    run: fromOptions((box) => ({ databases: [box.existing, box.existing] })),
  },
  {
    name: 'two databases, one replica path',
    names: /databases\[1\]\.replicaPath/,
    errorName: config,
    run: fromOptions((box) => ({ databases: [box.existing, path.join(box.dir, 'sub', 'keep.sqlite3')] })),
  },
  {
    name: 'an access key without its secret',
    names: /secretAccessKey/,
    errorName: config,
    run: fromOptions(() => ({ replica: { ...s3, accessKeyId: 'AKIA' } })),
  },
  {
    name: 'restore retry time that is not a number',
    names: /restore\.retryForMs/,
    errorName: config,
    run: fromOptions(() => ({ restore: { retryForMs: 'soon' as never } })),
  },
  {
    name: 'a logger without methods',
    names: /logger/,
    errorName: config,
    run: fromOptions(() => ({ logger: 'console' as never })),
  },
  {
    name: 'a database path that is a directory',
    names: /databases\[0\].*directory/s,
    errorName: config,
    run: fromOptions((box) => ({ databases: [box.directory] })),
  },
  {
    name: 'binaryPath that does not exist',
    names: /binaryPath/,
    errorName: 'LitestreamBinaryError',
    run: fromOptions(() => ({ binaryPath: '/nonexistent/litestream' })),
  },
  {
    name: 'binaryPath relative and missing',
    names: /binaryPath/,
    errorName: 'LitestreamBinaryError',
    run: fromOptions(() => ({ binaryPath: 'bin/litestream' })),
  },
  {
    name: 'binaryPath that is a directory',
    names: /binaryPath option.*not a file/s,
    errorName: 'LitestreamBinaryError',
    run: fromOptions((box) => ({ binaryPath: box.directory })),
  },
  {
    name: 'binaryPath not executable',
    names: /not executable.*chmod/s,
    errorName: 'LitestreamBinaryError',
    run: fromOptions((box) => ({ binaryPath: box.unreadable })),
  },
  {
    name: 'a misspelt option (synInterval)',
    names: /unknown option "synInterval".*spelling/s,
    errorName: config,
    run: fromOptions(() => ({ synInterval: '1s' }) as never),
  },
  {
    name: 'a misspelt replica key (regin)',
    names: /replica.*unknown option "regin"/s,
    errorName: config,
    run: fromOptions(() => ({ replica: { ...s3, regin: 'eu-west-1' } as never })),
  },
  // Environment.
  {
    name: 'LITESTREAM_ENABLED=maybe',
    names: /LITESTREAM_ENABLED.*true, false, 1 or 0/s,
    errorName: config,
    run: fromEnv({ LITESTREAM_ENABLED: 'maybe' }),
  },
  {
    name: 'LITESTREAM_S3_BUCKET empty',
    names: /LITESTREAM_S3_BUCKET/,
    errorName: config,
    run: fromEnv({ LITESTREAM_S3_BUCKET: '' }),
  },
  {
    name: 'LITESTREAM_SYNC_INTERVAL=10',
    names: /LITESTREAM_SYNC_INTERVAL/,
    errorName: config,
    run: fromEnv({ LITESTREAM_SYNC_INTERVAL: '10' }),
  },
  {
    name: 'LITESTREAM_SYNC_INTERVAL=-5s',
    names: /LITESTREAM_SYNC_INTERVAL/,
    errorName: config,
    run: fromEnv({ LITESTREAM_SYNC_INTERVAL: '-5s' }),
  },
  {
    name: 'LITESTREAM_RETENTION=forever',
    names: /LITESTREAM_RETENTION/,
    errorName: config,
    run: fromEnv({ LITESTREAM_RETENTION: 'forever' }),
  },
  {
    name: 'LITESTREAM_S3_ENDPOINT without a scheme',
    names: /LITESTREAM_S3_ENDPOINT/,
    errorName: config,
    run: fromEnv({ LITESTREAM_S3_ENDPOINT: '127.0.0.1:9000' }),
  },
  {
    name: 'LITESTREAM_DATABASES unset',
    names: /LITESTREAM_DATABASES/,
    errorName: config,
    run: fromEnv({ LITESTREAM_DATABASES: undefined }),
  },
  {
    name: 'LITESTREAM_DATABASES a directory',
    names: /LITESTREAM_DATABASES.*directory/s,
    errorName: config,
    run: (box, logger) => boot(configFromEnv(env(box, { LITESTREAM_DATABASES: box.directory }), { logger })),
  },
  {
    name: 'LITESTREAM_FILE_REPLICA with a bucket',
    names: /LITESTREAM_FILE_REPLICA/,
    errorName: config,
    run: fromEnv({ LITESTREAM_FILE_REPLICA: '/tmp/replica' }),
  },
  {
    name: 'LITESTREAM_CONFIG missing file',
    names: /LITESTREAM_CONFIG: cannot read/,
    errorName: config,
    run: fromEnv({ LITESTREAM_CONFIG: '/nonexistent/litestream.yml' }),
  },
  {
    name: 'LITESTREAM_BINARY_PATH missing',
    names: /LITESTREAM_BINARY_PATH/,
    errorName: config,
    run: fromEnv({ LITESTREAM_BINARY_PATH: '/nonexistent/litestream' }),
  },
  {
    name: 'LITESTREAM_BINARY_PATH not executable',
    names: /LITESTREAM_BINARY_PATH.*chmod/s,
    errorName: config,
    run: (box, logger) => boot(configFromEnv(env(box, { LITESTREAM_BINARY_PATH: box.unreadable }), { logger })),
  },
  // Point-in-time restore.
  {
    name: 'PITR timestamp in the future',
    names: /timestamp.*future/s,
    errorName: 'LitestreamError',
    run: (box) =>
      restore(box.backup, {
        database: box.backup.databases[0]?.path as string,
        output: path.join(box.dir, 'out.sqlite3'),
        timestamp: new Date(Date.now() + 86_400_000),
      }),
  },
  {
    name: 'PITR timestamp before the first backup',
    names: /timestamp .* before the first backup/s,
    errorName: 'RestoreError',
    run: (box) =>
      restore(box.backup, {
        database: box.backup.databases[0]?.path as string,
        output: path.join(box.dir, 'out.sqlite3'),
        timestamp: new Date(box.backupStartedAt.getTime() - 86_400_000),
      }),
  },
  {
    name: 'PITR timestamp that is not a time',
    names: /timestamp.*RFC ?3339/is,
    errorName: 'LitestreamError',
    run: (box) =>
      restore(box.backup, {
        database: box.backup.databases[0]?.path as string,
        output: path.join(box.dir, 'out.sqlite3'),
        timestamp: 'yesterday',
      }),
  },
  {
    name: 'PITR unknown generation',
    names: /generation/,
    // Litestream 0.5 has no generations: the option itself is the error, naming its equivalent.
    errorName: family === '0.3' ? 'LitestreamError' : 'LitestreamVersionError',
    run: (box) =>
      restore(box.backup, {
        database: box.backup.databases[0]?.path as string,
        output: path.join(box.dir, 'out.sqlite3'),
        generation: '0123456789abcdef',
      }),
  },
  {
    name: 'PITR output that exists',
    names: /output.*exists/s,
    errorName: 'LitestreamError',
    run: (box) => restore(box.backup, { database: box.backup.databases[0]?.path as string, output: box.existing }),
  },
  {
    name: 'PITR database not configured',
    names: /not one of the configured databases/,
    errorName: 'LitestreamError',
    run: (box) =>
      restore(box.backup, { database: path.join(box.dir, 'other.sqlite3'), output: path.join(box.dir, 'out.sqlite3') }),
  },
];

describe('bad input', () => {
  let previousTmp: string | undefined;
  afterAll(() => {
    if (previousTmp === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = previousTmp;
  });

  /** A backup to restore from, an app directory with a database in it, and a private temp dir. */
  async function sandbox(): Promise<{ box: Sandbox; privateTmp: string }> {
    const backupDir = tempDir();
    const backupStartedAt = new Date();
    const { config: backup } = await seedBackup(backupDir);
    // The library's temp files go here from now on, so leftovers are visible (each test file runs in its own process).
    const privateTmp = tempDir();
    previousTmp = process.env.TMPDIR;
    process.env.TMPDIR = privateTmp;
    const dir = tempDir();
    const existing = path.join(dir, 'keep.sqlite3');
    writeRows(existing, 'keep', 5);
    const directory = path.join(dir, 'a-directory');
    mkdirSync(directory);
    const unreadable = path.join(dir, 'litestream-not-executable');
    writeFileSync(unreadable, '#!/bin/sh\n');
    chmodSync(unreadable, 0o200);
    return { box: { dir, existing, directory, unreadable, backup, backupStartedAt }, privateTmp };
  }

  it(`8. ${CASES.length} malformed inputs: a clear error naming the field, nothing created, deleted or overwritten`, async ({
    task,
  }) => {
    expect(CASES.length).toBeGreaterThanOrEqual(30);
    const { box, privateTmp } = await sandbox();
    const scenario = new Scenario(`8. Bad input (${CASES.length} configs, variables, PITR requests)`, task);
    const failures: string[] = [];
    for (let round = 0; round < trials(1, 1); round++) {
      for (const testCase of CASES) {
        const before = { app: snapshot(box.dir), tmp: snapshot(privateTmp) };
        const logger = captureLogger();
        const error = await Promise.resolve()
          .then(() => testCase.run(box, logger))
          .then(
            () => undefined,
            (reason: unknown) => reason as Error,
          );
        const after = { app: snapshot(box.dir), tmp: snapshot(privateTmp) };
        const problems: string[] = [];
        if (!error) problems.push('no error');
        else {
          if (error.name !== testCase.errorName) problems.push(`${error.name} instead of ${testCase.errorName}`);
          if (!testCase.names.test(error.message)) problems.push(`message does not match ${testCase.names}`);
        }
        if (JSON.stringify(after.app) !== JSON.stringify(before.app)) {
          problems.push(`the app's directory changed: ${JSON.stringify({ before: before.app, after: after.app })}`);
        }
        if (JSON.stringify(after.tmp) !== JSON.stringify(before.tmp)) {
          problems.push(`left in the temp directory: ${Object.keys(after.tmp).join(', ')}`);
        }
        problems.push(
          ...scenario.checkSecrets({
            [`error of "${testCase.name}"`]: `${error?.message} ${(error as { detail?: string })?.detail ?? ''}`,
            [`log of "${testCase.name}"`]: logger.text(),
          }),
        );
        if (problems.length > 0)
          failures.push(
            `${testCase.name}: ${problems.join('; ')}${error ? `\n    ${error.message.replace(/\n/g, '\n    ')}` : ''}`,
          );
        scenario.record(problems);
      }
    }
    expect(failures).toEqual([]);
    // The secret reached these errors' inputs (seedEnv) and appears in none of them.
    expect(secret()).toBeTruthy();
  }, 120_000);
});
