import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Litestream, SyncError, startReplication } from '../src/index.js';
import { launchApp } from './reliability/harness.js';
import {
  deleteDatabase,
  litestreamChildren,
  onCleanup,
  readIds,
  s3Replica,
  tempDir,
  testConfig,
  track,
  waitFor,
  writeRows,
} from './support/fixtures.js';
import { family } from './support/litestream-version.js';
import { holdingProxy } from './support/proxy.js';
import { testS3 } from './support/s3-per-file.js';

// On 0.5 the sync interval is 30 s: a row in the replica within the test came from sync(),
// never from the regular schedule. 0.3 has no channel and waits for that schedule: 1 s.
const syncInterval = family === '0.5' ? '30s' : '1s';

/**
 * As a kill -9 of the app and its litestream: litestream is SIGKILLed at once and nothing
 * runs it again for a final sync (a stop given up through its signal).
 */
async function killLitestream(replication: ReturnType<typeof startReplication>): Promise<void> {
  const stopped = await replication.stop({ signal: AbortSignal.abort() }).catch((error: unknown) => error);
  expect(stopped).toMatchObject({ name: 'AbortError' });
}

describe('sync(): a write the app confirms is in the replica', () => {
  it('rows written before sync() resolved survive a SIGKILL of litestream and the loss of the disk', async () => {
    const dir = tempDir();
    const database = path.join(dir, 'orders.sqlite3');
    const { config } = testConfig(dir, { databases: [database], syncInterval });
    const before = writeRows(database, 'seed', 5);
    const replication = track(startReplication(config));
    await replication.ready;
    const durable = writeRows(database, 'payment', 3);
    const result = await replication.sync({ timeoutMs: 15_000 });
    expect(result.databases).toMatchObject([{ path: database, outcome: 'synced' }]);
    if (family === '0.5') expect(result.databases[0]?.txid).toBeGreaterThan(0);
    else expect(result.databases[0]?.position).toMatch(/^[0-9a-f]{16}\/[0-9a-f]{8}:\d+$/);
    // No final sync: only what sync() confirmed can be in the replica.
    await killLitestream(replication);
    expect(litestreamChildren()).toEqual([]);
    deleteDatabase(database);

    // A new instance on the same replica, as the next container's boot.
    const next = new Litestream(config);
    const [restored] = await next.ensureRestored();
    expect(restored?.outcome).toBe('restored');
    expect(readIds(database)).toEqual([...before, ...durable]);
    await next.stop();
  });

  it('a replica that cannot be reached: a SyncError within the timeout, the app keeps writing, and after recovery the row is in the replica', async () => {
    const dir = tempDir();
    const proxy = await holdingProxy(testS3().endpoint);
    const database = path.join(dir, 'outage.sqlite3');
    const { config } = testConfig(dir, {
      databases: [database],
      syncInterval,
      replica: s3Replica({ endpoint: proxy.endpoint }),
    });
    const before = writeRows(database, 'seed', 2);
    const replication = track(startReplication(config));
    await replication.ready;
    proxy.cut();
    const during = writeRows(database, 'during', 2);
    const startedAt = performance.now();
    const failed = await replication.sync({ timeoutMs: 2_000 }).catch((error: unknown) => error);
    const tookMs = performance.now() - startedAt;
    expect(failed).toBeInstanceOf(SyncError);
    expect(failed).toMatchObject({ timedOut: true, databases: [database] });
    expect((failed as Error).message).toContain('stays in the local database');
    expect(tookMs).toBeLessThan(2_000 + 1_000);
    // The app goes on: its database takes writes, and replication still runs.
    const after = writeRows(database, 'after', 2);
    expect(replication.status().state).not.toBe('stopped');

    proxy.restore();
    const recovered = await replication.sync({ timeoutMs: 30_000 });
    expect(recovered.databases[0]?.outcome).toBe('synced');
    await killLitestream(replication);
    deleteDatabase(database);
    const next = new Litestream(config);
    await next.ensureRestored();
    expect(readIds(database)).toEqual([...before, ...during, ...after]);
    await next.stop();
  });

  it('a hundred concurrent calls share a handful of syncs, and all resolve', async () => {
    const dir = tempDir();
    const database = path.join(dir, 'busy.sqlite3');
    const { config } = testConfig(dir, { databases: [database], syncInterval });
    writeRows(database, 'seed', 1);
    const replication = track(startReplication(config));
    await replication.ready;
    writeRows(database, 'burst', 100);
    const results = await Promise.all(Array.from({ length: 100 }, () => replication.sync({ timeoutMs: 15_000 })));
    expect(results.every((result) => result.databases[0]?.outcome === 'synced')).toBe(true);
    if (family === '0.5') {
      // Requests sent on the control socket: one in flight, and one for every call that came after it.
      const socketSyncs = (replication as unknown as { syncRequests(): number }).syncRequests();
      expect(socketSyncs).toBeGreaterThan(0);
      expect(socketSyncs).toBeLessThanOrEqual(2);
    }
  });

  it('the control socket is private to the app (0600 in a 0700 directory) and gone after stop()', async () => {
    const dir = tempDir();
    const database = path.join(dir, 'private.sqlite3');
    const { config } = testConfig(dir, { databases: [database], syncInterval });
    writeRows(database, 'seed', 1);
    const replication = track(startReplication(config));
    await replication.ready;
    const socket = (replication as unknown as { controlSocket(): string | undefined }).controlSocket();
    if (family === '0.3') {
      expect(socket).toBeUndefined();
      await replication.stop();
      return;
    }
    expect(socket).toBeDefined();
    await replication.sync();
    expect(statSync(socket as string).mode & 0o777).toBe(0o600);
    expect(statSync(path.dirname(socket as string)).mode & 0o777).toBe(0o700);
    await replication.stop();
    expect(existsSync(socket as string)).toBe(false);
  });

  it("a SIGKILLed app's control socket is not left behind: the next start sweeps it with the app's private directory", async () => {
    const tmp = tempDir();
    const previous = process.env.TMPDIR;
    process.env.TMPDIR = tmp;
    onCleanup(() => {
      if (previous === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = previous;
    });
    const dirsOf = (pid: number) => readdirSync(tmp).filter((name) => name.startsWith(`litestream-node-${pid}-`));
    const app = launchApp(`killed-socket-${randomUUID()}`, {
      env: { TMPDIR: tmp, LITESTREAM_SYNC_INTERVAL: syncInterval },
    });
    await app.event('ready');
    const [own] = dirsOf(app.pid);
    expect(own).toBeDefined();
    const socket = path.join(tmp, own as string, 'control.sock');
    // 0.3 has no control socket; 0.5 listens once litestream runs.
    if (family === '0.5') await waitFor(() => existsSync(socket), 10_000, 'the control socket');
    else expect(existsSync(socket)).toBe(false);
    await app.killContainer();
    expect(dirsOf(app.pid)).toEqual([own]);
    // Any start sweeps: here, one that replicates another database.
    const dir = tempDir();
    const database = path.join(dir, 'sweeper.sqlite3');
    writeRows(database, 'rows', 1);
    const replication = track(startReplication(testConfig(dir, { databases: [database], syncInterval }).config));
    await replication.started;
    expect(dirsOf(app.pid)).toEqual([]);
    expect(existsSync(socket)).toBe(false);
  });

  it('names what is wrong: an unknown database, a stopped replication, a database not yet created', async () => {
    const dir = tempDir();
    const database = path.join(dir, 'named.sqlite3');
    const later = path.join(dir, 'later.sqlite3');
    const { config } = testConfig(dir, { databases: [database, later], syncInterval });
    writeRows(database, 'seed', 1);
    const replication = track(startReplication(config));
    await replication.ready;
    // A database the app has not created yet holds nothing to lose.
    const result = await replication.sync({ timeoutMs: 15_000 });
    expect(result.databases.map((db) => [db.path, db.outcome])).toEqual([
      [database, 'synced'],
      [later, 'absent'],
    ]);
    const unknown = await replication.sync({ databases: [path.join(dir, 'other.sqlite3')] }).catch((e) => e);
    expect(unknown).toBeInstanceOf(SyncError);
    expect(unknown.message).toContain('other.sqlite3');
    await replication.stop();
    const stopped = await replication.sync().catch((e) => e);
    expect(stopped).toBeInstanceOf(SyncError);
    expect(stopped.message).toContain('replication has stopped');
    expect(stopped.message).toContain('stays in the local database');
  });

  it('with litestream disabled, sync() resolves at once: app code runs the same in development', async () => {
    const dir = tempDir();
    const { config } = testConfig(dir, { enabled: false });
    const litestream = new Litestream(config);
    const result = await litestream.sync();
    expect(result.databases.map((db) => db.outcome)).toEqual(['disabled', 'disabled']);
  });
});
