// The replica lease's protocol against the answers real servers rarely give (through msw):
// servers without conditional writes, conflicts, outages, unanswered renewals, a lease
// taken by another instance. The flows with two real app processes: rolling-deploy.test.ts.
import path from 'node:path';
import { setImmediate } from 'node:timers/promises';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { defineConfig, type LeaseOptions, type LitestreamConfig, ReplicaUnreachableError } from '../src/index.js';
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

const taken: LeaseSet[] = [];
afterEach(async () => {
  bucket.fault = undefined;
  bucket.ignoresPreconditions = false;
  await Promise.all(taken.splice(0).map((set) => set.release()));
  bucket.requests.length = 0;
});

function setup(lease: LeaseOptions = { ttlMs: TTL_MS, whenHeld: 'refuse' }) {
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
    restore: { retryForMs: 3_000 },
    logger,
  });
  const key = `${path.basename(path.dirname(database))}/app.db.litestream-node-lease`;
  const take = async () => {
    const set = await leaseKeeper.take(config, config.databases, { logger });
    taken.push(set);
    return set;
  };
  return { config, logger, key, take };
}

/** Resolves at the lease set's next `kind` change (with the error, for `lost`). */
function nextChange(leases: LeaseSet, kind: 'paused' | 'resumed' | 'lost'): Promise<unknown> {
  return new Promise((resolve) => {
    const on = (which: typeof kind) => (value?: unknown) => {
      if (which !== kind) return;
      stop();
      resolve(value);
    };
    const stop = leases.watch({ paused: on('paused'), resumed: on('resumed'), lost: on('lost') });
  });
}

describe('replica lease protocol (msw)', () => {
  it('a server that ignores If-None-Match gets one warning naming the risk, and no guard (nothing left in the bucket)', async () => {
    bucket.ignoresPreconditions = true;
    const { logger, key, take } = setup();
    // The server's answer to a second create is looked at off the boot's path.
    for (let call = 0; call < 2; call++) {
      const leases = await take();
      await waitFor(() => leases.status().state === 'off', 5_000, 'the lease to be found unguarded');
    }
    const warnings = logger.lines.filter((line) => /ignores conditional writes/.test(line.message ?? ''));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.message).toMatch(/nothing stops a second instance.*lease: false/);
    expect(bucket.objects.has(key)).toBe(false);
  });

  it('501 NotImplemented for a conditional write is the same: one warning, no guard', async () => {
    bucket.fault = (method) => (method === 'PUT' ? s3Error(501, 'NotImplemented') : undefined);
    const { logger, take } = setup();
    expect((await take()).status().state).toBe('off');
    expect(logger.lines.filter((line) => /ignores conditional writes/.test(line.message ?? ''))).toHaveLength(1);
  });

  it('409 conflicts and 503s are retried until the lease is taken', async () => {
    // The first read and the first create fail, as a busy S3 answers them.
    const failed = new Set<string>();
    bucket.fault = (method) => {
      if (failed.has(method)) return undefined;
      failed.add(method);
      return method === 'PUT' ? s3Error(409, 'ConditionalRequestConflict') : s3Error(503, 'SlowDown');
    };
    const { logger, key, take } = setup();
    expect((await take()).status()).toEqual({ state: 'held', error: undefined });
    expect(bucket.objects.get(key)?.body).toMatch(/"litestreamNodeLease":1/);
    expect(logger.lines.filter((line) => line.message === 'replica unreachable; retrying').length).toBeGreaterThan(0);
  });

  it("versitygw's 404 for an unknown access key is a credentials error at once, not a missing lease to create", async () => {
    bucket.fault = () => s3Error(404, 'XAdminUserNotFound');
    const { take } = setup();
    const error = await take().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ReplicaUnreachableError);
    expect((error as Error).message).toMatch(/rejected the credentials/);
    expect(bucket.requests).toHaveLength(1);
    expect(String(error)).not.toContain(MOCK_SECRET);
  });

  it('concurrent calls of one process share one lease: neither takes it from the other', async () => {
    const { key, take } = setup();
    const [first, second] = await Promise.all([take(), take()]);
    // One create, and the probe that the server refuses a second one.
    await waitFor(() => bucket.requests.filter((request) => request === `PUT ${key}`).length === 2, 5_000, 'the probe');
    const lost: unknown[] = [];
    for (const set of [first, second]) set?.watch({ paused: () => {}, resumed: () => {}, lost: (e) => lost.push(e) });
    // Through three renewals (a whole ttl's worth): each lands, neither call's lease is lost.
    const puts = () => bucket.requests.filter((request) => request === `PUT ${key}`).length;
    await waitFor(() => puts() >= 2 + 3, 3 * TTL_MS, 'three renewals');
    expect(lost).toEqual([]);
    expect(first?.status()).toEqual({ state: 'held', error: undefined });
    expect(second?.status()).toEqual({ state: 'held', error: undefined });
  });

  it("a second release waits for the first one's request: once either resolves, the next instance finds no lease", async () => {
    const { config, key, take } = setup();
    await take();
    // The DELETE is held until released by the test, as a slow server would hold it.
    let answer: () => void = () => {};
    const answered = new Promise<void>((resolve) => {
      answer = resolve;
    });
    let deleteSeen: () => void = () => {};
    const deleting = new Promise<void>((resolve) => {
      deleteSeen = resolve;
    });
    bucket.fault = async (method) => {
      if (method !== 'DELETE') return undefined;
      deleteSeen();
      await answered;
      return undefined;
    };
    // The first release (a replication's stop), then the instance's own give-back.
    const first = leaseKeeper.release(config.databases);
    await deleting;
    let secondDone = false;
    const second = leaseKeeper.release(config.databases).then(() => {
      secondDone = true;
    });
    // Every callback that could run without the DELETE's answer runs before this.
    await setImmediate();
    expect(secondDone, 'the second release resolved while the lease was still in the bucket').toBe(false);
    expect(bucket.objects.has(key)).toBe(true);
    answer();
    await Promise.all([first, second]);
    expect(bucket.objects.has(key)).toBe(false);
  });

  it('a renewal answered 412 (another instance wrote the lease) loses it once, and it is never renewed again', async () => {
    const { key, take } = setup();
    // A second lease of this process, renewed on the same schedule: its renewals show the time
    // in which the lost one would have been renewed.
    const other = setup();
    await other.take();
    const leases = await take();
    const lost = nextChange(leases, 'lost');
    bucket.objects.set(key, { body: '{"someone":"else"}\n', etag: '"other"' });
    const error = (await lost) as Error;
    expect(error.name).toBe('ReplicaLeaseError');
    expect(error.message).toMatch(/Another instance took over the replica of .*app\.db/);
    expect(leases.status().state).toBe('lost');
    const putsOf = (of: string) => bucket.requests.filter((request) => request === `PUT ${of}`).length;
    const puts = putsOf(key);
    const otherPuts = putsOf(other.key);
    await waitFor(() => putsOf(other.key) >= otherPuts + 3, 3 * TTL_MS, 'three renewals of the other lease');
    expect(putsOf(key)).toBe(puts);
    // Theirs stays.
    expect(bucket.objects.get(key)?.etag).toBe('"other"');
  });

  it.each([
    ['answered 503', () => s3Error(503, 'SlowDown')],
    ['never answered', () => new Promise<Response>(() => {})],
  ])('renewals %s pause the lease before its ttl could run out; one that lands resumes it', async (_name, answer) => {
    const { take } = setup();
    const leases = await take();
    // Wait for a renewal to land, then fail every later one.
    const renewed = bucket.requests.length;
    await waitFor(() => bucket.requests.length > renewed, TTL_MS, 'a renewal');
    const lastLanded = performance.now();
    bucket.fault = (method) => (method === 'PUT' ? answer() : undefined);
    await nextChange(leases, 'paused');
    // Time is the behaviour here: paused four fifths of the ttl after the last renewal that
    // landed (sent a little before it), before another instance could take the lease over.
    expect(performance.now() - lastLanded).toBeLessThan(TTL_MS);
    expect(leases.paused).toBe(true);
    expect(leases.status()).toMatchObject({ state: 'paused', error: expect.stringMatching(/could not be renewed/) });

    bucket.fault = undefined;
    await nextChange(leases, 'resumed');
    expect(leases.status()).toEqual({ state: 'held', error: undefined });
  });
});

