// The lease turned off (`lease.mode: 'off'`, `lease: false`, LITESTREAM_LEASE=off): no lease
// is taken or written, but a live holder's is still respected. Against the answers a real
// server rarely gives (msw): another machine's holder, renewing or silent, an outage, a
// refusal. The flows with real app processes and litestream: lease-off.test.ts.
import path from 'node:path';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  configFromEnv,
  defineConfig,
  type LitestreamConfig,
  LitestreamConfigError,
  type LitestreamOptions,
  ReplicaLeaseError,
  ReplicaUnreachableError,
} from '../src/index.js';
import { LeaseKeeper, type LeaseSet } from '../src/lease/keeper.js';
import { captureLogger, tempDir, waitFor } from './support/fixtures.js';
import { MOCK_ACCESS_KEY_ID, MOCK_BUCKET, MOCK_ENDPOINT, MOCK_SECRET, mockBucket, s3Error } from './support/mock-s3.js';

// The leases these tests take, kept as one instance keeps them (a later take finds those still held).
const leaseKeeper = new LeaseKeeper();

const TTL_MS = 2_000;
const bucket = mockBucket();
const server = setupServer(...bucket.handlers);
beforeAll(() => server.listen({ onUnhandledRequest: 'error' }));
afterAll(() => server.close());

const sets: LeaseSet[] = [];
const timers: NodeJS.Timeout[] = [];
afterEach(async () => {
  bucket.fault = undefined;
  for (const timer of timers.splice(0)) clearInterval(timer);
  await Promise.all(sets.splice(0).map((set) => set.release()));
  bucket.requests.length = 0;
});

function setup(lease: LitestreamOptions['lease'] = { mode: 'off', ttlMs: TTL_MS }) {
  const logger = captureLogger();
  const database = path.join(tempDir(), 'app.db');
  const config: LitestreamConfig = defineConfig({
    databases: [database],
    replica: {
      type: 's3',
      bucket: MOCK_BUCKET,
      endpoint: MOCK_ENDPOINT,
      accessKeyId: MOCK_ACCESS_KEY_ID,
      secretAccessKey: MOCK_SECRET,
      path: path.basename(path.dirname(database)),
    },
    lease,
    restore: { retryForMs: 2_000 },
    logger,
  });
  const key = `${path.basename(path.dirname(database))}/app.db.litestream-node-lease`;
  const waits: unknown[] = [];
  const take = async () => {
    const set = await leaseKeeper.take(config, config.databases, { logger, onWaiting: (event) => waits.push(event) });
    sets.push(set);
    return set;
  };
  return { config, logger, key, take, waits };
}

/** Another machine's lease object (its pid means nothing here); `renewEveryMs` keeps it alive. */
function foreignHolder(key: string, renewEveryMs?: number) {
  let counter = 0;
  const write = () => {
    counter++;
    const body = `${JSON.stringify({
      litestreamNodeLease: 1,
      holder: { host: 'web-2', pid: 4242, startedAt: '2026-12-07T09:00:00.000Z', version: '0.1.0' },
      ttlMs: TTL_MS,
      counter,
    })}\n`;
    bucket.objects.set(key, { body, etag: `"f${counter}"` });
  };
  write();
  if (renewEveryMs !== undefined) timers.push(setInterval(write, renewEveryMs));
}

const writes = () => bucket.requests.filter((request) => !request.startsWith('GET'));

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a rejection');
}

