import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  defineConfig,
  ensureRestored,
  Litestream,
  ReplicationError,
  type ReplicationStatus,
  startReplication,
} from '../src/index.js';
import { spawnEvents } from '../src/process/spawn.js';
import {
  captureLogger,
  litestreamChildren,
  openDatabase,
  processAlive,
  replicaIds,
  s3Replica,
  stopCleanly,
  tempDir,
  testConfig,
  track,
  waitFor,
  writeRows,
} from './support/fixtures.js';
import { family, restoredPosition } from './support/litestream-version.js';
import { holdingProxy } from './support/proxy.js';
import { testS3 } from './support/s3-per-file.js';

describe('startReplication', () => {
  it('writes made just before stop() are in the replica afterwards (final sync)', async () => {
    const dir = tempDir();
    // A long sync interval: only the final sync can carry the last writes.
    const { config } = testConfig(dir, { syncInterval: '1h' });
    const main = config.databases[0]?.path as string;
    const before = writeRows(main, 'before', 20);
    writeRows(config.databases[1]?.path as string, 'jobs', 1);
    const replication = track(startReplication(config));
    await replication.ready;
    const last = writeRows(main, 'last', 30);
    const result = await replication.stop();
    expect(result.clean, JSON.stringify(result)).toBe(true);
    expect(litestreamChildren()).toEqual([]);

    expect(await replicaIds(config, main)).toEqual([...before, ...last]);
  });

  it('a stop while a crashed litestream waits for its restart still makes a final sync', async () => {
    const dir = tempDir();
    const { config } = testConfig(dir, {
      syncInterval: '1h',
      supervisor: { initialBackoffMs: 30_000, maxBackoffMs: 30_000, resetAfterMs: 60_000 },
    });
    const main = config.databases[0]?.path as string;
    writeRows(config.databases[1]?.path as string, 'jobs', 1);
    const before = writeRows(main, 'before', 5);
    const replication = track(startReplication(config));
    await replication.ready;
    const crashed = new Promise((resolve) => replication.once('restart', resolve));
    process.kill(replication.status().pid as number, 'SIGKILL');
    await crashed;
    expect(replication.status().state).toBe('restarting');
    const during = writeRows(main, 'during-backoff', 7);
    const result = await replication.stop();
    expect(result.clean, JSON.stringify(result)).toBe(true);
    expect(await replicaIds(config, main)).toEqual([...before, ...during]);
  });

  it('a stop right after start still ends with a final sync', async () => {
    const dir = tempDir();
    const { config } = testConfig(dir, { syncInterval: '1h' });
    const ids = writeRows(config.databases[0]?.path as string, 'early', 10);
    const jobs = writeRows(config.databases[1]?.path as string, 'jobs', 1);
    // No await of ready: litestream has not even opened the database yet.
    const result = await track(startReplication(config)).stop();
    expect(result.clean, JSON.stringify(result)).toBe(true);

    // Both databases reached the replica.
    expect(await replicaIds(config, config.databases[0]?.path as string)).toEqual(ids);
    expect(await replicaIds(config, config.databases[1]?.path as string)).toEqual(jobs);
  });

  it('reports per-database status and forwards litestream logs with mapped levels', async () => {
    const dir = tempDir();
    const { config, logger } = testConfig(dir);
    for (const db of config.databases) writeRows(db.path, 'status', 5);
    const replication = track(startReplication(config));
    const syncs: string[] = [];
    replication.on('sync', (event) => syncs.push(event.db));
    await replication.ready;
    const status: ReplicationStatus = replication.status();
    expect(status.state).toBe('running');
    expect(status.healthy).toBe(true);
    expect(status.pid).toBeGreaterThan(0);
    expect(status.restarts).toBe(0);
    for (const db of status.databases) {
      expect(db.synced).toBe(true);
      restoredPosition(db);
      expect(db.lastSyncAt).toBeInstanceOf(Date);
      expect(db.lastError).toBeUndefined();
    }
    expect(new Set(syncs)).toEqual(new Set(config.databases.map((db) => db.path)));
    // Litestream's own lines, at litestream's own levels.
    const [snapshot, sync] = family === '0.3' ? ['snapshot written', 'sync'] : ['replicating to', 'replica sync'];
    expect(logger.lines.some((line) => line.level === 'info' && line.message === snapshot)).toBe(true);
    expect(logger.lines.some((line) => line.level === 'debug' && line.message === sync)).toBe(true);
    await replication.stop();
    expect(replication.status().state).toBe('stopped');
  });

  it('is ready on a restart when nothing new was written (the replica is already caught up)', async () => {
    const dir = tempDir();
    const { config } = testConfig(dir);
    for (const db of config.databases) writeRows(db.path, 'once', 5);
    const first = track(startReplication(config));
    await first.ready;
    await first.stop();
    const second = track(startReplication(config));
    await second.ready;
    expect(second.status().databases.every((db) => db.synced)).toBe(true);
  });

  it('restarts a litestream killed with SIGKILL, and replication resumes', async () => {
    const dir = tempDir();
    const { config, logger } = testConfig(dir);
    const main = config.databases[0]?.path as string;
    const ids = writeRows(main, 'before-crash', 10);
    writeRows(config.databases[1]?.path as string, 'jobs', 1);
    const replication = track(startReplication(config));
    await replication.ready;
    const firstPid = replication.status().pid as number;
    const restarted = new Promise((resolve) => replication.once('restart', resolve));

    process.kill(firstPid, 'SIGKILL');
    await restarted;
    expect(replication.status().state).toBe('restarting');
    const secondPid = await waitFor(() => {
      const { pid, state } = replication.status();
      return state === 'running' && pid !== firstPid ? pid : undefined;
    });
    expect(processAlive(firstPid)).toBe(false);
    expect(replication.status().restarts).toBe(1);
    expect(logger.lines.some((line) => line.level === 'error' && /exited unexpectedly/.test(line.message ?? ''))).toBe(
      true,
    );

    // Replication resumes: rows written after the crash reach the replica through the sync loop.
    ids.push(...writeRows(main, 'after-crash', 10));
    const synced = new Promise((resolve) => replication.on('sync', (event) => event.db === main && resolve(undefined)));
    await synced;
    await stopCleanly(replication);
    expect(processAlive(secondPid as number)).toBe(false);
    expect(litestreamChildren()).toEqual([]);

    expect(await replicaIds(config, main)).toEqual(ids);
  });

  it('returns the running handle for the same config and refuses a second replicator on a database', async () => {
    const dir = tempDir();
    const { config } = testConfig(dir);
    for (const db of config.databases) writeRows(db.path, 'once', 1);
    const replication = track(startReplication(config));
    expect(startReplication(config)).toBe(replication);
    const { config: other } = testConfig(dir);
    expect(() => startReplication(other)).toThrow(ReplicationError);
    expect(() => startReplication(other)).toThrow(/already being replicated/);
    await replication.ready;
    expect(litestreamChildren()).toHaveLength(1);
    await replication.stop();
    // Once stopped, the database is free again.
    const next = track(startReplication(other));
    await next.ready;
  });

  it('startReplication() without a config uses the last ensureRestored config', async () => {
    const dir = tempDir();
    const { config } = testConfig(dir);
    await ensureRestored(config);
    for (const db of config.databases) writeRows(db.path, 'implicit', 1);
    const replication = track(startReplication());
    await replication.ready;
    expect(replication.status().databases.map((db) => db.path)).toEqual(config.databases.map((db) => db.path));
  });

  // stop() twice (one SIGTERM, one shared result): test/supervision/supervisor.test.ts.

  // The deadline logic is unit-tested (test/supervision/final-sync.test.ts); this proves a real
  // litestream that ignores SIGTERM dies at it. Either version's process dies the same way.
  it.runIf(family === '0.3')('stop() kills a litestream that cannot finish within the timeout', async () => {
    const dir = tempDir();
    const { config } = testConfig(dir);
    for (const db of config.databases) writeRows(db.path, 'x', 1);
    const replication = track(startReplication(config));
    await replication.ready;
    const pid = replication.status().pid as number;
    // A stopped process cannot handle SIGTERM: only the SIGKILL after the timeout ends it.
    process.kill(pid, 'SIGSTOP');
    const result = await replication.stop({ timeoutMs: 500 });
    expect(result).toMatchObject({ killed: true, clean: false });
    expect(processAlive(pid)).toBe(false);
  });
});

