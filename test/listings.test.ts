import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseTable } from '../src/engine/v0_3/listings.js';
import {
  databases,
  generations,
  Litestream,
  LitestreamError,
  ReplicaUnreachableError,
  snapshots,
  wal,
} from '../src/index.js';
import {
  closedPort,
  deleteDatabase,
  replicateOnce,
  s3Replica,
  tempDir,
  testConfig,
  writeRows,
} from './support/fixtures.js';

describe('backup listings', () => {
  it('are typed and match what was replicated', async () => {
    const dir = tempDir();
    const { config } = testConfig(dir);
    const main = config.databases[0]?.path as string;
    for (const db of config.databases) writeRows(db.path, 'listed', 50);
    const before = Date.now();
    const generation = await replicateOnce(config);

    const gens = await generations(config, main);
    expect(gens).toHaveLength(1);
    expect(gens[0]).toMatchObject({ replica: 's3', generation });
    expect(typeof gens[0]?.lagMs).toBe('number');
    expect(gens[0]?.start).toBeInstanceOf(Date);
    // Litestream prints whole seconds.
    expect(gens[0]?.start.getTime()).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);
    expect(gens[0]?.end.getTime()).toBeGreaterThanOrEqual(gens[0]?.start.getTime() as number);

    const snaps = await snapshots(config, main);
    expect(snaps).toHaveLength(1);
    expect(snaps[0]).toMatchObject({ replica: 's3', generation, index: 0 });
    expect(snaps[0]?.size).toBeGreaterThan(0);
    expect(snaps[0]?.createdAt).toBeInstanceOf(Date);

    const segments = await wal(config, main);
    expect(segments.length).toBeGreaterThan(0);
    for (const segment of segments) {
      expect(segment.generation).toBe(generation);
      expect(Number.isInteger(segment.index) && Number.isInteger(segment.offset)).toBe(true);
      expect(segment.size).toBeGreaterThan(0);
    }

    expect(await databases(config)).toEqual(config.databases.map((db) => ({ path: db.path, replicas: ['s3'] })));
    // A new container has no local file yet: the backups are listed all the same.
    deleteDatabase(main);
    const fresh = await generations(config, main);
    expect(fresh.map((row) => row.generation)).toEqual([generation]);
    expect(fresh[0]?.lagMs).toBeGreaterThanOrEqual(0);

    // The class offers the same, with paths relative to the current directory accepted.
    const instance = new Litestream(config);
    expect((await instance.generations(path.relative(process.cwd(), main)))[0]?.generation).toBe(generation);
  });

  it('are empty for a replica without backups', async () => {
    const { config } = testConfig(tempDir());
    const main = config.databases[0]?.path as string;
    expect(await generations(config, main)).toEqual([]);
    expect(await snapshots(config, main)).toEqual([]);
    expect(await wal(config, main)).toEqual([]);
  });

  it('throw when the replica cannot be read, instead of an empty list', async () => {
    const port = await closedPort();
    const { config } = testConfig(tempDir(), { replica: s3Replica({ endpoint: `http://127.0.0.1:${port}` }) });
    const main = config.databases[0]?.path as string;
    await expect(generations(config, main)).rejects.toBeInstanceOf(ReplicaUnreachableError);
    await expect(snapshots(config, main)).rejects.toThrow(/could not be reached \(list the snapshots of/);
    await expect(wal(config, main)).rejects.toBeInstanceOf(ReplicaUnreachableError);
    const { config: badKey } = testConfig(tempDir(), {
      replica: s3Replica({ accessKeyId: 'NOPE', secretAccessKey: 'x' }),
    });
    await expect(generations(badKey, badKey.databases[0]?.path as string)).rejects.toThrow(/rejected the credentials/);
  });

  it('name the database when it is not configured', async () => {
    const { config } = testConfig(tempDir());
    await expect(generations(config, '/elsewhere/other.db')).rejects.toThrow(LitestreamError);
    await expect(generations(config, '/elsewhere/other.db')).rejects.toThrow(/\/elsewhere\/other\.db is not one of/);
  });
});

describe('parseTable', () => {
  it('reads tabwriter columns and skips log lines', () => {
    const stdout = [
      '{"level":"INFO","msg":"x"}',
      'replica  generation        index  size  created',
      's3       40111429d1c746fe  0      354   2026-11-25T18:45:23Z',
      '',
    ].join('\n');
    expect(parseTable(stdout)).toEqual([
      { replica: 's3', generation: '40111429d1c746fe', index: '0', size: '354', created: '2026-11-25T18:45:23Z' },
    ]);
    expect(parseTable('name  generation  lag  start  end\n')).toEqual([]);
  });
});
