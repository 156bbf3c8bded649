import { spawn } from 'node:child_process';
import { openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveBinary } from '../src/engine/binary.js';
import { ensureRestored, type LitestreamConfig, ReplicationError, startReplication } from '../src/index.js';
import { launchApp } from './reliability/harness.js';
import {
  onCleanup,
  processAlive,
  processesWithOpen,
  readIds,
  replicaIds,
  replicatorsOf,
  s3Replica,
  tempDir,
  testConfig,
  track,
  waitFor,
  writeRows,
} from './support/fixtures.js';
import { engine } from './support/litestream-version.js';
import { holdingProxy } from './support/proxy.js';
import { testS3 } from './support/s3-per-file.js';

function killAll(pids: number[]) {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {}
  }
}

/**
 * A real `litestream replicate` of `config` whose owner is gone: its output goes to a file,
 * so no broken pipe stops it, and the pidfile beside each database names it and a dead owner.
 */
async function startOrphan(config: LitestreamConfig, dir: string, pidfileDir = dir) {
  const binary = await resolveBinary();
  const yaml = path.join(dir, 'orphan.yml');
  writeFileSync(yaml, engine.renderYaml(config));
  const out = openSync(path.join(dir, 'orphan.log'), 'w');
  const orphan = spawn(binary.path, ['replicate', '-config', yaml, '-no-expand-env'], {
    stdio: ['ignore', out, out],
    env: {
      ...process.env,
      LITESTREAM_ACCESS_KEY_ID: testS3().accessKeyId,
      LITESTREAM_SECRET_ACCESS_KEY: testS3().secretAccessKey,
    },
  });
  onCleanup(() => killAll(orphan.pid ? [orphan.pid] : []));
  const deadOwner = spawn(process.execPath, ['-e', '']);
  await new Promise((resolve) => deadOwner.on('exit', resolve));
  const main = config.databases[0]?.path as string;
  await waitFor(() => processesWithOpen(main).includes(orphan.pid as number), 10_000, 'the orphan to open the db');
  for (const database of config.databases) {
    writeFileSync(
      path.join(pidfileDir, `.${path.basename(database.path)}-litestream-node.pid`),
      JSON.stringify({ ownerPid: deadOwner.pid, litestreamPid: orphan.pid }),
    );
  }
  return orphan.pid as number;
}

