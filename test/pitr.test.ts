import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  type BackupRow,
  backups,
  ensureRestored,
  generations,
  Litestream,
  LitestreamError,
  LitestreamVersionError,
  ltx,
  type Replication,
  RestoreError,
  restore,
  startReplication,
  wal,
} from '../src/index.js';
import {
  deleteDatabase,
  integrity,
  onCleanup,
  openDatabase,
  readIds,
  replicateOnce,
  stopCleanly,
  tempDir,
  testConfig,
  track,
  waitFor,
  writeRows,
} from './support/fixtures.js';
import { family } from './support/litestream-version.js';

/** Resolves at the next sync of `db` to the replica. */
function waitForSync(replication: Replication, db: string) {
  return new Promise<void>((resolve) => {
    const onSync = (event: { db: string }) => {
      if (event.db !== db) return;
      replication.off('sync', onSync);
      resolve();
    };
    replication.on('sync', onSync);
  });
}

/** Waits until the wall clock has moved past `time` by more than a second. */
async function clockPast(time: number) {
  // Replica objects carry their creation time; a clear gap keeps "before" and "after" apart.
  await waitFor(() => Date.now() > time + 1_100, 5_000, 'the clock to move on');
}

/**
 * A config for `dir`, and a running app that keeps its connection to the main database open,
 * as a server does (litestream 0.3: one generation throughout): `insert(label)` commits 20
 * rows in one transaction per row and returns their ids.
 */
function openApp(dir: string) {
  const { config } = testConfig(dir);
  const main = config.databases[0]?.path as string;
  writeRows(config.databases[1]?.path as string, 'jobs', 1);
  const app = openDatabase(main);
  onCleanup(() => {
    app.close();
  });
  app.exec('CREATE TABLE items (id INTEGER PRIMARY KEY, label TEXT NOT NULL, body TEXT NOT NULL)');
  const insert = (label: string) =>
    Array.from({ length: 20 }, () =>
      Number(app.prepare('INSERT INTO items (label, body) VALUES (?, ?)').run(label, label).lastInsertRowid),
    );
  return { config, main, insert };
}

