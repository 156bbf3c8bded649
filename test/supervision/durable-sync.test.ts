// sync()'s group commit, deadlines and fallbacks, with a fake channel and a fake clock.
import { describe, expect, it } from 'vitest';
import { LitestreamAbortError, LitestreamConfigError, SyncError } from '../../src/errors.js';
import { DurableSync, type DurableSyncHost, type SyncChannel } from '../../src/replication/durable-sync.js';
import { FakeClock, settle } from './fakes.js';

const DB = '/data/app.db';
const OTHER = '/data/queue.db';

/** A channel whose requests the test answers one by one. */
class FakeChannel implements SyncChannel {
  readonly requests: {
    database: string;
    signal: AbortSignal;
    answer: (txid: number) => void;
    fail: (e: unknown) => void;
  }[] = [];

  sync(database: string, _timeoutMs: number, signal: AbortSignal): Promise<{ txid: number | undefined }> {
    return new Promise((resolve, reject) => {
      this.requests.push({ database, signal, answer: (txid) => resolve({ txid }), fail: reject });
      signal.addEventListener('abort', () => reject(signal.reason), { once: true });
    });
  }
}

function setup(overrides: Partial<DurableSyncHost> = {}) {
  const clock = new FakeClock();
  const channel = new FakeChannel();
  const listeners = new Set<() => void>();
  const state = { refusal: undefined as string | undefined, channel: channel as SyncChannel | undefined };
  const logged = new Map<string, Date>();
  const host: DurableSyncHost = {
    databases: [DB, OTHER],
    clock,
    refusal: () => state.refusal,
    channel: () => state.channel,
    synced: (database) => ({ at: logged.get(database), txid: undefined, position: undefined }),
    watch: (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    lastError: () => undefined,
    describeFailure: (error) => ({
      message: String((error as Error).message),
      retry: (error as { retry?: boolean }).retry === true,
    }),
    exists: () => true,
    ...overrides,
  };
  const durable = new DurableSync(host);
  const logSync = (database: string, at: Date) => {
    logged.set(database, at);
    for (const listener of listeners) listener();
  };
  return { durable, clock, channel, state, logSync, listeners };
}

describe('sync() over a channel (litestream 0.5.9+)', () => {
  it('a hundred calls at once share one request per database; calls made while it is in flight share the next', async () => {
    const { durable, channel } = setup();
    const first = Array.from({ length: 100 }, () => durable.sync({ databases: [DB] }));
    await settle();
    expect(channel.requests).toHaveLength(1);
    // Made while the first request is in flight: it may have read the WAL before their commits.
    const later = Array.from({ length: 50 }, () => durable.sync({ databases: [DB] }));
    await settle();
    expect(channel.requests).toHaveLength(1);
    channel.requests[0]?.answer(7);
    const results = await Promise.all(first);
    expect(results.every((result) => result.databases[0]?.txid === 7)).toBe(true);
    await settle();
    expect(channel.requests).toHaveLength(2);
    let laterDone = false;
    const all = Promise.all(later).then((value) => {
      laterDone = true;
      return value;
    });
    await settle();
    expect(laterDone, 'calls made during the first request resolved with its answer').toBe(false);
    channel.requests[1]?.answer(9);
    expect((await all).every((result) => result.databases[0]?.txid === 9)).toBe(true);
    expect(durable.requests).toBe(2);
  });

  it('each database is asked for by its own request, side by side', async () => {
    const { durable, channel } = setup();
    const call = durable.sync();
    await settle();
    expect(channel.requests.map((request) => request.database).sort()).toEqual([DB, OTHER].sort());
    for (const request of channel.requests) request.answer(request.database === DB ? 3 : 4);
    expect((await call).databases.map((db) => [db.path, db.outcome, db.txid])).toEqual([
      [DB, 'synced', 3],
      [OTHER, 'synced', 4],
    ]);
  });

  it('a replica that does not answer: SyncError at the timeout, naming the databases, and the request is cancelled', async () => {
    const { durable, channel, clock } = setup();
    const call = durable.sync({ databases: [DB], timeoutMs: 2_000 }).catch((error: unknown) => error);
    await settle();
    await clock.advance(1_999);
    expect(channel.requests[0]?.signal.aborted).toBe(false);
    await clock.advance(1);
    const error = (await call) as SyncError;
    expect(error).toBeInstanceOf(SyncError);
    expect(error.timedOut).toBe(true);
    expect(error.databases).toEqual([DB]);
    expect(error.message).toContain('timed out after 2000 ms');
    expect(error.message).toContain('stays in the local database');
    // Nobody waits for it any more.
    expect(channel.requests[0]?.signal.aborted).toBe(true);
  });

  it('failures that may pass are retried until it answers; one that will not is a SyncError at once', async () => {
    const { durable, channel, clock } = setup();
    const call = durable.sync({ databases: [DB] });
    await settle();
    channel.requests[0]?.fail(
      Object.assign(new Error('the control socket did not answer: ECONNREFUSED'), { retry: true }),
    );
    await clock.advance(50);
    expect(channel.requests).toHaveLength(2);
    channel.requests[1]?.fail(
      Object.assign(new Error('litestream answered 500: replica sync failed'), { retry: true }),
    );
    await clock.advance(100);
    expect(channel.requests).toHaveLength(3);
    channel.requests[2]?.answer(5);
    expect((await call).databases[0]?.txid).toBe(5);

    const refused = durable.sync({ databases: [DB] }).catch((error: unknown) => error);
    await settle();
    channel.requests[3]?.fail(Object.assign(new Error('litestream answered 400: path required'), { retry: false }));
    const error = (await refused) as SyncError;
    expect(error).toBeInstanceOf(SyncError);
    expect(error.timedOut).toBe(false);
    expect(error.message).toContain('litestream answered 400');
  });

  it("one database's failure ends the call: the other database's request is cancelled, not left retrying", async () => {
    const { durable, channel } = setup();
    const call = durable.sync().catch((error: unknown) => error);
    await settle();
    const [first, second] = channel.requests;
    const failing = first?.database === DB ? first : second;
    const other = failing === first ? second : first;
    failing?.fail(Object.assign(new Error('litestream answered 400: path required'), { retry: false }));
    expect(await call).toBeInstanceOf(SyncError);
    await settle();
    expect(other?.signal.aborted).toBe(true);
  });

  it('replication stopping while a request is retried is said as such, not as a timeout', async () => {
    const { durable, channel, state, clock } = setup();
    const call = durable.sync({ databases: [DB] }).catch((error: unknown) => error);
    await settle();
    state.refusal = 'replication has stopped';
    channel.requests[0]?.fail(Object.assign(new Error('the control socket did not answer: ENOENT'), { retry: true }));
    await clock.advance(0);
    const error = (await call) as SyncError;
    expect(error).toBeInstanceOf(SyncError);
    expect(error.timedOut).toBe(false);
    expect(error.message).toContain('replication has stopped');
  });

  it("one caller's signal gives up that call alone; the others keep the shared request", async () => {
    const { durable, channel } = setup();
    const controller = new AbortController();
    const leaving = durable.sync({ databases: [DB], signal: controller.signal }).catch((error: unknown) => error);
    const staying = durable.sync({ databases: [DB] });
    await settle();
    controller.abort(new Error('client went away'));
    expect(await leaving).toBeInstanceOf(LitestreamAbortError);
    expect(channel.requests[0]?.signal.aborted).toBe(false);
    channel.requests[0]?.answer(11);
    expect((await staying).databases[0]?.txid).toBe(11);
  });
});

describe('sync() from the log (litestream 0.3, or before the channel is up)', () => {
  it('resolves only once the log shows a sync that began after the call, not one at the same moment', async () => {
    const { durable, clock, state, logSync } = setup();
    state.channel = undefined;
    const since = clock.now();
    let done = false;
    const call = durable.sync({ databases: [DB] }).then((result) => {
      done = true;
      return result;
    });
    await settle();
    logSync(DB, new Date(since - 5_000));
    logSync(DB, new Date(since));
    await settle();
    expect(done, 'a sync of the same millisecond as the call may miss its commits').toBe(false);
    logSync(DB, new Date(since + 1));
    expect((await call).databases[0]?.outcome).toBe('synced');
  });

  it('a hundred calls waiting for the log hold one listener and one timer, given back when they end', async () => {
    const { durable, clock, state, logSync, listeners } = setup();
    state.channel = undefined;
    const timersBefore = clock.pending;
    const calls = Array.from({ length: 100 }, () => durable.sync({ databases: [DB] }));
    await settle();
    expect(listeners.size).toBe(1);
    expect(clock.pending - timersBefore).toBe(100 + 1); // each call's timeout, and one poll
    logSync(DB, new Date(clock.now() + 1));
    await Promise.all(calls);
    expect(listeners.size).toBe(0);
    expect(clock.pending).toBe(timersBefore);
  });

  it('switches to the channel once litestream opens it', async () => {
    const { durable, clock, state, channel } = setup();
    state.channel = undefined;
    const call = durable.sync({ databases: [DB] });
    await settle();
    state.channel = channel;
    await clock.advance(250);
    expect(channel.requests).toHaveLength(1);
    channel.requests[0]?.answer(2);
    expect((await call).databases[0]?.txid).toBe(2);
  });
});

describe('sync() refuses clearly', () => {
  it('when replication has stopped, at once', async () => {
    const { durable, state } = setup();
    state.refusal = 'replication has stopped';
    const error = (await durable.sync().catch((e: unknown) => e)) as SyncError;
    expect(error).toBeInstanceOf(SyncError);
    expect(error.message).toContain('replication has stopped');
    expect(error.databases).toEqual([DB, OTHER]);
  });

  it('when it stops while a call waits for the log', async () => {
    const { durable, state, listeners } = setup();
    state.channel = undefined;
    const call = durable.sync({ databases: [DB] }).catch((e: unknown) => e);
    await settle();
    state.refusal = 'replication has stopped';
    for (const listener of listeners) listener();
    expect(await call).toBeInstanceOf(SyncError);
  });

  it('a timeout a timer cannot keep is refused, naming the option, before anything is asked', async () => {
    const { durable, channel } = setup();
    for (const timeoutMs of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 31]) {
      const error = (await durable.sync({ timeoutMs }).catch((e: unknown) => e)) as LitestreamConfigError;
      expect(error).toBeInstanceOf(LitestreamConfigError);
      expect(error.message).toContain('timeoutMs');
    }
    expect(channel.requests).toEqual([]);
  });

  it('for a database it does not replicate, naming it', async () => {
    const { durable } = setup();
    const error = (await durable.sync({ databases: ['/data/typo.db'] }).catch((e: unknown) => e)) as SyncError;
    expect(error).toBeInstanceOf(SyncError);
    expect(error.message).toContain('/data/typo.db');
  });

  it('a database that does not exist holds nothing to sync: absent, without a request', async () => {
    const { durable, channel } = setup({ exists: (database) => database !== OTHER });
    const call = durable.sync();
    await settle();
    expect(channel.requests.map((request) => request.database)).toEqual([DB]);
    channel.requests[0]?.answer(1);
    expect((await call).databases.map((db) => db.outcome)).toEqual(['synced', 'absent']);
  });
});