describe('no replicator outlives its app', () => {
  it('litestream exits by itself when the app is SIGKILLed', async () => {
    const app = launchApp(`orphan-${Date.now()}`);
    const litestreamPid = (await app.event('ready')).pid as number;
    expect(replicatorsOf(app.database)).toEqual([litestreamPid]);

    // Only the app, not its process group: nothing but the broken pipe can stop litestream.
    process.kill(app.pid, 'SIGKILL');
    // Its next log write fails once the app's end of the pipe is gone.
    await waitFor(() => !processAlive(litestreamPid), 10_000, 'the orphaned litestream to exit');
    expect(processesWithOpen(app.database)).toEqual([]);
  });

  // An app started again after a SIGKILL: reliability scenario 6 (test/reliability/processes.test.ts).

  it.each([
    ['', undefined],
    // Debian slim images (examples/docker's base) have no ps: /proc must be enough.
    [' where no ps is installed', 'no-ps'],
  ])('stops an orphaned replicator recorded in the pidfile before starting its own%s', async (_where, withoutPs) => {
    const dir = tempDir();
    const { config, logger } = testConfig(dir);
    for (const database of config.databases) writeRows(database.path, 'seed', 3);
    const orphan = await startOrphan(config, dir);
    const main = config.databases[0]?.path as string;

    if (withoutPs) {
      const path = process.env.PATH;
      process.env.PATH = tempDir();
      onCleanup(() => {
        process.env.PATH = path;
      });
    }
    const replication = track(startReplication(config));
    await replication.ready;
    expect(processAlive(orphan)).toBe(false);
    expect(processesWithOpen(main)).toEqual([replication.status().pid]);
    expect(logger.lines.some((line) => line.level === 'warn' && /orphaned litestream/.test(line.message ?? ''))).toBe(
      true,
    );
  });

  it('a pidfile left by a crash whose owner pid now belongs to another process does not block the next start', async () => {
    const dir = tempDir();
    const { config } = testConfig(dir);
    for (const database of config.databases) writeRows(database.path, 'seed', 3);
    // A live process that is not the recorded owner: the pid was reused (containers restart with the same pids).
    const stranger = spawn('sleep', ['30']);
    onCleanup(() => killAll(stranger.pid ? [stranger.pid] : []));
    for (const database of config.databases) {
      writeFileSync(
        path.join(dir, `.${path.basename(database.path)}-litestream-node.pid`),
        JSON.stringify({ ownerPid: stranger.pid, ownerStart: '1', litestreamPid: 0 }),
      );
    }
    const replication = track(startReplication(config));
    await replication.ready;
    expect(replication.status().state).toBe('running');
  });

  it("a missing database whose app died while its litestream still runs: the restore has what that litestream's final sync uploaded", async () => {
    // The dead app's side: its litestream uploads only its first snapshot by itself (a
    // one-minute sync interval), so rows written after that reach the replica only in the
    // final sync it makes when it is stopped; it reaches S3 through a proxy the test holds.
    const replica = s3Replica();
    const proxy = await holdingProxy(testS3().endpoint);
    const oldDir = tempDir();
    const old = testConfig(oldDir, {
      databases: [path.join(oldDir, 'app.sqlite3')],
      replica: { ...replica, endpoint: proxy.endpoint },
      syncInterval: '1m',
    });
    const oldDb = old.config.databases[0]?.path as string;
    const early = writeRows(oldDb, 'early', 3);
    // The new container: the same database name, missing, beside the dead app's pidfile.
    const dir = tempDir();
    const { config, logger } = testConfig(dir, { databases: [path.join(dir, 'app.sqlite3')], replica });
    const database = config.databases[0]?.path as string;
    const orphan = await startOrphan(old.config, oldDir, dir);
    // Until its first snapshot lands, there is no backup to read.
    await waitFor(
      async () => (await replicaIds(config, database).catch(() => [])).length === early.length,
      20_000,
      'the first snapshot',
    );
    const late = writeRows(oldDb, 'late', 5);

    // The final sync is held until a download that began before it has finished: that
    // download lacks the late rows, and must not be what is put in place.
    proxy.stall();
    const renamed = () =>
      logger.lines.filter((line) => line.message === 'renaming database from temporary location').length;
    const before = renamed();
    const restoring = ensureRestored(config);
    await waitFor(() => renamed() > before, 20_000, 'a download to finish');
    proxy.release();
    const [result] = await restoring;
    expect(result?.outcome).toBe('restored');
    expect(processAlive(orphan)).toBe(false);
    expect(readIds(database)).toEqual([...early, ...late]);
    // Nothing of the dead app's claim, nor of the restore, stays beside the database: the
    // pidfile is this process's claim now, kept for the replication that follows.
    expect(readdirSync(dir).filter((entry) => /\.restore-|\.pid\./.test(entry))).toEqual([]);
    const claim = JSON.parse(readFileSync(path.join(dir, '.app.sqlite3-litestream-node.pid'), 'utf8'));
    expect(claim).toMatchObject({ ownerPid: process.pid, litestreamPid: 0 });
  });

  it('refuses to start when a live app already replicates the database', async () => {
    const app = launchApp(`live-${Date.now()}`);
    await app.event('ready');
    const db = app.database;
    const dir = path.dirname(db);

    const { config } = testConfig(dir, { databases: [db] });
    const replication = startReplication(config);
    const error = await replication.ready.then(
      () => undefined,
      (reason: unknown) => reason,
    );
    expect(error).toBeInstanceOf(ReplicationError);
    expect((error as Error).message).toMatch(/already replicated by litestream .* another running process/);
    expect(replication.status().state).toBe('stopped');
    expect(replicatorsOf(db)).toHaveLength(1);
  });
});
