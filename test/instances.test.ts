// Two Litestream instances in one process (e.g. two apps in one server, or an app beside a
// job runner): each holds its own leases, restores and replication, so stopping one never
// touches the other's; and two instances on one database file are refused, never two
// replicators on one file.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ensureRestored, Litestream, ReplicationError, startReplication } from '../src/index.js';
import { s3LeaseStore } from '../src/lease/store.js';
import { onCleanup, readIds, replicaIds, s3Bucket, tempDir, testConfig, track, writeRows } from './support/fixtures.js';

/** The lease object of `database`'s replica, as the next instance would read it. */
function leaseOf(config: Litestream['config'], database: string) {
  const replica = config.replica as { path: string };
  return s3LeaseStore(s3Bucket(), `${replica.path}/${path.basename(database)}.litestream-node-lease`).read();
}

/** An instance stopped after the test, whatever happens. */
function instance(config: Litestream['config']): Litestream {
  const litestream = new Litestream(config);
  onCleanup(async () => {
    await litestream.stop({ timeoutMs: 10_000 });
  });
  return litestream;
}

describe('two instances in one process', () => {
  it('each keeps its own databases: stopping one leaves the other replicating with its lease held', async () => {
    const dir = tempDir();
    const a = instance(testConfig(dir, { databases: [path.join(dir, 'a.sqlite3')] }).config);
    const b = instance(testConfig(dir, { databases: [path.join(dir, 'b.sqlite3')] }).config);
    await Promise.all([a.ensureRestored(), b.ensureRestored()]);
    await Promise.all([a.startReplication().ready, b.startReplication().ready]);
    const [aDb, bDb] = [a.config.databases[0]?.path as string, b.config.databases[0]?.path as string];

    expect(a.status().databases.map((db) => db.path)).toEqual([aDb]);
    expect(b.status().databases.map((db) => db.path)).toEqual([bDb]);
    const stopped = await a.stop();
    expect(stopped.clean).toBe(true);

    // A gave its lease back; B still holds its own and still replicates.
    expect(await leaseOf(a.config, aDb)).toBeUndefined();
    expect(await leaseOf(b.config, bDb)).toBeDefined();
    expect(b.status().state).toBe('running');
    const ids = writeRows(bDb, 'after-a-stopped', 3);
    await b.stop();
    expect(await replicaIds(b.config, bDb)).toEqual(expect.arrayContaining(ids));
  });

  it('a second instance on a database the first replicates is refused, naming the file, and nothing of the first is touched', async () => {
    const dir = tempDir();
    const database = path.join(dir, 'shared.sqlite3');
    const first = instance(testConfig(dir, { databases: [database] }).config);
    const written = writeRows(database, 'first', 3);
    await first.ensureRestored();
    await first.startReplication().ready;

    const second = new Litestream(testConfig(dir, { databases: [database] }).config);
    const restoring = await second.ensureRestored().catch((error: unknown) => error);
    expect(restoring).toBeInstanceOf(ReplicationError);
    expect((restoring as ReplicationError).message).toContain(database);
    expect((restoring as ReplicationError).message).toContain('another Litestream instance of this process');
    expect(() => second.startReplication()).toThrow(ReplicationError);
    // The module functions are one more instance: refused the same way.
    expect(() => startReplication(second.config)).toThrow(ReplicationError);

    expect(first.status().state).toBe('running');
    expect(readIds(database, 'first')).toEqual(written);
    await first.stop();

    // Once the first has stopped, the second takes over the file and its backup.
    await second.ensureRestored();
    const replication = track(second.startReplication());
    await replication.ready;
    expect(readIds(database, 'first')).toEqual(written);
  });

  it("a replication start given up before it took the boot's leases over gives them back on stop(): the next instance neither waits for them nor is refused", async () => {
    const dir = tempDir();
    const database = path.join(dir, 'given-up.sqlite3');
    const { config } = testConfig(dir, { databases: [database] });
    const first = new Litestream(config);
    await first.ensureRestored();
    expect(await leaseOf(config, database)).toBeDefined();
    // As a boot given up by SIGTERM (run) or by the app closing (Fastify) right after its restore.
    const replication = first.startReplication();
    await replication.stop({ signal: AbortSignal.abort() }).catch(() => {});
    expect(replication.status().state).toBe('stopped');
    await first.stop();

    expect(await leaseOf(config, database)).toBeUndefined();
    const next = instance(testConfig(dir, { databases: [database] }).config);
    await next.ensureRestored();
    const replicating = next.startReplication();
    await replicating.ready;
    expect(replicating.status().lease.state).toBe('held');
  });

  it('the module functions hand their boot lease to their own replication, not to an instance', async () => {
    const dir = tempDir();
    const { config, logger } = testConfig(dir, { databases: [path.join(dir, 'module.sqlite3')] });
    const database = config.databases[0]?.path as string;
    await ensureRestored(config);
    expect(logger.text().match(/replica lease taken/g)).toHaveLength(1);
    // Restored by the module functions, which now hold its lease: an instance may not use it.
    await expect(new Litestream(config).ensureRestored()).rejects.toThrow(ReplicationError);
    const replication = track(startReplication());
    await replication.ready;
    expect(replication.status().databases.map((db) => db.path)).toEqual([database]);
    expect(replication.status().lease.state).toBe('held');
    // Handed over, not taken again: a second take would replace the boot's lease object under
    // it, and the boot's lease would then be lost.
    expect(logger.text().match(/replica lease taken/g)).toHaveLength(1);
    expect(logger.text()).not.toContain('took the replica lease over');
  });
});
