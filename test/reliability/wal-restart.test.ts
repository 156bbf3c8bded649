// Scenario 3b: while litestream is down (between a crash and its restart), the app commits,
// checkpoints, and SQLite restarts the WAL from its start. The old WAL's frames stay in the
// file past the new ones. Litestream 0.5.18 takes them for proof that it missed nothing and
// goes on from the new WAL's start: what the app committed meanwhile never reaches the
// replica, and the replica restores with a hole (found by scenario 3, reproduced here
// deterministically). The library truncates the WAL before litestream runs again.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type Database from 'better-sqlite3';
import Sqlite from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { type LitestreamConfig, ltx, restore, startReplication } from '../../src/index.js';
import {
  litestreamChildren,
  onCleanup,
  openDatabase,
  stopCleanly,
  tempDir,
  testConfig,
  track,
  waitFor,
} from '../support/fixtures.js';
import { family } from '../support/litestream-version.js';
import { Scenario, trials } from './harness.js';

/** The salts in a WAL's header: they change each time SQLite restarts the WAL. */
function walSalts(database: string): string {
  return readFileSync(`${database}-wal`).subarray(16, 24).toString('hex');
}

/** Rows of about 500 bytes, so that the WAL is several hundred KiB long. */
function insert(db: Database.Database, label: string, count: number): void {
  const statement = db.prepare('INSERT INTO items (label, body) VALUES (?, ?)');
  db.transaction(() => {
    for (let i = 0; i < count; i++) statement.run(label, 'x'.repeat(500));
  })();
}

/**
 * What happens to the app while litestream is down: commits it never read (changes to the
 * first rows, in pages nothing later rewrites, and new rows), a checkpoint of the whole WAL,
 * then one more commit, with which SQLite restarts the WAL from its start. Throws when the
 * WAL did not restart.
 */
function commitAndRestartWal(db: Database.Database, database: string): void {
  const before = walSalts(database);
  const update = db.prepare("UPDATE items SET label = 'changed-while-down' WHERE id = ?");
  for (let id = 1; id <= 8; id++) update.run(id);
  insert(db, 'while-down', 8);
  const [checkpoint] = db.pragma('wal_checkpoint(PASSIVE)') as { busy: number; log: number; checkpointed: number }[];
  if (checkpoint?.busy !== 0 || checkpoint.log !== checkpoint.checkpointed) {
    throw new Error(`the checkpoint did not complete: ${JSON.stringify(checkpoint)}`);
  }
  insert(db, 'after-restart', 1);
  if (walSalts(database) === before) throw new Error('the WAL did not restart (its salts are unchanged)');
}

/** Every row's id and label, in id order. */
function rows(file: string): string[] {
  const db = new Sqlite(file, { readonly: true, fileMustExist: true });
  try {
    return (db.prepare('SELECT id, label FROM items ORDER BY id').all() as { id: number; label: string }[]).map(
      (row) => `${row.id} ${row.label}`,
    );
  } finally {
    db.close();
  }
}

/** `rows` of the replica's latest state (or as of a Litestream 0.5 transaction), restored into a temp file. */
async function replicaRows(config: LitestreamConfig, database: string, txid?: number): Promise<string[]> {
  const output = path.join(tempDir(), 'from-replica.db');
  await restore(config, { database, output, ...(txid === undefined ? {} : { txid }) });
  return rows(output);
}

function openWithTable(file: string): Database.Database {
  const db = openDatabase(file);
  db.exec('CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, label TEXT NOT NULL, body TEXT NOT NULL)');
  return db;
}