describe('replica lease expiry and clocks (msw)', () => {
  it("a wall clock ten minutes off neither expires a live holder's lease nor keeps a silent one's: expiry is counted on the waiter's own monotonic clock", async () => {
    const { config: waiting, key, logger } = setup({ ttlMs: TTL_MS, whenHeld: 'wait', waitMs: 20_000 });
    // Another instance's lease, renewed every half second; its record's times mean nothing here.
    const foreign = (counter: number) =>
      `${JSON.stringify({
        litestreamNodeLease: 1,
        holder: { host: 'other-host', pid: 1, startedAt: '2030-01-01T00:00:00.000Z', version: '0.1.0' },
        ttlMs: TTL_MS,
        counter,
      })}\n`;
    let counter = 0;
    bucket.objects.set(key, { body: foreign(counter), etag: `"e${counter}"` });
    const renewer = setInterval(() => {
      counter++;
      bucket.objects.set(key, { body: foreign(counter), etag: `"e${counter}"` });
    }, 500);
    const realNow = Date.now;
    Date.now = () => realNow() + 10 * 60_000;
    try {
      const started = performance.now();
      const taking = leaseKeeper.take(waiting, waiting.databases, { logger });
      // Twelve looks at a holder that keeps renewing (three ttls, polled every quarter): never taken.
      const looks = () => bucket.requests.filter((request) => request === `GET ${key}`).length;
      await waitFor(() => looks() >= 12, 6 * TTL_MS, 'twelve looks at the live lease');
      expect(bucket.objects.get(key)?.body).toContain('other-host');
      clearInterval(renewer);
      const silentSince = performance.now();
      const leases = await taking;
      taken.push(leases);
      expect(leases.status().state).toBe('held');
      // Taken a whole ttl after the last renewal it saw (at most half a second before the
      // silence began), by this process's own clock.
      expect(performance.now() - silentSince).toBeGreaterThanOrEqual(TTL_MS - 600);
      expect(performance.now() - started).toBeGreaterThanOrEqual(4 * TTL_MS - 600);
      expect(logger.text()).toMatch(/took the replica lease over.*other-host pid 1/);
    } finally {
      Date.now = realNow;
      clearInterval(renewer);
    }
  });
});