describe('point-in-time restore', () => {
  it('restores to a timestamp while one replicator ran: only what was committed before it', async () => {
    const dir = tempDir();
    const { config, main, insert } = openApp(dir);
    const replication = track(startReplication(config));
    await replication.ready;
    const batchA = insert('A');
    await waitForSync(replication, main);
    await clockPast(Date.now());
    const between = new Date();
    await clockPast(between.getTime());
    const batchB = insert('B');
    await waitForSync(replication, main);
    await stopCleanly(replication);
    // Litestream 0.3: one generation throughout.
    if (family === '0.3') expect(await generations(config, main)).toHaveLength(1);

    const atBetween = path.join(dir, 'at-between.db');
    const result = await restore(config, { database: main, output: atBetween, timestamp: between });
    expect(result.path).toBe(atBetween);
    expect(result.size).toBeGreaterThan(0);
    expect(readIds(atBetween)).toEqual(batchA);
    expect(integrity(atBetween)).toBe('ok');

    // An RFC 3339 string works the same; no timestamp means the latest state.
    const asString = path.join(dir, 'as-string.db');
    await restore(config, { database: main, output: asString, timestamp: between.toISOString() });
    expect(readIds(asString)).toEqual(batchA);
    const latest = path.join(dir, 'latest.db');
    await new Litestream(config).restore({ database: main, output: latest });
    expect(readIds(latest)).toEqual([...batchA, ...batchB]);
  });

  it('restores to a timestamp between two runs (0.3: two generations): all that was there before it', async () => {
    const dir = tempDir();
    const { config } = testConfig(dir);
    const main = config.databases[0]?.path as string;
    const batchA = writeRows(main, 'A', 20);
    writeRows(config.databases[1]?.path as string, 'jobs', 1);
    await replicateOnce(config);
    await clockPast(Date.now());
    const between = new Date();
    await clockPast(between.getTime());
    // Written with no replicator running and the WAL checkpointed away: a new generation.
    writeRows(main, 'B', 20);
    await replicateOnce(config);
    if (family === '0.3') expect(await generations(config, main)).toHaveLength(2);

    const atBetween = path.join(dir, 'at-between.db');
    await restore(config, { database: main, output: atBetween, timestamp: between });
    expect(readIds(atBetween)).toEqual(batchA);
  });

  it.runIf(family === '0.3')(
    'restores a chosen generation, and a generation up to an index (0.3: generations)',
    async () => {
      const dir = tempDir();
      const { config } = testConfig(dir);
      const main = config.databases[0]?.path as string;
      const first = writeRows(main, 'first', 10);
      writeRows(config.databases[1]?.path as string, 'jobs', 1);
      const generation1 = await replicateOnce(config);

      // A new container: restored, then replicated as a new generation.
      for (const db of config.databases) deleteDatabase(db.path);
      await ensureRestored(config);
      const second = writeRows(main, 'second', 10);
      const generation2 = await replicateOnce(config);
      expect(generation2).not.toBe(generation1);
      expect((await generations(config, main)).map((row) => row.generation).sort()).toEqual(
        [generation1, generation2].sort(),
      );

      const old = path.join(dir, 'generation1.db');
      expect((await restore(config, { database: main, output: old, generation: generation1 })).generation).toBe(
        generation1,
      );
      expect(readIds(old)).toEqual(first);

      const indexes = (await wal(config, main)).filter((row) => row.generation === generation2).map((row) => row.index);
      const last = Math.max(...indexes);
      const byIndex = path.join(dir, 'by-index.db');
      await restore(config, {
        database: main,
        output: byIndex,
        generation: generation2,
        index: last.toString(16).padStart(8, '0'),
      });
      expect(readIds(byIndex)).toEqual([...first, ...second]);
    },
  );

  it('rejects bad input with an error naming it, creating and overwriting nothing', async () => {
    const dir = tempDir();
    const { config } = testConfig(dir);
    const main = config.databases[0]?.path as string;
    writeRows(main, 'A', 5);
    writeRows(config.databases[1]?.path as string, 'jobs', 1);
    const generation = await replicateOnce(config);
    const out = path.join(dir, 'out.db');
    const generationOption = family === '0.3' ? 'generation' : 'generation needs Litestream 0.3, but .*txid';
    const existing = path.join(dir, 'existing.db');
    writeFileSync(existing, 'keep me');
    const before = readdirSync(dir).sort();

    type Case = [Parameters<typeof restore>[1], RegExp, abstract new (...args: never[]) => LitestreamError];
    const cases: Case[] = [
      [
        { database: main, output: out, timestamp: 'yesterday' },
        /timestamp "yesterday" is not a valid time/,
        LitestreamError,
      ],
      [{ database: main, output: out, timestamp: '2024-13-45T99:00:00Z' }, /is not a valid time/, LitestreamError],
      [
        { database: main, output: out, timestamp: new Date(Date.now() + 3_600_000) },
        /is in the future/,
        LitestreamError,
      ],
      [{ database: main, output: out, timestamp: '2001-01-01T00:00:00Z' }, /before the first backup/, RestoreError],
      [{ database: main, output: out, generation, index: 'zz' }, /index "zz" is not a WAL index/, LitestreamError],
      [{ database: main, output: out, txid: 'zz' }, /txid "zz" is not a transaction id/, LitestreamError],
      ...(family === '0.3'
        ? <Case[]>[
            [
              { database: main, output: out, generation: 'ffffffffffffffff' },
              /generation "ffffffffffffffff" is not in the replica/,
              LitestreamError,
            ],
            [{ database: main, output: out, generation, index: 0x7fff }, /past the last WAL index/, LitestreamError],
            [{ database: main, output: out, index: 0 }, /index needs a generation/, LitestreamError],
            [
              { database: main, output: out, txid: 1 },
              /txid needs Litestream 0\.5, .* generation/,
              LitestreamVersionError,
            ],
          ]
        : <Case[]>[
            [
              { database: main, output: out, generation: 'ffffffffffffffff' },
              new RegExp(generationOption),
              LitestreamVersionError,
            ],
            [{ database: main, output: out, index: 0 }, /index needs Litestream 0\.3, .*txid/, LitestreamVersionError],
            [
              { database: main, output: out, txid: 0x7fff },
              /txid 0000000000007fff is past the last transaction/,
              LitestreamError,
            ],
            [
              { database: main, output: out, txid: 1, timestamp: new Date(Date.now() - 1_000) },
              /timestamp and txid exclude each other/,
              LitestreamError,
            ],
          ]),
      [{ database: main, output: existing }, /output .*existing\.db exists/, LitestreamError],
      [{ database: main }, /exists, and restore never overwrites a database/, LitestreamError],
      [
        { database: path.join(dir, 'unknown.db'), output: out },
        /is not one of the configured databases/,
        LitestreamError,
      ],
    ];
    for (const [options, message, type] of cases) {
      const error = await restore(config, options).then(
        () => undefined,
        (reason: unknown) => reason,
      );
      expect(error, JSON.stringify(options)).toBeInstanceOf(type);
      expect((error as Error).message).toMatch(message);
    }
    expect(readdirSync(dir).sort()).toEqual(before);
    expect(readFileSync(existing, 'utf8')).toBe('keep me');
  });
  it.runIf(family === '0.5')('restores up to a chosen transaction id (0.5: LTX files and TXIDs)', async () => {
    const dir = tempDir();
    const { config, main, insert } = openApp(dir);
    const replication = track(startReplication(config));
    await replication.ready;
    const batchA = insert('A');
    await waitForSync(replication, main);
    const afterA = replication.status().databases.find((db) => db.path === main)?.txid as number;
    expect(afterA).toBeGreaterThan(0);
    const batchB = insert('B');
    await waitForSync(replication, main);
    await stopCleanly(replication);

    // The listing has the transaction, and a restore up to it has batch A alone.
    const files = await ltx(config, main);
    expect(files.some((file) => file.level === 0 && file.maxTxid === afterA)).toBe(true);
    const atA = path.join(dir, 'at-a.db');
    const result = await restore(config, { database: main, output: atA, txid: afterA.toString(16).padStart(16, '0') });
    expect(result.txid).toBe(afterA);
    expect(readIds(atA)).toEqual(batchA);
    expect(integrity(atA)).toBe('ok');
    const latest = path.join(dir, 'latest.db');
    expect((await restore(config, { database: main, output: latest })).txid).toBeGreaterThan(afterA);
    expect(readIds(latest)).toEqual([...batchA, ...batchB]);
  });
  it('backups() lists every point to restore to, named as restore() takes it, on either version', async () => {
    const dir = tempDir();
    const { config, main, insert } = openApp(dir);
    const replication = track(startReplication(config));
    await replication.ready;
    const batchA = insert('A');
    await waitForSync(replication, main);
    const batchB = insert('B');
    await waitForSync(replication, main);
    await stopCleanly(replication);

    const points = await backups(config, main);
    expect(points.length).toBeGreaterThanOrEqual(2);
    expect(points[0]?.kind).toBe('snapshot');
    for (const [earlier, later] of points.slice(1).map((point, i) => [points[i], point])) {
      expect((earlier as BackupRow).createdAt.getTime()).toBeLessThanOrEqual((later as BackupRow).createdAt.getTime());
    }
    // Each row restores as it is; the last one is the latest state.
    const last = points.at(-1) as BackupRow;
    const output = path.join(dir, 'last-point.db');
    const { createdAt, kind, size, ...position } = last;
    await restore(config, { database: main, output, ...position });
    expect(readIds(output)).toEqual([...batchA, ...batchB]);
    if (family === '0.3') expect(last.generation).toMatch(/^[0-9a-f]{16}$/);
    else expect(last.txid).toBeGreaterThan(0);
  });
});