describe('the WAL restarted while litestream was down', () => {
  it(
    '3b. nothing the app committed while litestream was down is missing from the replica',
    async ({ task }) => {
      const scenario = new Scenario('3b. WAL checkpointed and restarted between a crash and the restart', task);
      for (let trial = 0; trial < trials(5, 1); trial++) {
        const dir = tempDir();
        const file = path.join(dir, 'app.sqlite3');
        // A restart delay of 1.5–3 s: time for the app to restart the WAL meanwhile.
        const { config } = testConfig(dir, {
          databases: [file],
          supervisor: { initialBackoffMs: 3_000, maxBackoffMs: 3_000, resetAfterMs: 60_000 },
        });
        const db = openWithTable(file);
        onCleanup(() => {
          db.close();
        });
        insert(db, 'before', 2_000);
        const replication = track(startReplication(config));
        await replication.ready;
        // Litestream 0.5 makes its first snapshot (level 9) soon after the first sync; made
        // after the restart instead, it would hold what the restart missed, and hide it.
        if (family === '0.5') {
          await waitFor(
            async () => (await ltx(config, file)).some((row) => row.level === 9),
            20_000,
            'the first snapshot to reach the replica',
          );
        }
        const victim = litestreamChildren()[0] as number;
        const restarted = new Promise<void>((resolve) => {
          replication.once('restart', () => {
            commitAndRestartWal(db, file);
            resolve();
          });
        });
        process.kill(victim, 'SIGKILL');
        await restarted;
        await new Promise((resolve) => replication.once('spawn', resolve));
        insert(db, 'after', 20);
        const committed = rows(file);
        await waitFor(
          () => replication.status().databases[0]?.synced && replication.status().healthy,
          20_000,
          'replication to catch up after the restart',
        );
        await stopCleanly(replication);
        const restored = await replicaRows(config, file);
        const missing = committed.filter((row) => !restored.includes(row));
        const problems =
          missing.length === 0
            ? []
            : [`the replica lacks ${missing.length} committed rows (id label): ${missing.slice(0, 10).join(', ')}`];
        scenario.trial(problems, { windowMs: 0, lostAcknowledged: missing.length > 0 });
      }
    },
    trials(5, 1) * 60_000,
  );

  // What the library works around, with the litestream 0.5 CLI alone. When this fails, a
  // Litestream release no longer loses these commits: the truncation before a restart
  // (Engine.resumeNeedsTruncatedWal) can then be limited to the releases that do.
  it.skipIf(family !== '0.5')(
    'Litestream 0.5 by itself loses the commits made while it was down when the WAL restarted meanwhile',
    async () => {
      const dir = tempDir();
      const file = path.join(dir, 'app.sqlite3');
      const replicaDir = path.join(dir, 'replica');
      const yaml = path.join(dir, 'litestream.yml');
      // Where the library's own config for `replicaDir` puts this database's replica.
      const replicaPath = path.join(replicaDir, 'app.sqlite3');
      writeFileSync(yaml, `dbs:\n  - path: ${file}\n    replica:\n      type: file\n      path: ${replicaPath}\n`);
      const binary = process.env.LITESTREAM_BINARY_PATH as string;
      const run = () => {
        const child = spawn(binary, ['replicate', '-config', yaml], { stdio: 'ignore' });
        onCleanup(() => {
          child.kill('SIGKILL');
        });
        return child;
      };
      const ltxFiles = () =>
        existsSync(replicaDir)
          ? readdirSync(replicaDir, { recursive: true, encoding: 'utf8' }).filter((name) => name.endsWith('.ltx'))
          : [];
      const db = openWithTable(file);
      onCleanup(() => {
        db.close();
      });
      insert(db, 'before', 2_000);
      let litestream = run();
      // Its first sync reads the whole WAL (nothing is written after it started), and its
      // first snapshot (level 9) follows; without one, the next run would make one at once,
      // which would hold the lost changes.
      await waitFor(
        () => ltxFiles().some((name) => name.split(path.sep).at(-2) === '9'),
        20_000,
        'the first snapshot to reach the replica',
      );
      litestream.kill('SIGKILL');
      await new Promise((resolve) => litestream.once('exit', resolve));
      commitAndRestartWal(db, file);
      litestream = run();
      insert(db, 'after', 20);
      const uploaded = ltxFiles().length;
      await waitFor(() => ltxFiles().length > uploaded, 20_000, 'the restarted litestream to upload');
      litestream.kill('SIGTERM');
      await new Promise((resolve) => litestream.once('exit', resolve));
      const { config } = testConfig(dir, { databases: [file], replica: { type: 'file', path: replicaDir } });
      // The latest state holds the rows committed after the restart, not the changes
      // committed before it.
      const restored = await replicaRows(config, file);
      expect(restored.at(-1)).toBe(rows(file).at(-1));
      expect(rows(file).slice(0, 8)).toEqual(Array.from({ length: 8 }, (_, i) => `${i + 1} changed-while-down`));
      expect(restored.slice(0, 8)).toEqual(Array.from({ length: 8 }, (_, i) => `${i + 1} before`));
    },
  );
});
