import { readdirSync } from 'node:fs';
import os from 'node:os';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { Litestream, startReplication, VerificationError, verify } from '../src/index.js';
import { readIds, s3Replica, stopCleanly, tempDir, testConfig, track, writeRows } from './support/fixtures.js';
import { restoredPosition } from './support/litestream-version.js';
import { holdingProxy } from './support/proxy.js';
import { testS3 } from './support/s3-per-file.js';

const verifyDirs = () => readdirSync(os.tmpdir()).filter((name) => name.startsWith('litestream-node-verify-'));

function sentinelTableExists(file: string): boolean {
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare("SELECT 1 FROM sqlite_schema WHERE name = '_litestream_node_verify'").get() !== undefined;
  } finally {
    db.close();
  }
}

async function verifyError(promise: Promise<unknown>): Promise<VerificationError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(VerificationError);
  return error as VerificationError;
}

describe('verify', () => {
  it('proves a healthy backup end to end and leaves nothing behind', async () => {
    const dir = tempDir();
    const { config } = testConfig(dir);
    const main = config.databases[0]?.path as string;
    const ids = writeRows(main, 'kept', 30);
    writeRows(config.databases[1]?.path as string, 'jobs', 1);
    const litestream = new Litestream(config);
    track(litestream.startReplication());
    await litestream.replication?.ready;
    const tempBefore = verifyDirs();

    const report = await litestream.verify(main, { timeoutMs: 30_000 });
    expect(report.database).toBe(main);
    restoredPosition(report);
    expect(report.restoredSize).toBeGreaterThan(0);
    expect(report.durationMs).toBeGreaterThan(0);

    expect(sentinelTableExists(main)).toBe(false);
    expect(readIds(main)).toEqual(ids);
    expect(verifyDirs()).toEqual(tempBefore);
    await stopCleanly(litestream.replication as NonNullable<typeof litestream.replication>);
  });

  it('fails at the replicating step when no replicator runs', async () => {
    const dir = tempDir();
    const { config } = testConfig(dir);
    const main = config.databases[0]?.path as string;
    writeRows(main, 'x', 1);
    const error = await verifyError(verify(config, main, { timeoutMs: 5_000 }));
    expect(error.step).toBe('replicating');
    expect(error.message).toMatch(/not being replicated by this process/);
    expect(sentinelTableExists(main)).toBe(false);
  });

  it('fails at the sync step when the replica is down, removing its sentinel', async () => {
    const dir = tempDir();
    const proxy = await holdingProxy(testS3().endpoint);
    const { config } = testConfig(dir, { replica: s3Replica({ endpoint: proxy.endpoint }) });
    const main = config.databases[0]?.path as string;
    writeRows(main, 'x', 5);
    writeRows(config.databases[1]?.path as string, 'jobs', 1);
    const replication = track(startReplication(config));
    await replication.ready;
    const tempBefore = verifyDirs();
    proxy.cut();

    const error = await verifyError(verify(config, main, { timeoutMs: 3_000 }));
    expect(error.step).toBe('sync');
    expect(error.message).toMatch(/did not sync the sentinel .* within 3000 ms/);
    expect(sentinelTableExists(main)).toBe(false);
    expect(verifyDirs()).toEqual(tempBefore);
    proxy.restore();
  });
});