describe('disabled mode', () => {
  it('spawns nothing and every lifecycle call is a logged no-op', async () => {
    const dir = tempDir();
    const logger = captureLogger();
    const config = defineConfig({ enabled: false, databases: [path.join(dir, 'app.db')], logger });
    const spawned: unknown[] = [];
    const onSpawn = (event: unknown) => spawned.push(event);
    spawnEvents.on('spawn', onSpawn);
    try {
      expect(await ensureRestored(config)).toEqual([
        { path: path.join(dir, 'app.db'), outcome: 'disabled', durationMs: 0 },
      ]);
      const replication = startReplication(config);
      await replication.ready;
      expect(replication.status().state).toBe('disabled');
      await stopCleanly(replication);
      const instance = new Litestream(config);
      await instance.ensureRestored();
      instance.startReplication();
      await instance.stop();
    } finally {
      spawnEvents.off('spawn', onSpawn);
    }
    expect(spawned).toEqual([]);
    expect(logger.lines.filter((line) => /disabled/.test(line.message ?? '')).length).toBeGreaterThanOrEqual(2);
  });
});

describe('a final sync that fails', () => {
  it('is retried by running litestream again, and the last writes still reach the replica', async () => {
    const dir = tempDir();
    const proxy = await holdingProxy(testS3().endpoint);
    const { config, logger } = testConfig(dir, {
      syncInterval: '1h',
      replica: s3Replica({ endpoint: proxy.endpoint }),
      // 0.5 tries its final sync for half of this (less 2 s) before it gives up by itself: 5 s,
      // and the second run has the rest.
      shutdownTimeoutMs: 12_000,
    });
    const main = config.databases[0]?.path as string;
    const ids = writeRows(main, 'before', 10);
    writeRows(config.databases[1]?.path as string, 'jobs', 1);
    const replication = track(startReplication(config));
    await replication.ready;
    ids.push(...writeRows(main, 'last', 10));

    // The replica goes away exactly when the final sync starts, and comes back once it failed.
    replication.on('log', (line) => {
      // 0.3 says it failed to close the database; 0.5 that its shutdown sync failed.
      if (['failed to run', 'error closing db', 'shutdown sync failed after timeout'].includes(line.msg))
        proxy.restore();
    });
    proxy.cut();
    const result = await replication.stop();
    expect(result, JSON.stringify(result)).toMatchObject({ clean: true, killed: false });
    expect(
      logger.lines.some((line) => line.message === 'final sync failed; running litestream again to finish it'),
    ).toBe(true);
    expect(litestreamChildren()).toEqual([]);

    expect(await replicaIds(config, main)).toEqual(ids);
  });
});

