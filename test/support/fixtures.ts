import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, onTestFailed } from 'vitest';
import { Secret } from '../../src/config/secret.js';
import {
  defineConfig,
  type LitestreamConfig,
  type LitestreamOptions,
  type Logger,
  type Replication,
  restore,
  startReplication,
} from '../../src/index.js';
import type { S3Bucket } from '../../src/replica/s3/bucket.js';
import { processes } from './proc.js';
import { s3ReplicaOptions } from './s3-client.js';
import { testS3 } from './s3-per-file.js';

/** A logger that keeps every line, so tests can assert on (and grep) what was logged. */
export function captureLogger(): Logger & {
  lines: { level: string; fields: object; message?: string }[];
  text(): string;
} {
  const lines: { level: string; fields: object; message?: string; ms: number }[] = [];
  const started = Date.now();
  const at =
    (level: string) =>
    (fields: object, message?: string): void => {
      lines.push({ level, fields, message, ms: Date.now() - started });
    };
  return {
    lines,
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    text: () =>
      lines
        .map((line) => `${line.level} ${line.message ?? ''} ${JSON.stringify(line.fields)} +${line.ms}ms`)
        .join('\n'),
  };
}

const cleanups: (() => Promise<void> | void)[] = [];

/** Runs after the current test, even when it fails (latest first). */
export function onCleanup(fn: () => Promise<void> | void): void {
  cleanups.push(fn);
}

afterEach(async () => {
  const errors: unknown[] = [];
  for (const fn of cleanups.splice(0).reverse()) {
    try {
      await fn();
    } catch (error) {
      errors.push(error);
    }
  }
  // Whatever a test started, its litestream children must be gone now.
  for (const pid of litestreamChildren()) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {}
  }
  if (errors.length > 0) throw errors[0];
});

/** A fresh temp directory, removed after the test. */
export function tempDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'lsnode-test-'));
  onCleanup(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * Marks every process this test worker starts, and every process those start, whatever its
 * parent becomes: `litestream-node run` is litestream's parent, and an orphan is adopted by
 * init. Children inherit it from this process's environment (the library passes it on to
 * litestream) or from {@link seedEnv} (app and CLI processes, which get that environment alone).
 */
export const TEST_WORKER_VARIABLE = 'LSNODE_TEST_WORKER';
process.env[TEST_WORKER_VARIABLE] = String(process.pid);

/**
 * The pids of live litestream processes this test worker started, directly or through an
 * app or CLI process (found by {@link TEST_WORKER_VARIABLE} in their environment).
 */
export function litestreamChildren(worker = process.pid): number[] {
  return processes()
    .filter((p) => p.comm === 'litestream' && p.state !== 'Z' && startedBy(p.pid, worker))
    .map((p) => p.pid);
}

/** True when process `pid` carries this worker's mark in its environment. */
function startedBy(pid: number, worker: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(`${TEST_WORKER_VARIABLE}=${worker}`);
  } catch {
    return false; // Gone, or not ours to read.
  }
}

/** Pids of every process on the machine with `file` open: the replicators of that database. */
export function processesWithOpen(file: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      for (const fd of readdirSync(`/proc/${entry}/fd`)) {
        if (readlinkSync(`/proc/${entry}/fd/${fd}`) === file) {
          pids.push(Number(entry));
          break;
        }
      }
    } catch {
      // Gone, or not ours to read.
    }
  }
  return pids;
}

/** The litestream processes on the machine that have `database` open. */
export function replicatorsOf(database: string): number[] {
  return processesWithOpen(database).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'litestream';
    } catch {
      return false;
    }
  });
}

/** True when a process with this pid exists and is not a zombie. */
export function processAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** The test S3 server with a prefix of its own, so every test starts from an empty replica. */
export function s3Replica(overrides: Record<string, unknown> = {}) {
  return { ...s3ReplicaOptions(testS3(), `test-${randomUUID()}`), ...overrides };
}

/** The test server's bucket, as the library's own S3 requests address it. */
export function s3Bucket(): S3Bucket {
  const s3 = testS3();
  return {
    bucket: s3.bucket,
    region: s3.region,
    endpoint: s3.endpoint,
    credentials: { accessKeyId: new Secret(s3.accessKeyId), secretAccessKey: new Secret(s3.secretAccessKey) },
  };
}

/** A config for the test server, fast intervals, and a capturing logger. */
export function testConfig(dir: string, options: Partial<LitestreamOptions> = {}) {
  const logger = captureLogger();
  // A failing test shows what litestream and the library said (minus per-second sync noise).
  onTestFailed(() => {
    const lines = logger
      .text()
      .split('\n')
      .filter((line) => !/^debug (sync|sync: ok|replica sync.*|copy-shadow.*) /.test(line));
    console.error(`--- log of the failed test ---\n${lines.join('\n')}`);
  });
  const config = defineConfig({
    databases: [path.join(dir, 'production.sqlite3'), path.join(dir, 'production_queue.sqlite3')],
    replica: s3Replica(),
    syncInterval: '1s',
    logger,
    shutdownTimeoutMs: 20_000,
    restore: { retryForMs: 2_000, stallTimeoutMs: 20_000 },
    supervisor: { initialBackoffMs: 200, maxBackoffMs: 1_000, resetAfterMs: 60_000 },
    ...options,
  });
  return { config, logger };
}

