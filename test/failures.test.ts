import { readdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { defineConfig, ensureRestored, ReplicaUnreachableError, RestoreError } from '../src/index.js';
import { MAIN_THREAD_MAX_BYTES } from '../src/sqlite/integrity-check.js';
import {
  captureLogger,
  closedPort,
  deleteDatabase,
  readIds,
  replicateOnce,
  s3Replica,
  tempDir,
  testConfig,
  writeRows,
} from './support/fixtures.js';
import { family } from './support/litestream-version.js';
import { testS3 } from './support/s3-per-file.js';

// What each server answers: the classification must hold for all of them.
const ANSWERS = {
  versitygw: { unknownKey: /XAdminUserNotFound/, wrongRegion: /AuthorizationHeaderMalformed/ },
  // SeaweedFS accepts a request signed for any region.
  seaweedfs: { unknownKey: /InvalidAccessKeyId/, wrongRegion: undefined },
}[testS3().kind];

/** The retries the boot logged (the lease's and the restore's; of `database` if given), with the wait before each. */
function retries(logger: ReturnType<typeof captureLogger>, database?: string): { db?: string; retryInMs?: number }[] {
  return logger.lines
    .filter((line) => line.message === 'replica unreachable; retrying')
    .map((line) => line.fields as { db?: string; retryInMs?: number })
    .filter((retry) => database === undefined || retry.db === database);
}

/** How long the retries waited in all. */
function waitedMs(logged: { retryInMs?: number }[]): number {
  return logged.reduce((sum, retry) => sum + (retry.retryInMs ?? 0), 0);
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a rejection');
}

describe('a replica that cannot be used', () => {
  it('an unreachable endpoint fails with ReplicaUnreachableError after bounded retries, creating nothing', async () => {
    const dir = tempDir();
    const port = await closedPort();
    const { config, logger } = testConfig(path.join(dir, 'storage'), {
      replica: s3Replica({ endpoint: `http://127.0.0.1:${port}` }),
      restore: { retryForMs: 1_500 },
      // Litestream's own failure (the lease, asked first, has the test below; even turned
      // off it is read, unless it may be written over).
      lease: { mode: 'off-write-over-live-holder' },
    });
    const error = await rejection(ensureRestored(config));

    expect(error).toBeInstanceOf(ReplicaUnreachableError);
    expect(error.message).toContain(path.join(dir, 'storage'));
    // Named as this config set it: the option (configFromEnv's say LITESTREAM_S3_ENDPOINT).
    expect(error.message).toMatch(/could not be reached.*check replica\.endpoint/);
    // Bounded: every database's waits between attempts fit in its budget.
    for (const db of config.databases) expect(waitedMs(retries(logger, db.path))).toBeLessThan(1_500);
    if (family === '0.3') {
      expect((error as ReplicaUnreachableError).detail).toMatch(/connection refused/);
      // Retried before giving up, and the error counts the attempts.
      const database = (error as ReplicaUnreachableError).database as string;
      const attempts = retries(logger, database).length + 1;
      expect(attempts).toBeGreaterThan(1);
      expect(error.message).toContain(`${attempts} attempts over 1500 ms`);
    } else {
      // Litestream 0.5 retries by itself, silently, for minutes: the budget ends it.
      expect((error as ReplicaUnreachableError).detail).toMatch(
        /still retrying .* when restore\.retryForMs \(1500 ms\) ran out/,
      );
    }
    // Not even the directory it would have needed was left behind.
    expect(readdirSync(dir)).toEqual([]);
  });

  it('the replica lease, asked for before anything else, fails the same way: bounded retries, the same error, nothing created', async () => {
    const dir = tempDir();
    const port = await closedPort();
    const { config, logger } = testConfig(path.join(dir, 'storage'), {
      replica: s3Replica({ endpoint: `http://127.0.0.1:${port}` }),
      restore: { retryForMs: 1_500 },
    });
    const error = await rejection(ensureRestored(config));
    expect(error).toBeInstanceOf(ReplicaUnreachableError);
    expect(error.message).toContain(path.join(dir, 'storage'));
    expect(error.message).toMatch(/could not be reached \(take the replica lease of .*check replica\.endpoint/);
    expect((error as ReplicaUnreachableError).detail).toMatch(/ECONNREFUSED/);
    // Retried, and every database's waits between attempts fit in its budget.
    expect(retries(logger).length).toBeGreaterThan(0);
    for (const db of config.databases) expect(waitedMs(retries(logger, db.path))).toBeLessThanOrEqual(1_500);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('an unknown access key fails at once with ReplicaUnreachableError naming the credentials, creating nothing', async () => {
    const dir = tempDir();
    const { config, logger } = testConfig(dir, {
      replica: s3Replica({ accessKeyId: 'NOSUCHKEY', secretAccessKey: 'wrong-secret-value' }),
      restore: { retryForMs: 10_000 },
    });
    const error = await rejection(ensureRestored(config));
    expect(error).toBeInstanceOf(ReplicaUnreachableError);
    // The server's own code, and the credentials as this config set them.
    expect(error.message).toMatch(
      /rejected the credentials .*the server answered \w+.* signed with replica\.accessKeyId \/ replica\.secretAccessKey/,
    );
    expect((error as ReplicaUnreachableError).detail).toMatch(ANSWERS.unknownKey);
    // Credentials do not get better by retrying.
    expect(retries(logger)).toEqual([]);
    expect(readdirSync(dir)).toEqual([]);
    expect(`${error.message}\n${(error as ReplicaUnreachableError).detail}`).not.toContain('wrong-secret-value');
  });

  it('a wrong secret for a real key fails at once with ReplicaUnreachableError, creating nothing', async () => {
    const dir = tempDir();
    const { config, logger } = testConfig(dir, {
      replica: s3Replica({ secretAccessKey: 'not-the-secret-d41d8cd9' }),
      restore: { retryForMs: 10_000 },
    });
    const error = await rejection(ensureRestored(config));
    expect(error).toBeInstanceOf(ReplicaUnreachableError);
    expect(error.message).toMatch(/rejected the credentials/);
    expect((error as ReplicaUnreachableError).detail).toMatch(/SignatureDoesNotMatch/);
    expect(retries(logger)).toEqual([]);
    expect(readdirSync(dir)).toEqual([]);
    expect(`${error.message}\n${(error as ReplicaUnreachableError).detail}`).not.toContain('not-the-secret-d41d8cd9');
  });

  it('a missing bucket fails with ReplicaUnreachableError naming the bucket', async () => {
    const dir = tempDir();
    const { config, logger } = testConfig(dir, {
      replica: s3Replica({ bucket: 'no-such-bucket' }),
      restore: { retryForMs: 10_000 },
    });
    const error = await rejection(ensureRestored(config));
    expect(error).toBeInstanceOf(ReplicaUnreachableError);
    expect(error.message).toMatch(/The bucket of s3:\/\/no-such-bucket\/.* does not exist.*fix replica\.bucket/);
    expect((error as ReplicaUnreachableError).detail).toMatch(/NoSuchBucket/);
    expect(retries(logger)).toEqual([]);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('a wrong region is a config error naming replica.region, not an outage to retry', async () => {
    const dir = tempDir();
    const { config, logger } = testConfig(dir, {
      replica: s3Replica({ region: 'eu-west-1' }),
      restore: { retryForMs: 10_000 },
    });
    if (ANSWERS.wrongRegion === undefined) {
      // This server ignores the region: the boot goes on as with the right one.
      expect((await ensureRestored(config)).map((r) => r.outcome)).toEqual(['no-backup', 'no-backup']);
      return;
    }
    const error = await rejection(ensureRestored(config));
    expect(error).toBeInstanceOf(ReplicaUnreachableError);
    expect(error.message).toMatch(
      /refused requests signed for region eu-west-1 .*the bucket's region is us-east-1; set replica\.region to/,
    );
    expect((error as ReplicaUnreachableError).detail).toMatch(ANSWERS.wrongRegion);
    expect(retries(logger)).toEqual([]);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('leaves a present database alone even when the replica is unreachable', async () => {
    const dir = tempDir();
    const port = await closedPort();
    const { config } = testConfig(dir, { replica: s3Replica({ endpoint: `http://127.0.0.1:${port}` }) });
    const ids = config.databases.map((db) => writeRows(db.path, 'local', 3));
    const results = await ensureRestored(config);
    expect(results.map((r) => r.outcome)).toEqual(['exists', 'exists']);
    expect(config.databases.map((db) => readIds(db.path))).toEqual(ids);
  });
});

describe('a corrupt backup', () => {
  // Small files are checked on the main thread, larger ones in a worker: the same verdict.
  it.each([
    ['small (checked on the main thread)', 0],
    ['larger than MAIN_THREAD_MAX_BYTES (checked in a worker)', MAIN_THREAD_MAX_BYTES + 2 * 1024 * 1024],
  ])('%s: fails with RestoreError and puts nothing in place', async (_, padding) => {
    const dir = tempDir();
    const file = path.join(dir, 'app.db');
    const config = defineConfig({
      databases: [file],
      replica: { type: 'file', path: path.join(dir, 'replica') },
      syncInterval: '1s',
      logger: captureLogger(),
    });
    // An index whose entries no longer match its definition: SQLite opens it, integrity_check fails.
    const db = new Database(file);
    db.pragma('journal_mode = WAL');
    db.exec('CREATE TABLE t (a, b); CREATE INDEX ti ON t (a);');
    const insert = db.prepare('INSERT INTO t VALUES (?, ?)');
    for (let i = 0; i < 100; i++) insert.run(i, 100 - i);
    if (padding > 0) {
      db.exec('CREATE TABLE pad (body BLOB)');
      db.prepare(
        'WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) INSERT INTO pad SELECT randomblob(4000) FROM n',
      ).run(Math.ceil(padding / 4000));
    }
    db.unsafeMode(true);
    db.pragma('writable_schema = ON');
    db.exec("UPDATE sqlite_schema SET sql = 'CREATE INDEX ti ON t (b)' WHERE name = 'ti'");
    db.close();

    await replicateOnce(config);
    deleteDatabase(file);

    const error = await rejection(ensureRestored(config));
    expect(error).toBeInstanceOf(RestoreError);
    expect(error.message).toContain(file);
    expect(error.message).toMatch(/integrity check/);
    expect((error as RestoreError).detail).toMatch(/missing from index/);
    expect(readdirSync(dir).sort()).toEqual(['replica']);
  });
});