// Restart backoff (its doubling, jitter and reset after a healthy run): unit-tested in
// test/supervision/restart-backoff.test.ts; a real restart is "restarts a litestream killed with SIGKILL".

describe('a litestream that hangs in its final sync', () => {
  it.runIf(family === '0.3')(
    'is killed once silent, run again, and the last writes still reach the replica (0.3: it logs through its final sync)',
    async () => {
      const dir = tempDir();
      const { config, logger } = testConfig(dir, { syncInterval: '1h' });
      const main = config.databases[0]?.path as string;
      const ids = writeRows(main, 'before', 10);
      writeRows(config.databases[1]?.path as string, 'jobs', 1);
      const replication = track(startReplication(config));
      await replication.ready;
      ids.push(...writeRows(main, 'last', 10));
      // A stopped process neither syncs nor prints: exactly what a hung shutdown looks like.
      const hung = replication.status().pid as number;
      process.kill(hung, 'SIGSTOP');

      const result = await replication.stop({ timeoutMs: 20_000 });
      expect(result, JSON.stringify(result)).toMatchObject({ clean: true, killed: false });
      expect(processAlive(hung)).toBe(false);
      expect(logger.lines.some((line) => line.message === 'litestream hung during its final sync; killing it')).toBe(
        true,
      );
      expect(litestreamChildren()).toEqual([]);

      expect(await replicaIds(config, main)).toEqual(ids);
    },
  );

  it.runIf(family === '0.5')(
    'is killed at the timeout, not for its silence, and the stop says so (0.5: silent while it retries)',
    async () => {
      const dir = tempDir();
      const { config, logger } = testConfig(dir, { syncInterval: '1h' });
      for (const db of config.databases) writeRows(db.path, 'before', 3);
      const replication = track(startReplication(config));
      await replication.ready;
      writeRows(config.databases[0]?.path as string, 'last', 3);
      const hung = replication.status().pid as number;
      process.kill(hung, 'SIGSTOP');

      const result = await replication.stop({ timeoutMs: 5_000 });
      expect(result, JSON.stringify(result)).toMatchObject({ clean: false, killed: true });
      // Killed because the time was up, not for its silence.
      expect(messages(logger)).toContain('litestream did not finish its final sync in time; killing it');
      expect(messages(logger)).not.toContain('litestream hung during its final sync; killing it');
      expect(result.durationMs).toBeGreaterThanOrEqual(5_000);
      expect(processAlive(hung)).toBe(false);
      expect(litestreamChildren()).toEqual([]);
    },
  );
});