/** Stops a replication after the test whatever happens. */
export function track(replication: Replication): Replication {
  onCleanup(async () => {
    await replication.stop({ timeoutMs: 10_000 });
  });
  return replication;
}

/** Opens a database the way the README tells apps to. */
export function openDatabase(file: string): Database.Database {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('busy_timeout = 5000');
  return db;
}

/** Creates `items` if needed and inserts `count` rows labelled `label`; returns their ids. */
export function writeRows(file: string, label: string, count: number): number[] {
  const db = openDatabase(file);
  try {
    db.exec('CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, label TEXT NOT NULL, body TEXT NOT NULL)');
    const insert = db.prepare('INSERT INTO items (label, body) VALUES (?, ?)');
    const ids: number[] = [];
    db.transaction(() => {
      for (let i = 0; i < count; i++)
        ids.push(Number(insert.run(label, `${label}-${i}-${'x'.repeat(64)}`).lastInsertRowid));
    })();
    return ids;
  } finally {
    db.close();
  }
}

/** The ids of rows labelled `label`, read-only. */
export function readIds(file: string, label?: string): number[] {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const rows = (
      label === undefined
        ? db.prepare('SELECT id FROM items ORDER BY id').all()
        : db.prepare('SELECT id FROM items WHERE label = ? ORDER BY id').all(label)
    ) as { id: number }[];
    return rows.map((row) => row.id);
  } finally {
    db.close();
  }
}

/** `PRAGMA integrity_check` of a file. */
export function integrity(file: string): string {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return String(db.pragma('integrity_check', { simple: true }));
  } finally {
    db.close();
  }
}

/** Removes a database and everything SQLite and Litestream keep beside it, as a new container would lack them. */
export function deleteDatabase(file: string): void {
  const dir = path.dirname(file);
  const name = path.basename(file);
  for (const entry of readdirSync(dir)) {
    if (entry === name || entry.startsWith(`${name}-`) || entry.startsWith(`.${name}`)) {
      rmSync(path.join(dir, entry), { recursive: true, force: true });
    }
  }
}

/** A loopback port with nothing listening on it (connection refused). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Polls `check` until it returns a truthy value or the deadline passes. */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  timeoutMs = 20_000,
  what = 'condition',
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Stops replication and asserts litestream made its final sync and exited by itself. */
export async function stopCleanly(replication: Replication, timeoutMs?: number): Promise<void> {
  const result = await replication.stop(timeoutMs === undefined ? {} : { timeoutMs });
  if (!result.clean) throw new Error(`stop() was not clean: ${JSON.stringify(result)}`);
}

/** Replicates until every database has synced, then stops with a final sync; returns the main db's generation. */
export async function replicateOnce(config: LitestreamConfig): Promise<string> {
  const replication = track(startReplication(config));
  await replication.ready;
  await stopCleanly(replication);
  return replication.status().databases[0]?.generation as string;
}

/**
 * Writes 25 rows to each database, replicates them, stops, and deletes the local files:
 * the state a new container finds. Returns the config and the ids per database.
 */
export async function seedBackup(dir: string, options: Partial<LitestreamOptions> = {}) {
  const { config } = testConfig(dir, options);
  const ids = config.databases.map((db) => writeRows(db.path, 'seed', 25));
  await replicateOnce(config);
  for (const db of config.databases) deleteDatabase(db.path);
  return { config, ids };
}

/** The ids in `database` as the replica has it now: restored into a temp file, never in place. */
export async function replicaIds(config: LitestreamConfig, database: string): Promise<number[]> {
  const output = path.join(tempDir(), 'from-replica.db');
  await restore(config, { database, output });
  return readIds(output);
}

/** The seed's environment variables for the test S3 server, for app and CLI processes. */
export function seedEnv(prefix: string, databases: readonly string[], overrides: Record<string, string> = {}) {
  const s3 = testS3();
  return {
    LITESTREAM_ENABLED: 'true',
    LITESTREAM_S3_BUCKET: s3.bucket,
    LITESTREAM_S3_ENDPOINT: s3.endpoint,
    LITESTREAM_S3_REGION: s3.region,
    LITESTREAM_ACCESS_KEY_ID: s3.accessKeyId,
    LITESTREAM_SECRET_ACCESS_KEY: s3.secretAccessKey,
    LITESTREAM_S3_PATH: prefix,
    LITESTREAM_DATABASES: databases.join(','),
    LITESTREAM_SYNC_INTERVAL: '1s',
    [TEST_WORKER_VARIABLE]: String(process.pid),
    ...overrides,
  };
}

/** Writes `rows` rows to every configured database, starts replication, and waits until it is ready. */
export async function startReplicating(dir: string, options: Partial<LitestreamOptions> = {}, rows = 3) {
  const { config, logger } = testConfig(dir, options);
  for (const db of config.databases) writeRows(db.path, 'rows', rows);
  const replication = track(startReplication(config));
  await replication.ready;
  return { config, logger, replication };
}
