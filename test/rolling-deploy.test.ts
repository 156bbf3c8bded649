// One writer per replica path across instances: two app processes on two directories and one
// replica path, as a rolling deploy runs the old and the new container side by side.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { hostname } from 'node:os';
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
import { privileged } from './support/privileged.js';
import { holdingProxy } from './support/proxy.js';
import { testS3 } from './support/s3-per-file.js';

/** A short lease, so that expiry is seconds: renewed every second, paused after 2.4 s without. */
const LEASE = { LITESTREAM_LEASE_TTL: '3s', LITESTREAM_LEASE_WAIT: '60s' };

/**
 * The app in a pid namespace of its own, as in another container: its pid means nothing to
 * the other instance, which can only wait for its lease to expire.
 */
const OTHER_CONTAINER = ['unshare', '--pid', '--fork', '--kill-child', '--mount-proc'];
// Skipped on a developer's machine without root; under CI the file fails instead.
const canUnshare = privileged(
  'test/rolling-deploy.test.ts',
  'unshare --pid (a pid namespace for the other container)',
  (() => {
    try {
      execFileSync('unshare', ['--pid', '--fork', '--mount-proc', 'true'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  })(),
);

const eventOf = (events: AppEvent[], name: string) => events.find((event) => event.event === name);

describe('one writer per replica path (rolling deploys)', () => {
  it('the new instance waits until the old one has made its final sync and released the replica; every acknowledged row survives, and it goes on', async () => {
    const prefix = `deploy-wait-${Date.now()}`;
    const old = launchApp(prefix, { env: LEASE });
    await old.event('ready');
    old.send('load');
    await waitFor(() => old.acks.length > 20, 10_000, 'the old instance to take writes');

    const next = launchApp(prefix, { env: LEASE });
    const waiting = await next.event('waiting');
    expect(waiting.holder).toMatchObject({ host: hostname(), pid: old.pid });
    // While it waits, the old instance still takes writes, and the new one has read nothing.
    const acked = old.acks.length;
    await waitFor(() => old.acks.length > acked + 20, 10_000, 'the old instance to go on writing');
    expect(eventOf(next.events, 'restored')).toBeUndefined();
    expect(existsSync(next.database)).toBe(false);

    const stopped = await old.terminate();
    expect(stopped).toMatchObject({ clean: true, killed: false });
    const restored = await next.event('restored', 30_000);
    expect(restored.outcomes).toEqual(['restored']);
    await next.event('ready');
    expect(readLoad(next.database)).toEqual({ maxId: old.lastAcked(), integrity: 'ok' });

    // The new instance replicates what it writes from there.
    next.send('load');
    await waitFor(() => next.acks.length > 20, 10_000, 'the new instance to take writes');
    expect(await next.terminate()).toMatchObject({ clean: true });
    const after = await restoreFresh(prefix);
    expect(after).toMatchObject({ outcome: 'restored', integrity: 'ok', maxId: next.lastAcked() });
    expect(next.lastAcked()).toBeGreaterThan(old.lastAcked());
    // Each instance ran the Litestream under test.
    for (const app of [old, next]) expect(app.output()).toContain(`"msg":"using litestream v${family}.`);
  });

  it('with lease "refuse", the new instance exits at once with a ReplicaLeaseError naming the holder, and creates nothing', async () => {
    const prefix = `deploy-refuse-${Date.now()}`;
    const old = launchApp(prefix, { env: LEASE });
    await old.event('ready');

    const refused = launchApp(prefix, { env: { ...LEASE, LITESTREAM_LEASE: 'refuse' } });
    const error = await refused.event('error');
    expect(error).toMatchObject({ name: 'ReplicaLeaseError', holder: { host: hostname(), pid: old.pid } });
    expect(error.message).toContain(`${hostname()} pid ${old.pid}`);
    // It came from the environment: the message names the variable, not the option.
    expect(error.message).toContain('LITESTREAM_LEASE is "refuse"');
    expect(error.message).not.toContain('lease.whenHeld');
    expect((await refused.exited).code).toBe(1);
    expect(existsSync(refused.database)).toBe(false);
    // The holder did not notice.
    expect(await old.status()).toMatchObject({ healthy: true, lease: { state: 'held' } });
  });

  it('a holder SIGKILLed on this machine is seen to be gone: its lease is taken over at once, rows within the sync window', async () => {
    const prefix = `deploy-crash-${Date.now()}`;
    const old = launchApp(prefix, { env: { ...LEASE, LITESTREAM_LEASE_TTL: '60s' } });
    await old.event('ready');
    old.send('load');
    await waitFor(() => old.acks.length > 20, 10_000, 'the old instance to take writes');
    const killedAt = await old.killContainer();

    // A 60 s ttl, and a 60 s wait: only the dead holder's pid can let it in.
    const next = launchApp(prefix, { env: { ...LEASE, LITESTREAM_LEASE_TTL: '60s' } });
    await next.event('restored', 30_000);
    await next.event('ready');
    expect(next.output()).toContain('took the replica lease over from an instance that stopped renewing it');
    const restored = readLoad(next.database);
    expect(restored.integrity).toBe('ok');
    expect(lossWindowMs(old.acks, restored.maxId, killedAt)).toBeLessThanOrEqual(LOSS_BUDGET_MS);
  });

  it.runIf(canUnshare)(
    'a holder SIGKILLed in another container is taken over once its lease expires, not before (needs root for a pid namespace)',
    async () => {
      const prefix = `deploy-expire-${Date.now()}`;
      // A container has a /tmp of its own too: a process in another pid namespace cannot tell
      // whether the owner of a temp directory there still runs.
      const old = launchApp(prefix, { env: { ...LEASE, TMPDIR: tempDir() }, wrap: OTHER_CONTAINER });
      await old.event('ready');
      old.send('load');
      await waitFor(() => old.acks.length > 20, 10_000, 'the old instance to take writes');
      const next = launchApp(prefix, { env: LEASE });
      await next.event('waiting');

      process.kill(-old.pid, 'SIGKILL');
      const killedAt = Date.now();
      await old.exited;
      // Its last renewal was at most a second before the kill: the lease lasts 2 s past it at least.
      await waitFor(() => Date.now() - killedAt >= 1_000, 2_000, 'a second to pass');
      expect(eventOf(next.events, 'restored')).toBeUndefined();

      const restored = await next.event('restored', 30_000);
      expect(restored.at as number).toBeGreaterThanOrEqual(killedAt + 1_000);
      await next.event('ready');
      expect(next.output()).toContain('took the replica lease over from an instance that stopped renewing it');
      const rows = readLoad(next.database);
      expect(rows.integrity).toBe('ok');
      expect(lossWindowMs(old.acks, rows.maxId, killedAt)).toBeLessThanOrEqual(LOSS_BUDGET_MS);
    },
  );

  it('a holder that cannot renew stops replicating before another instance can take the replica, and never writes it again', async () => {
    const prefix = `deploy-blackout-${Date.now()}`;
    const proxy = await holdingProxy(testS3().endpoint);
    const old = launchApp(prefix, { env: { ...LEASE, LITESTREAM_S3_ENDPOINT: proxy.endpoint } });
    await old.event('ready');
    old.send('load');
    await waitFor(() => old.acks.length > 20, 10_000, 'the old instance to take writes');
    const next = launchApp(prefix, { env: LEASE });
    await next.event('waiting');

    // Every request of the old instance hangs: its lease, and its litestream's uploads.
    proxy.stall();
    const paused = await old.event('lease', 10_000);
    expect(paused).toMatchObject({ state: 'paused' });
    await waitFor(() => old.litestreamPids().every((pid) => !processAlive(pid)), 5_000, 'its litestream to be killed');
    expect(await old.status()).toMatchObject({ healthy: false, lease: { state: 'paused' } });

    // Only after the pause can the waiting instance take the replica over.
    const restored = await next.event('restored', 30_000);
    expect(restored.at as number).toBeGreaterThan(paused.at as number);
    await next.event('ready');

    // The old instance's renewal then finds the lease taken: it stops for good.
    const spawnsBefore = old.litestreamPids().length;
    proxy.release();
    const lost = await old.event('lease', 30_000, 1);
    expect(lost).toMatchObject({ state: 'lost' });
    expect(lost.error).toMatch(/Another instance took over the replica/);
    expect(await old.status()).toMatchObject({ healthy: false, state: 'stopped', lease: { state: 'lost' } });
    expect(old.litestreamPids()).toHaveLength(spawnsBefore);

    // What the new instance writes is what the replica holds.
    next.send('load');
    await waitFor(() => next.acks.length > 20, 10_000, 'the new instance to take writes');
    expect(await next.terminate()).toMatchObject({ clean: true });
    expect(await restoreFresh(prefix)).toMatchObject({ outcome: 'restored', integrity: 'ok', maxId: next.lastAcked() });
    await old.terminate();
  });
});

describe('one writer per replica path, file replica', () => {
  it('the new instance waits for the old one on a shared replica directory too (a lease file), then has every acknowledged row', async () => {
    const replica = tempDir();
    const env = { ...LEASE, LITESTREAM_S3_BUCKET: '', LITESTREAM_FILE_REPLICA: replica };
    const old = launchApp('file', { env });
    await old.event('ready');
    old.send('load');
    await waitFor(() => old.acks.length > 20, 10_000, 'the old instance to take writes');
    const next = launchApp('file', { env });
    expect(await next.event('waiting')).toMatchObject({ holder: { pid: old.pid } });
    expect((await old.terminate()).clean).toBe(true);
    await next.event('ready', 30_000);
    expect(readLoad(next.database)).toEqual({ maxId: old.lastAcked(), integrity: 'ok' });
    await next.terminate();
    // The lease file is gone after the release, and nothing was left beside it.
    expect(readdirSync(replica).filter((name) => name.includes('litestream-node-lease'))).toEqual([]);
  });
});