describe('the lease turned off: read, never written', () => {
  it('with no other holder, it goes on after one read, and writes nothing to the bucket', async () => {
    const { take, key } = setup();
    const leases = await take();
    expect(leases.status()).toEqual({ state: 'off', error: undefined });
    expect(bucket.requests).toEqual([`GET ${key}`]);
    expect(bucket.objects.has(key)).toBe(false);
  });

  it('lease: false is the same mode', async () => {
    const { config, take, key } = setup(false);
    expect(config.lease).toMatchObject({ mode: 'off' });
    await take();
    expect(bucket.requests).toEqual([`GET ${key}`]);
  });

  it("another machine's holder that renews is refused with a ReplicaLeaseError naming it and the fixes; nothing written", async () => {
    const { take, key, waits } = setup();
    foreignHolder(key, 300);
    const error = await rejection(take());
    expect(error).toBeInstanceOf(ReplicaLeaseError);
    expect((error as ReplicaLeaseError).holder).toEqual({
      host: 'web-2',
      pid: 4242,
      startedAt: '2026-12-07T09:00:00.000Z',
      version: '0.1.0',
    });
    expect(error.message).toContain('web-2 pid 4242 (started 2026-12-07T09:00:00.000Z');
    expect(error.message).toMatch(/the lease is off here \(lease\.mode "off", LITESTREAM_LEASE=off\)/);
    expect(error.message).toMatch(/Stop that instance first/);
    expect(error.message).toContain('LITESTREAM_LEASE=off-write-over-live-holder');
    expect(error.message).toContain('litestream-node restore -o FILE');
    // The booting app was told whom it looked at meanwhile.
    expect(waits).toEqual([expect.objectContaining({ holder: expect.objectContaining({ host: 'web-2', pid: 4242 }) })]);
    expect(writes()).toEqual([]);
  });

  it("a holder that stopped renewing (crashed) is not live: it goes on after a whole ttl, and leaves the holder's object alone", async () => {
    const { take, key, logger } = setup();
    foreignHolder(key);
    const before = bucket.objects.get(key);
    const started = performance.now();
    const leases = await take();
    expect(performance.now() - started).toBeGreaterThanOrEqual(TTL_MS);
    expect(leases.status().state).toBe('off');
    expect(logger.text()).toMatch(/names an instance that stopped renewing it.*web-2 pid 4242/s);
    expect(bucket.objects.get(key)).toEqual(before);
    expect(writes()).toEqual([]);
  });

  it('while replicating, an instance that takes the lease since stops this one for good, within a third of the ttl', async () => {
    const { take, key } = setup();
    const leases = await take();
    const lost = new Promise<ReplicaLeaseError>((resolve) =>
      leases.watch({ paused: () => {}, resumed: () => {}, lost: resolve }),
    );
    const appeared = performance.now();
    foreignHolder(key, 300);
    const error = await lost;
    expect(performance.now() - appeared).toBeLessThan(TTL_MS / 3 + 1_000);
    expect(error.message).toMatch(/Another instance, web-2 pid 4242 .* took the lease .* with the lease off/);
    expect(leases.status()).toMatchObject({ state: 'lost', error: error.message });
    expect(leases.paused).toBe(true);
    // Looked at no more.
    const reads = bucket.requests.length;
    await new Promise((resolve) => setTimeout(resolve, TTL_MS));
    expect(bucket.requests.length).toBe(reads);
  });

  it('while replicating, a lease that cannot be read is a warning and an error in status, not a pause; it clears once read again', async () => {
    const { take, logger } = setup();
    const leases = await take();
    let lost = false;
    leases.watch({ paused: () => {}, resumed: () => {}, lost: () => (lost = true) });
    bucket.fault = () => s3Error(503, 'SlowDown');
    await waitFor(() => leases.status().error, 5_000, 'the failed read to show');
    expect(leases.status()).toMatchObject({
      state: 'off',
      error: expect.stringMatching(/could not be read.*SlowDown/),
    });
    expect(leases.paused).toBe(false);
    expect(logger.lines.filter((line) => /could not read the replica lease/.test(line.message ?? ''))).toHaveLength(1);
    bucket.fault = undefined;
    await waitFor(() => leases.status().error === undefined || undefined, 5_000, 'the next read to land');
    expect(lost).toBe(false);
  });

  it('at start, an unreachable lease is retried for restore.retryForMs, then a ReplicaUnreachableError that says why it is read and how not to', async () => {
    const { take } = setup();
    bucket.fault = () => s3Error(503, 'SlowDown');
    const started = Date.now();
    const error = await rejection(take());
    expect(error).toBeInstanceOf(ReplicaUnreachableError);
    expect(Date.now() - started).toBeGreaterThanOrEqual(2_000);
    expect(error.message).toMatch(/read the replica lease of .*app\.db/);
    expect(error.message).toContain('which means this instance takes none, not that it writes over a live holder');
    expect(error.message).toContain('LITESTREAM_LEASE=off-write-over-live-holder');
    expect(String(error)).not.toContain(MOCK_SECRET);
  });

  it('at start, a refused read (credentials) fails at once', async () => {
    const { take } = setup();
    bucket.fault = () => s3Error(403, 'AccessDenied');
    const started = Date.now();
    const error = await rejection(take());
    expect(error).toBeInstanceOf(ReplicaUnreachableError);
    expect(error.message).toMatch(/rejected the credentials \(read the replica lease of/);
    expect(Date.now() - started).toBeLessThan(1_500);
  });

  it('"off-write-over-live-holder" goes on at once over a live holder, with a warning that names it; reads once, writes nothing', async () => {
    const { take, key, logger } = setup({ mode: 'off-write-over-live-holder' });
    foreignHolder(key, 300);
    const leases = await take();
    expect(leases.status()).toEqual({ state: 'off', error: undefined });
    const warnings = logger.lines.filter((line) => line.level === 'warn');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.message).toMatch(
      /"off-write-over-live-holder" .* two writers fork the backup.*it names web-2 pid 4242/,
    );
    expect(bucket.requests).toEqual([`GET ${key}`]);
  });
});

