import { chmodSync, existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { configFromEnv, defineConfig, ensureRestored, restore, startReplication } from '../src/index.js';
import { spawnEvents } from '../src/process/spawn.js';
import { DATABASES_AT_ONCE } from '../src/support/concurrency.js';
import {
  captureLogger,
  deleteDatabase,
  integrity,
  litestreamChildren,
  readIds,
  seedBackup,
  stopCleanly,
  tempDir,
  testConfig,
  track,
  writeRows,
} from './support/fixtures.js';
import { restoredPosition } from './support/litestream-version.js';

describe('round trip through a real S3 server', () => {
  it('restores a database per tenant, 24 at once, never running more litestream processes than its limit', async () => {
    const dir = tempDir();
    const databases = Array.from({ length: 24 }, (_, i) =>
      path.join(dir, `tenant-${String(i).padStart(2, '0')}.sqlite3`),
    );
    const { config } = testConfig(dir, { databases });
    const ids = databases.map((db, i) => writeRows(db, `tenant ${i}`, 3 + i));
    const replication = track(startReplication(config));
    await replication.ready;
    await stopCleanly(replication);
    for (const db of databases) deleteDatabase(db);

    // Sampled while the restores run: the litestream processes this one has running.
    let most = 0;
    const sampler = setInterval(() => {
      most = Math.max(most, litestreamChildren().length);
    }, 10);
    const results = await ensureRestored(config).finally(() => clearInterval(sampler));
    expect(results.map((result) => result.outcome)).toEqual(databases.map(() => 'restored'));
    databases.forEach((db, i) => {
      expect(readIds(db)).toEqual(ids[i]);
    });
    expect(most).toBeGreaterThan(0);
    expect(most).toBeLessThanOrEqual(DATABASES_AT_ONCE);
  });

  it('restores every row of both databases after the local files are lost', async () => {
    const dir = tempDir();
    const { config } = testConfig(dir);
    const [main, queue] = config.databases.map((db) => db.path) as [string, string];

    // First boot: nothing local, nothing in the bucket.
    const firstBoot = await ensureRestored(config);
    expect(firstBoot.map((r) => r.outcome)).toEqual(['no-backup', 'no-backup']);
    expect(existsSync(main)).toBe(false);

    const mainIds = writeRows(main, 'orders', 500);
    const queueIds = writeRows(queue, 'jobs', 200);
    const replication = track(startReplication());
    await replication.ready;
    // Written after the first sync, so they reach S3 only by the sync loop or the final sync.
    mainIds.push(...writeRows(main, 'orders-late', 50));
    const stopped = await replication.stop();
    expect(stopped, JSON.stringify(stopped)).toMatchObject({ clean: true, killed: false });
    expect(litestreamChildren()).toEqual([]);

    // A new container: the files are gone.
    deleteDatabase(main);
    deleteDatabase(queue);
    const results = await ensureRestored(config);
    expect(results.map((r) => [r.path, r.outcome])).toEqual([
      [main, 'restored'],
      [queue, 'restored'],
    ]);
    for (const result of results) {
      restoredPosition(result);
      expect(result.durationMs).toBeGreaterThanOrEqual(0);
    }
    // No restore leftovers beside the databases (checked before anything opens them): only the
    // record of what was restored (the next boot compares the copy by it) and the claim that
    // the replication which follows takes over.
    expect(readdirSync(dir).sort()).toEqual([
      '.production.sqlite3-litestream-node.lineage.json',
      '.production.sqlite3-litestream-node.pid',
      '.production_queue.sqlite3-litestream-node.lineage.json',
      '.production_queue.sqlite3-litestream-node.pid',
      'production.sqlite3',
      'production_queue.sqlite3',
    ]);
    expect(readIds(main)).toEqual(mainIds);
    expect(readIds(queue)).toEqual(queueIds);
    expect(integrity(main)).toBe('ok');
    expect(integrity(queue)).toBe('ok');
  });

  it('reports exists for databases that are present, without starting a process', async () => {
    const dir = tempDir();
    const { config } = testConfig(dir);
    for (const db of config.databases) writeRows(db.path, 'local', 3);
    const spawned: unknown[] = [];
    const onSpawn = (event: unknown) => spawned.push(event);
    spawnEvents.on('spawn', onSpawn);
    try {
      const results = await ensureRestored(config);
      expect(results.map((r) => r.outcome)).toEqual(['exists', 'exists']);
    } finally {
      spawnEvents.off('spawn', onSpawn);
    }
    expect(spawned).toEqual([]);
  });

  it('shares one restore between concurrent calls', async () => {
    const dir = tempDir();
    const { config } = testConfig(dir);
    for (const db of config.databases) writeRows(db.path, 'seed', 10);
    const replication = track(startReplication(config));
    await replication.ready;
    await replication.stop();
    for (const db of config.databases) deleteDatabase(db.path);

    const restores: unknown[] = [];
    const onSpawn = (event: { command: string }) => {
      if (event.command === 'restore') restores.push(event);
    };
    spawnEvents.on('spawn', onSpawn);
    try {
      const [a, b] = await Promise.all([ensureRestored(config), ensureRestored(config)]);
      expect(a).toEqual(b);
      expect(a.map((r) => r.outcome)).toEqual(['restored', 'restored']);
    } finally {
      spawnEvents.off('spawn', onSpawn);
    }
    expect(restores).toHaveLength(2);
  });

  it('round-trips through a file replica', async () => {
    const dir = tempDir();
    const logger = captureLogger();
    const config = defineConfig({
      databases: [path.join(dir, 'data', 'app.db')],
      replica: { type: 'file', path: path.join(dir, 'replica') },
      syncInterval: '1s',
      logger,
    });
    const db = config.databases[0]?.path as string;
    mkdirSync(path.dirname(db));
    expect((await ensureRestored(config))[0]?.outcome).toBe('no-backup');
    const ids = writeRows(db, 'file', 100);
    const replication = track(startReplication(config));
    await replication.ready;
    ids.push(...writeRows(db, 'file-late', 5));
    await stopCleanly(replication);

    deleteDatabase(db);
    const [result] = await ensureRestored(config);
    expect(result?.outcome).toBe('restored');
    expect(readIds(db)).toEqual(ids);
    expect(integrity(db)).toBe('ok');
  });
});

describe('an empty database file', () => {
  it('is restored over: the app opened it before the restore but wrote nothing', async () => {
    const dir = tempDir();
    const { config } = testConfig(dir);
    const ids = config.databases.map((db) => writeRows(db.path, 'kept', 7));
    const replication = track(startReplication(config));
    await replication.ready;
    await replication.stop();
    for (const db of config.databases) {
      deleteDatabase(db.path);
      writeFileSync(db.path, '');
    }
    const results = await ensureRestored(config);
    expect(results.map((r) => r.outcome)).toEqual(['restored', 'restored']);
    expect(config.databases.map((db) => readIds(db.path))).toEqual(ids);
  });
});

describe('development mode (litestream disabled)', () => {
  it('makes the database directories as production does, so the same code opens its databases', async () => {
    const dir = tempDir();
    const databases = ['storage/production.sqlite3', 'storage/queue/production_queue.sqlite3'].map((file) =>
      path.join(dir, file),
    );
    const development = configFromEnv({ LITESTREAM_ENABLED: 'false' }, { databases, logger: false });
    expect(await ensureRestored(development)).toEqual(
      databases.map((file) => ({ path: file, outcome: 'disabled', durationMs: 0 })),
    );
    for (const file of databases) {
      // What the app does next: it would throw "directory does not exist" without the directory.
      writeRows(file, 'dev', 1);
      expect(readIds(file)).toHaveLength(1);
    }
    expect(litestreamChildren()).toEqual([]);

    // Production, on a fresh disk with no backup yet, leaves the same directories and no file.
    const prodDir = tempDir();
    const { config } = testConfig(prodDir, {
      databases: databases.map((file) => path.join(prodDir, path.relative(dir, file))),
    });
    const results = await ensureRestored(config);
    expect(results.map((result) => result.outcome)).toEqual(['no-backup', 'no-backup']);
    for (const db of config.databases) {
      expect(existsSync(path.dirname(db.path))).toBe(true);
      expect(existsSync(db.path)).toBe(false);
    }
  });
});

describe('a restored database file', () => {
  it('has the mode SQLite gives a new database, or that of the empty file it replaces', async () => {
    const dir = tempDir();
    const seeded = await seedBackup(dir);
    const { config } = seeded;
    const [main, queue] = config.databases.map((db) => db.path) as [string, string];
    // The empty file an app opened before the restore, with the mode its deployment gave it.
    writeFileSync(queue, '', { mode: 0o640 });
    chmodSync(queue, 0o640);
    await ensureRestored(config);

    const created = path.join(tempDir(), 'created-by-sqlite.db');
    new Database(created).close();
    const mode = (file: string) => statSync(file).mode & 0o777;
    expect(mode(main).toString(8)).toBe(mode(created).toString(8));
    expect(mode(queue).toString(8)).toBe('640');
    expect(config.databases.map((db) => readIds(db.path))).toEqual(seeded.ids);

    // Point-in-time restores into a new file too.
    const out = path.join(dir, 'copy.db');
    await restore(config, { database: main, output: out });
    expect(mode(out).toString(8)).toBe(mode(created).toString(8));
  });
});

describe('the restore log', () => {
  it('on a first boot says it checks the replica, then that there is no backup', async () => {
    const { config, logger } = testConfig(tempDir());
    await ensureRestored(config);
    const messages = logger.lines.filter((line) => line.level === 'info').map((line) => line.message);
    expect(messages).toContain('database missing; checking the replica for a backup');
    expect(messages).toContain('no backup in the replica; a new database will be created');
    expect(messages.join('\n')).not.toMatch(/restoring from/);
  });
});
