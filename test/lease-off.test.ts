// The lease turned off (LITESTREAM_LEASE=off) with real app processes, real litestream and a
// real S3 server: "off" takes no lease, but never writes over an instance that holds one.
// The protocol's corners (another machine's holder, outages): lease-off-protocol.test.ts.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import {
  type AppEvent,
  LOSS_BUDGET_MS,
  launchApp,
  lossWindowMs,
  readLoad,
  restoreFresh,
} from './reliability/harness.js';
import { processAlive, tempDir, waitFor } from './support/fixtures.js';
import { family } from './support/litestream-version.js';

/** A short lease: renewed every second; with it off, read every second. */
const TAKE = { LITESTREAM_LEASE_TTL: '3s' };
const OFF = { LITESTREAM_LEASE: 'off', LITESTREAM_LEASE_TTL: '3s' };

const eventOf = (events: AppEvent[], name: string) => events.find((event) => event.event === name);
const digest = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

describe('the lease turned off: no lease taken, no live holder written over', () => {
  it('a lease-off instance is refused while the writer runs, and starts normally once the writer has stopped; every acknowledged row is in a fresh restore', async () => {
    const prefix = `lease-off-${Date.now()}`;
    const writer = launchApp(prefix, { env: TAKE });
    await writer.event('ready');
    writer.send('load');
    await waitFor(() => writer.acks.length > 20, 10_000, 'the writer to take writes');

    const second = launchApp(prefix, { env: OFF });
    const error = await second.event('error');
    expect(error).toMatchObject({ name: 'ReplicaLeaseError', holder: { host: hostname(), pid: writer.pid } });
    // Who holds it, since when, and the fixes.
    expect(error.message).toMatch(
      new RegExp(`held by another instance, ${hostname()} pid ${writer.pid} \\(started \\d{4}-\\d\\d-\\d\\dT`),
    );
    expect(error.message).toContain('LITESTREAM_LEASE=off');
    expect(error.message).toContain('Stop that instance first');
    expect(error.message).toContain('LITESTREAM_LEASE=off-write-over-live-holder');
    expect((await second.exited).code).toBe(1);
    expect(existsSync(second.database)).toBe(false);
    expect(second.litestreamPids()).toEqual([]);

    // The writer did not notice, and goes on.
    expect(await writer.status()).toMatchObject({ healthy: true, lease: { state: 'held' } });
    const acked = writer.acks.length;
    await waitFor(() => writer.acks.length > acked + 20, 10_000, 'the writer to go on writing');
    expect(await writer.terminate()).toMatchObject({ clean: true, killed: false });

    // Released with its final sync: the lease-off instance restores every acknowledged row and replicates.
    const next = launchApp(prefix, { env: OFF });
    expect(await next.event('restored', 30_000)).toMatchObject({ outcomes: ['restored'] });
    await next.event('ready');
    expect(eventOf(next.events, 'waiting')).toBeUndefined();
    expect(readLoad(next.database)).toEqual({ maxId: writer.lastAcked(), integrity: 'ok' });
    expect(await next.status()).toMatchObject({ healthy: true, lease: { state: 'off' } });
    next.send('load');
    await waitFor(() => next.acks.length > 20, 10_000, 'the lease-off instance to take writes');
    expect(await next.terminate()).toMatchObject({ clean: true });
    const after = await restoreFresh(prefix);
    expect(after).toMatchObject({ outcome: 'restored', integrity: 'ok', maxId: next.lastAcked() });
    expect(next.lastAcked()).toBeGreaterThan(writer.lastAcked());
    for (const app of [writer, next]) expect(app.output()).toContain(`"msg":"using litestream v${family}.`);
  });

  it('a lease-off instance whose database is on disk (a persistent volume) is refused too, its file untouched', async () => {
    const prefix = `lease-off-present-${Date.now()}`;
    const writer = launchApp(prefix, { env: TAKE });
    await writer.event('ready');
    writer.send('load');
    await waitFor(() => writer.acks.length > 20, 10_000, 'the writer to take writes');

    const dir = tempDir();
    const file = path.join(dir, 'app.sqlite3');
    const own = new Database(file);
    own.exec(
      "CREATE TABLE items (id INTEGER PRIMARY KEY, body TEXT NOT NULL); INSERT INTO items (body) VALUES ('old')",
    );
    own.close();
    const before = { digest: digest(file), entries: readdirSync(dir).sort() };

    const second = launchApp(prefix, { env: OFF, dir });
    const error = await second.event('error');
    expect(error).toMatchObject({ name: 'ReplicaLeaseError', holder: { pid: writer.pid } });
    expect((await second.exited).code).toBe(1);
    expect({ digest: digest(file), entries: readdirSync(dir).sort() }).toEqual(before);
    expect(second.litestreamPids()).toEqual([]);

    expect(await writer.terminate()).toMatchObject({ clean: true });
    expect(await restoreFresh(prefix)).toMatchObject({
      outcome: 'restored',
      integrity: 'ok',
      maxId: writer.lastAcked(),
    });
  });

  it('a writer SIGKILLed on this machine is seen to be gone: the lease-off instance boots without waiting its ttl out, rows within the sync window', async () => {
    const prefix = `lease-off-crash-${Date.now()}`;
    const writer = launchApp(prefix, { env: { LITESTREAM_LEASE_TTL: '60s' } });
    await writer.event('ready');
    writer.send('load');
    await waitFor(() => writer.acks.length > 20, 10_000, 'the writer to take writes');
    const killedAt = await writer.killContainer();

    // A 60 s ttl: only the dead holder's pid lets it in sooner.
    const next = launchApp(prefix, { env: { LITESTREAM_LEASE: 'off', LITESTREAM_LEASE_TTL: '60s' } });
    const restored = await next.event('restored', 30_000);
    expect((restored.at as number) - killedAt).toBeLessThan(20_000);
    expect(next.output()).toContain('names an instance that stopped renewing it');
    await next.event('ready');
    const rows = readLoad(next.database);
    expect(rows.integrity).toBe('ok');
    expect(lossWindowMs(writer.acks, rows.maxId, killedAt)).toBeLessThanOrEqual(LOSS_BUDGET_MS);
    expect(await next.terminate()).toMatchObject({ clean: true });
  });

  it('"off-write-over-live-holder" lets it through, with a warning that names the holder', async () => {
    const prefix = `lease-off-force-${Date.now()}`;
    const writer = launchApp(prefix, { env: TAKE });
    await writer.event('ready');
    writer.send('load');
    await waitFor(() => writer.acks.length > 20, 10_000, 'the writer to take writes');
    // Rows that are in the replica before the second instance boots.
    const synced = writer.acks.at(-1) as { to: number; at: number };
    await waitFor(
      async () => ((await writer.status()).lastSyncAt as number) > synced.at || undefined,
      10_000,
      'the writer to sync them',
    );

    const forced = launchApp(prefix, { env: { ...OFF, LITESTREAM_LEASE: 'off-write-over-live-holder' } });
    await forced.event('ready', 30_000);
    expect(forced.output()).toMatch(
      new RegExp(
        // (The app logs JSON: the quotes around the mode are escaped.)
        `off-write-over-live-holder\\W+ for .* two writers fork the backup.*The lease .*: it names ${hostname()} pid ${writer.pid} `,
      ),
    );
    expect(eventOf(forced.events, 'waiting')).toBeUndefined();
    expect(await forced.status()).toMatchObject({ state: 'running', lease: { state: 'off' } });
    // What it restored is the writer's, up to a point.
    const restored = readLoad(forced.database);
    expect(restored.integrity).toBe('ok');
    expect(restored.maxId).toBeGreaterThanOrEqual(synced.to);
    expect(restored.maxId).toBeLessThanOrEqual(writer.lastAcked());
    // The writer is not told either: that is what the option says.
    expect(await writer.status()).toMatchObject({ lease: { state: 'held' } });
    await forced.terminate();
    await writer.terminate();
  });

  it('while it replicates, an instance that takes the lease stops the lease-off one for good, within a third of the ttl', async () => {
    const prefix = `lease-off-taken-${Date.now()}`;
    const off = launchApp(prefix, { env: OFF });
    await off.event('ready');
    expect(await off.status()).toMatchObject({ healthy: true, lease: { state: 'off' } });

    const taker = launchApp(prefix, { env: TAKE });
    // The lease is taken before the restore.
    const restored = await taker.event('restored', 30_000);
    const lost = await off.event('lease', 10_000);
    expect(lost).toMatchObject({ state: 'lost' });
    expect(lost.error).toMatch(new RegExp(`Another instance, ${hostname()} pid ${taker.pid} .* with the lease off`));
    expect((lost.at as number) - (restored.at as number)).toBeLessThan(3_000);
    expect(await off.status()).toMatchObject({ healthy: false, lease: { state: 'lost' } });
    await waitFor(
      () => off.litestreamPids().every((pid) => !processAlive(pid)) || undefined,
      10_000,
      'its litestream to stop',
    );

    await taker.event('ready');
    taker.send('load');
    await waitFor(() => taker.acks.length > 20, 10_000, 'the lease holder to take writes');
    expect(await taker.terminate()).toMatchObject({ clean: true });
    await off.terminate();
    expect(await restoreFresh(prefix)).toMatchObject({
      outcome: 'restored',
      integrity: 'ok',
      maxId: taker.lastAcked(),
    });
  });
});