describe('the lease modes in options and the environment', () => {
  const base = { LITESTREAM_ENABLED: 'true', LITESTREAM_S3_BUCKET: 'my-bucket', LITESTREAM_DATABASES: '/tmp/x/app.db' };

  it.each([
    ['off', { mode: 'off', ttlMs: 60_000 }],
    ['OFF', { mode: 'off', ttlMs: 60_000 }],
    ['off-write-over-live-holder', { mode: 'off-write-over-live-holder', ttlMs: 60_000 }],
    ['refuse', { mode: 'take', whenHeld: 'refuse', ttlMs: 60_000, waitMs: 120_000 }],
  ])('LITESTREAM_LEASE=%s', (value, lease) => {
    expect(configFromEnv({ ...base, LITESTREAM_LEASE: value }).lease).toEqual(lease);
  });

  it('LITESTREAM_LEASE_TTL sets how often the lease is read with it off', () => {
    expect(configFromEnv({ ...base, LITESTREAM_LEASE: 'off', LITESTREAM_LEASE_TTL: '3s' }).lease).toEqual({
      mode: 'off',
      ttlMs: 3_000,
    });
  });

  it('a wait beside a lease that is not taken is named as the mistake it is', () => {
    const error = (() => {
      try {
        configFromEnv({ ...base, LITESTREAM_LEASE: 'off', LITESTREAM_LEASE_WAIT: '5m' });
      } catch (caught) {
        return caught as LitestreamConfigError;
      }
    })();
    expect(error).toBeInstanceOf(LitestreamConfigError);
    expect(error?.message).toMatch(/LITESTREAM_LEASE_WAIT: has no effect with LITESTREAM_LEASE=off/);
  });

  it('an unknown LITESTREAM_LEASE lists the values', () => {
    expect(() => configFromEnv({ ...base, LITESTREAM_LEASE: 'unsafe' })).toThrow(
      /LITESTREAM_LEASE: "unsafe" is not one of wait, refuse, off, off-write-over-live-holder/,
    );
  });

  it('options: whenHeld with the lease off is an error naming lease.whenHeld', () => {
    expect(() =>
      defineConfig({
        databases: ['/tmp/x/app.db'],
        replica: { type: 'file', path: '/tmp/x/replica' },
        lease: { mode: 'off', whenHeld: 'wait' },
      }),
    ).toThrow(/lease\.whenHeld: has no effect with mode "off"/);
  });
});
