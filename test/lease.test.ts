// The lease of a replica path: its protocol with a clock the test moves and a store in
// memory (compare-and-swap as S3 does it), then the same against the real S3 server.
import { randomUUID } from 'node:crypto';
import { readdirSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { LeaseKeeper } from '../src/lease/keeper.js';
import { type LeaseClock, ReplicaLease } from '../src/lease/lease.js';
import { describeHolder, type LeaseHolder } from '../src/lease/record.js';
import { fileLeaseStore, type LeaseStore, s3LeaseStore } from '../src/lease/store.js';
import { s3Bucket, s3Replica, tempDir, testConfig } from './support/fixtures.js';
import { slowCreatesProxy } from './support/proxy.js';
import { testS3 } from './support/s3-per-file.js';

// The leases these tests take, kept as one instance keeps them (a later take finds those still held).
const leaseKeeper = new LeaseKeeper();

/** One object with ETags, as a bucket keeps it; `down` makes every call of one client fail. */
function memoryStore() {
  let object: { body: string; etag: string } | undefined;
  let version = 0;
  const client = (isDown: () => boolean = () => false): LeaseStore => {
    const reach = () => {
      if (isDown()) throw new Error('S3 unreachable');
    };
    return {
      async read() {
        reach();
        return object && { ...object };
      },
      async create(body) {
        reach();
        if (object) return undefined;
        object = { body, etag: `e${++version}` };
        return object.etag;
      },
      async replace(etag, body) {
        reach();
        if (object?.etag !== etag) return undefined;
        object = { body, etag: `e${++version}` };
        return object.etag;
      },
      async remove(etag) {
        reach();
        if (object && object.etag !== etag) return false;
        object = undefined;
        return true;
      },
    };
  };
  return { client, put: (body: string) => (object = { body, etag: `e${++version}` }) };
}

/** `store`'s calls, failing while `isDown()`. */
function cuttable(store: LeaseStore, isDown: () => boolean): LeaseStore {
  const reach = () => {
    if (isDown()) throw new Error('replica unreachable');
  };
  return {
    read: async (signal) => {
      reach();
      return store.read(signal);
    },
    create: async (body, signal) => {
      reach();
      return store.create(body, signal);
    },
    replace: async (etag, body, signal) => {
      reach();
      return store.replace(etag, body, signal);
    },
    remove: async (etag, signal) => {
      reach();
      return store.remove(etag, signal);
    },
  };
}

/** The lease file of a file replica, in a fresh directory. */
function fileStore() {
  const file = path.join(tempDir(), 'db.sqlite3.litestream-node-lease');
  return {
    client: (isDown: () => boolean = () => false) => cuttable(fileLeaseStore(file), isDown),
    put: (body: string) => writeFileSync(file, body),
  };
}

/** Time moves only when someone sleeps. */
function testClock(): LeaseClock & { advance(ms: number): void } {
  let now = 1_000;
  return {
    now: () => now,
    sleep: async (ms) => {
      now += ms;
    },
    advance: (ms) => {
      now += ms;
    },
  };
}

const holder = (pid: number): LeaseHolder => ({
  host: 'web-1',
  pid,
  startedAt: `2026-12-03T08:00:0${pid % 10}.000Z`,
  version: '0.1.0',
});
const TTL = 30_000;

describe.each([
  ['in memory', memoryStore],
  ['in a file', fileStore],
] as const)('lease protocol, %s', (_kind, makeStore) => {
  it('an empty path is taken at once; a second app is refused, told who holds it', async () => {
    const store = makeStore();
    const clock = testClock();
    const first = new ReplicaLease({ store: store.client(), holder: holder(11), ttlMs: TTL, clock });
    expect(await first.acquire({ waitMs: 0 })).toEqual({ acquired: true, tookOverFrom: undefined });
    const second = new ReplicaLease({ store: store.client(), holder: holder(22), ttlMs: TTL, clock });
    const outcome = await second.acquire({ waitMs: 0 });
    expect(outcome.acquired).toBe(false);
    if (outcome.acquired) return;
    expect(describeHolder(outcome.holder)).toBe(
      'web-1 pid 11 (started 2026-12-03T08:00:01.000Z, litestream-node 0.1.0)',
    );
    expect(second.held).toBe(false);
  });

  it('a waiting app gets the lease as soon as the holder releases it after its final sync', async () => {
    const store = makeStore();
    const clock = testClock();
    const old = new ReplicaLease({ store: store.client(), holder: holder(11), ttlMs: TTL, clock });
    await old.acquire({ waitMs: 0 });
    const next = new ReplicaLease({ store: store.client(), holder: holder(22), ttlMs: TTL, clock });
    let looks = 0;
    let released: Promise<boolean> | undefined;
    const outcome = await next.acquire({
      waitMs: 60_000,
      onHeld: () => {
        // The old app finishes its final sync while the new one waits.
        if (++looks === 3) released = old.release();
      },
    });
    expect(outcome).toEqual({ acquired: true, tookOverFrom: undefined });
    expect(await released).toBe(true);
    expect(looks).toBeGreaterThanOrEqual(3);
    expect(await old.renew()).toBe('lost');
  });

  it('a renewing holder keeps it; a silent one loses it only after the same object sat unchanged a whole ttl', async () => {
    const store = makeStore();
    const clock = testClock();
    const holderLease = new ReplicaLease({ store: store.client(), holder: holder(11), ttlMs: TTL, clock });
    await holderLease.acquire({ waitMs: 0 });
    const contender = new ReplicaLease({ store: store.client(), holder: holder(22), ttlMs: TTL, clock });
    // Renewed at every poll of the contender (awaited: with the test clock, a renewal still in
    // flight at the next poll would let the object sit unchanged a whole ttl of fake time):
    // three ttls of waiting are not enough.
    const kept = await contender.acquire({
      waitMs: 3 * TTL,
      onHeld: async () => {
        expect(await holderLease.renew()).toBe('renewed');
      },
    });
    expect(kept.acquired).toBe(false);

    // The holder goes silent (SIGKILL): taken over once its last object is a ttl old to us.
    const firstSeen = clock.now();
    const taken = await contender.acquire({ waitMs: 3 * TTL });
    expect(taken).toMatchObject({ acquired: true, tookOverFrom: { record: { holder: { pid: 11 } } } });
    expect(clock.now() - firstSeen).toBeGreaterThanOrEqual(TTL);
    // The old holder, should it come back, finds it lost: never two writers.
    expect(await holderLease.renew()).toBe('lost');
    expect(holderLease.held).toBe(false);
  });

  it('a holder cut off from S3 stops writing before anyone can take over', async () => {
    const store = makeStore();
    const clock = testClock();
    let cutOff = false;
    const cut = new ReplicaLease({ store: store.client(() => cutOff), holder: holder(11), ttlMs: TTL, clock });
    await cut.acquire({ waitMs: 0 });
    clock.advance(7_000);
    expect(await cut.renew()).toBe('renewed');
    const stopBy = cut.stopBy as number;
    cutOff = true;
    await expect(cut.renew()).rejects.toThrow(/unreachable/);
    expect(cut.held).toBe(true);
    expect(cut.stopBy).toBe(stopBy);

    // A contender that began watching at the earliest moment it could (right after the last
    // renewal) takes over only after the cut-off holder's deadline.
    const contender = new ReplicaLease({ store: store.client(), holder: holder(22), ttlMs: TTL, clock });
    const outcome = await contender.acquire({ waitMs: 3 * TTL });
    expect(outcome.acquired).toBe(true);
    expect(clock.now()).toBeGreaterThan(stopBy);
  });

  it("an object that is not a litestream-node lease is respected, as an unknown holder's", async () => {
    const store = makeStore();
    store.put('{"written":"by another tool"}');
    const lease = new ReplicaLease({ store: store.client(), holder: holder(22), ttlMs: TTL, clock: testClock() });
    const outcome = await lease.acquire({ waitMs: 0 });
    expect(outcome).toEqual({ acquired: false, holder: undefined });
    expect(describeHolder(undefined)).toMatch(/unknown holder/);
  });
});

describe('lease file', () => {
  it('of ten processes creating, or replacing one version, exactly one wins; readers never find it missing', async () => {
    const file = path.join(tempDir(), 'db.sqlite3.litestream-node-lease');
    const stores = Array.from({ length: 10 }, () => fileLeaseStore(file));
    const created = await Promise.all(stores.map((store, i) => store.create(`{"n":${i}}`)));
    expect(created.filter((etag) => etag !== undefined)).toHaveLength(1);
    const first = await stores[0]?.read();
    let missing = 0;
    let reading = true;
    const reader = (async () => {
      while (reading) if ((await stores[1]?.read()) === undefined) missing++;
    })();
    const replaced = await Promise.all(stores.map((store, i) => store.replace(first?.etag as string, `{"m":${i}}`)));
    reading = false;
    await reader;
    const winners = replaced.flatMap((etag, i) => (etag === undefined ? [] : [i]));
    expect(winners).toHaveLength(1);
    expect((await stores[0]?.read())?.body).toBe(`{"m":${winners[0]}}`);
    expect(missing).toBe(0);
    // No staged copy and no mutex is left beside it.
    expect(readdirSync(path.dirname(file))).toEqual([path.basename(file)]);
  });

  it('a mutex left by a writer that died is taken away once stale; a fresh one is waited for', async () => {
    const file = path.join(tempDir(), 'db.sqlite3.litestream-node-lease');
    const store = fileLeaseStore(file);
    writeFileSync(`${file}.mutex`, '');
    const old = new Date(Date.now() - 60_000);
    utimesSync(`${file}.mutex`, old, old);
    expect(await store.create('{"n":1}')).toEqual(expect.any(String));
    // A live writer's mutex: the store waits, then counts as unreachable.
    writeFileSync(`${file}.mutex`, '');
    await expect(store.create('{"n":2}')).rejects.toThrow(/stayed locked/);
    expect((await store.read())?.body).toBe('{"n":1}');
  });
});

describe('lease on the real S3 server', () => {
  it('two apps on one replica path: one holds, the other is refused, then gets it on release', async () => {
    const bucket = s3Bucket();
    const key = `lease-${randomUUID()}/db.sqlite3.litestream-node-lease`;
    const first = new ReplicaLease({ store: s3LeaseStore(bucket, key), holder: holder(11), ttlMs: TTL });
    const second = new ReplicaLease({ store: s3LeaseStore(bucket, key), holder: holder(22), ttlMs: TTL });
    expect((await first.acquire({ waitMs: 0 })).acquired).toBe(true);
    expect(await second.acquire({ waitMs: 0 })).toMatchObject({ acquired: false, holder: { holder: { pid: 11 } } });
    expect(await first.renew()).toBe('renewed');
    expect(await first.release()).toBe(true);
    expect((await second.acquire({ waitMs: 0 })).acquired).toBe(true);
    expect(await first.renew()).toBe('lost');
    expect(await second.release()).toBe(true);
  });

  it('a lease given back at once (a boot that failed right after taking it) leaves nothing in its place for the next boot to wait for', async () => {
    // A slow link: every create of the lease object after the first (the check that the
    // server refuses a second create) arrives late, after the boot has given the lease back.
    const slow = await slowCreatesProxy(testS3().endpoint, 500);
    const dir = tempDir();
    const replica = s3Replica({ endpoint: slow.endpoint });
    const { config, logger } = testConfig(dir, { databases: [path.join(dir, 'app.sqlite3')], replica });
    const leases = await leaseKeeper.take(config, config.databases, { logger });
    await leases.releaseTaken();
    await slow.idle();
    expect(slow.creates()).toBe(2);
    // Nothing stands in the lease's place, and the next boot takes it at once.
    const store = s3LeaseStore(s3Bucket(), `${replica.path}/app.sqlite3.litestream-node-lease`);
    expect(await store.read()).toBeUndefined();
    const next = await leaseKeeper.take(config, config.databases, { logger, signal: AbortSignal.timeout(5_000) });
    await next.release();
    expect(logger.text()).not.toContain('ignores conditional writes');
  });
});