describe.runIf(family === '0.3')('a litestream 0.3.13 that deadlocks after its final sync (a 0.3.13 bug)', () => {
  // Litestream 0.3.13 deadlocks on shutdown when the signal cancels a regular sync whose
  // upload then never reads its data: its final sync completes, then it waits forever for
  // the cancelled one. stop() lets uploads finish before it signals, but a sync can start in
  // the same instant, and then the deadlock follows. A multipart upload (a commit of more
  // than 5 MiB) cancelled between its parts deadlocks: signalled that way here. A signal that
  // lands at another moment of the upload (seen on a busy machine, 58 ms after it began) only
  // fails it, and litestream exits by itself after its final sync: then the scenario runs again.
  it('is killed as soon as the log shows the final sync in the replica, and the stop is clean', async () => {
    for (let attempt = 1; !(await signalDuringMultipartUpload()); attempt++) {
      if (attempt === 5) throw new Error('litestream 0.3.13 did not deadlock in 5 attempts');
    }
  });
});

/**
 * SIGTERM to litestream while it uploads a commit of more than 5 MiB, then stop(): the stop is
 * clean and every row is in the replica, whether litestream deadlocked (and was killed for
 * it) or exited by itself. Resolves to whether it deadlocked.
 */
async function signalDuringMultipartUpload(): Promise<boolean> {
  const dir = tempDir();
  const main = path.join(dir, 'production.sqlite3');
  const { config, logger } = testConfig(dir, { databases: [main] });
  const ids = writeRows(main, 'before', 5);
  const replication = track(startReplication(config));
  await replication.ready;
  // The upload of the big commit: the segment after the first one (which starts at 0).
  const uploading = new Promise<void>((resolve) =>
    replication.on(
      'log',
      (line) => line.msg === 'write wal segment' && !/:0$/.test(String(line.fields.position)) && resolve(),
    ),
  );
  const db = openDatabase(main);
  db.exec('CREATE TABLE blobs (body BLOB NOT NULL)');
  const insert = db.prepare('INSERT INTO blobs (body) VALUES (?)');
  db.transaction(() => {
    for (let i = 0; i < 112; i++) insert.run(randomBytes(64 * 1024));
  })();
  db.close();
  ids.push(...writeRows(main, 'after', 5));
  await uploading;
  const pid = replication.status().pid as number;
  process.kill(pid, 'SIGTERM');
  await waitFor(
    () => logger.lines.some((line) => line.message === 'signal received, litestream shutting down'),
    10_000,
    'litestream to begin its shutdown',
  );

  const result = await replication.stop({ timeoutMs: 60_000 });
  expect(result, JSON.stringify(result)).toMatchObject({ clean: true, killed: false });
  // Killed for what the log showed, not after the silence that marks a hang (5 s or more).
  expect(messages(logger)).not.toContain('litestream hung during its final sync; killing it');
  expect(processAlive(pid)).toBe(false);
  expect(litestreamChildren()).toEqual([]);
  expect(await replicaIds(config, main)).toEqual(ids);
  return /litestream hung after its final sync reached the replica/.test(logger.text());
}

/** Every message the library logged, in order. */
function messages(logger: ReturnType<typeof captureLogger>): string[] {
  return logger.lines.map((line) => line.message ?? '');
}
