// What failed when the replica could not be reached, from the texts litestream 0.3.13 and
// 0.5.18 and this library's own requests produce (taken from real runs against versitygw
// made to fail), and the outage watch's decisions: when it probes, which failure names the
// outage, when it is over. The probe and the clock are injected; the real thing runs in
// test/reliability/outage-kinds.test.ts.
import { describe, expect, it } from 'vitest';
import { unhealthyCauses } from '../src/alerts/causes.js';
import { failureKindOfS3, failureKindOfText } from '../src/replica/failure-cause.js';
import type { ProbeOutcome } from '../src/replica/probe.js';
import {
  type PendingUpload,
  probeTimings,
  type ReplicaFailure,
  ReplicaOutageWatch,
} from '../src/replication/outage.js';
import type { ReplicationStatus } from '../src/replication/types.js';

describe('failureKindOfText', () => {
  it.each([
    // Litestream 0.3.13 (aws-sdk-go v1).
    [
      'monitor error: RequestError: send request failed\ncaused by: Get "http://127.0.0.1:35843/litestream-test?delimiter=%2F": dial tcp 127.0.0.1:35843: connect: connection refused',
      'refused',
    ],
    [
      'monitor error: cannot determine replica position: max snapshot: RequestError: send request failed\ncaused by: Get "http://127.0.0.1:35843/x": read tcp 127.0.0.1:46780->127.0.0.1:35843: read: connection reset by peer',
      'reset',
    ],
    [
      'monitor error: RequestError: send request failed\ncaused by: Put "http://s3-1.lsnode.invalid:4000/b/k": dial tcp: lookup s3-1.lsnode.invalid on 10.255.255.53:53: no such host',
      'dns',
    ],
    // No resolver answering: the text ends in "connection refused", and it is still DNS.
    [
      'dial tcp: lookup s3.example.invalid on 127.0.0.53:53: read udp 127.0.0.1:5->127.0.0.53:53: connection refused',
      'dns',
    ],
    [
      'monitor error: SignatureDoesNotMatch: The request signature we calculated does not match the signature you provided.\n\tstatus code: 403, request id: , host id: ',
      'credentials',
    ],
    [
      'monitor error: ServiceUnavailable: Please reduce your request rate.\n\tstatus code: 503, request id: ',
      'server-error',
    ],
    // Litestream 0.5.18 (aws-sdk-go v2).
    [
      'monitor error: operation error S3: PutObject, exceeded maximum number of attempts, 8, https response error StatusCode: 503, RequestID: , HostID: , api error ServiceUnavailable: Please reduce your request rate.',
      'server-error',
    ],
    [
      'operation error S3: ListObjectsV2, https response error StatusCode: 403, api error InvalidAccessKeyId',
      'credentials',
    ],
    ['context deadline exceeded (Client.Timeout exceeded while awaiting headers)', 'timeout'],
    // This library's own requests and the lease's messages.
    [
      'the lease s3://b/app.db.litestream-node-lease could not be renewed: Could not reach s3://b at http://127.0.0.1:4 (ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:4): check the endpoint and the network.',
      'refused',
    ],
    ['Could not reach s3://b at http://x.invalid:4 (ENOTFOUND: getaddrinfo ENOTFOUND x.invalid)', 'dns'],
    ['Could not reach s3://b (ETIMEDOUT: no complete answer within 2500 ms)', 'timeout'],
    ['compaction failed: invalid argument', 'other'],
  ])('%s → %s', (text, kind) => {
    expect(failureKindOfText(text)).toBe(kind);
  });

  it("classifies this library's own S3 failures by status and code", () => {
    const failure = { bucketRegion: undefined, message: 'm' };
    expect(failureKindOfS3({ ...failure, kind: 'transient', status: 503, code: 'ServiceUnavailable' })).toBe(
      'server-error',
    );
    expect(failureKindOfS3({ ...failure, kind: 'credentials', status: 403, code: 'SignatureDoesNotMatch' })).toBe(
      'credentials',
    );
    expect(failureKindOfS3({ ...failure, kind: 'transient', status: undefined, code: 'ECONNREFUSED' })).toBe('refused');
    expect(failureKindOfS3({ ...failure, kind: 'transient', status: undefined, code: 'EAI_AGAIN' })).toBe('dns');
    expect(failureKindOfS3({ ...failure, kind: 'transient', status: undefined, code: 'ETIMEDOUT' })).toBe('timeout');
  });
});

/** An outage watch on a fake clock, with a probe that answers as the test says. */
function watchWith(options: { pending?: PendingUpload[]; suspect?: string[]; leaseTrouble?: boolean } = {}) {
  let now = 1_000_000;
  const pending = options.pending ?? [];
  const suspect = options.suspect ?? [];
  let leaseTrouble = options.leaseTrouble ?? false;
  let answer: ProbeOutcome = { ok: true, ms: 1 };
  const probed: string[] = [];
  const failed: string[] = [];
  const answered: string[] = [];
  const changes: (ReplicaFailure | undefined)[] = [];
  const watch = new ReplicaOutageWatch({
    databases: ['/a.db', '/b.db'],
    syncIntervalMs: 1_000,
    pending: () => pending,
    suspect: () => suspect,
    leaseTrouble: () => leaseTrouble,
    probe: (db) => {
      probed.push(db);
      return Promise.resolve(answer);
    },
    onProbeFailed: (db) => failed.push(db),
    onAnswered: (db) => answered.push(db),
    onChange: (failure) => changes.push(failure),
    now: () => now,
  });
  return {
    watch,
    probed,
    failed,
    answered,
    changes,
    pending,
    advance: (ms: number) => {
      now += ms;
    },
    now: () => now,
    answer: (outcome: ProbeOutcome) => {
      answer = outcome;
    },
    setLeaseTrouble: (value: boolean) => {
      leaseTrouble = value;
    },
    /** Lets the probe's promise settle. */
    settle: () => new Promise((resolve) => setImmediate(resolve)),
  };
}

const REFUSED: ProbeOutcome = { ok: false, kind: 'refused', message: 'the replica refused the connection', ms: 1 };

describe('ReplicaOutageWatch', () => {
  it('never probes a replica that keeps up: uploads land within the overdue time', async () => {
    const t = watchWith();
    t.pending.push({ db: '/a.db', since: t.now() });
    t.advance(probeTimings(1_000).overdueMs - 1);
    t.watch.tick();
    await t.settle();
    expect(t.probed).toEqual([]);
  });

  it('probes an overdue upload once per sync interval; a failure names the outage and counts', async () => {
    const t = watchWith();
    t.pending.push({ db: '/a.db', since: t.now() });
    t.answer(REFUSED);
    t.advance(1_000);
    t.watch.tick();
    await t.settle();
    expect(t.probed).toEqual(['/a.db']);
    expect(t.watch.failure).toMatchObject({ kind: 'refused', database: '/a.db', source: 'probe' });
    expect(t.failed).toEqual(['/a.db']);
    t.advance(500);
    t.watch.tick();
    await t.settle();
    expect(t.probed).toHaveLength(1);
    t.advance(500);
    t.watch.tick();
    await t.settle();
    expect(t.probed).toHaveLength(2);
    expect(t.failed).toHaveLength(2);
    expect(t.changes).toHaveLength(1);
  });

  it('keeps the first cause; a cut connection gives way to the first failure that names what failed', () => {
    const t = watchWith();
    t.watch.saw({ kind: 'reset', message: 'cut', database: '/a.db', source: 'litestream' });
    const began = t.watch.failure?.at;
    t.advance(300);
    t.watch.saw({ kind: 'refused', message: 'refused', database: '/a.db', source: 'litestream' });
    t.watch.saw({ kind: 'timeout', message: 'timeout', database: undefined, source: 'lease' });
    expect(t.watch.failure).toMatchObject({ kind: 'refused', message: 'refused' });
    // The outage began with the first failure.
    expect(t.watch.failure?.at).toEqual(began);
  });

  it('is over when a probe gets an answer, or a sync lands', async () => {
    const t = watchWith();
    t.pending.push({ db: '/a.db', since: t.now() });
    t.answer(REFUSED);
    t.advance(1_000);
    t.watch.tick();
    await t.settle();
    t.answer({ ok: true, ms: 1 });
    t.advance(1_000);
    t.watch.tick();
    await t.settle();
    expect(t.watch.failure).toBeUndefined();
    expect(t.answered).toEqual(['/a.db']);
    t.watch.saw({ kind: 'dns', message: 'dns', database: undefined, source: 'lease' });
    t.watch.cleared();
    expect(t.changes.map((change) => change?.kind)).toEqual(['refused', undefined, 'dns', undefined]);
  });

  it('probes every database while the lease has trouble, and those whose last error blames the replica', async () => {
    const lease = watchWith({ leaseTrouble: true });
    lease.watch.tick();
    await lease.settle();
    expect(lease.probed).toEqual(['/a.db', '/b.db']);
    const suspect = watchWith({ suspect: ['/b.db'] });
    suspect.watch.tick();
    await suspect.settle();
    expect(suspect.probed).toEqual(['/b.db']);
  });

  it('probes on after the upload that showed the outage is gone, until the replica answers', async () => {
    const t = watchWith();
    t.watch.saw({ kind: 'refused', message: 'refused', database: undefined, source: 'lease' });
    t.answer(REFUSED);
    t.watch.tick();
    await t.settle();
    expect(t.probed).toEqual(['/a.db', '/b.db']);
    expect(t.watch.failure?.kind).toBe('refused');
    t.answer({ ok: true, ms: 1 });
    t.advance(1_000);
    t.watch.tick();
    await t.settle();
    expect(t.watch.failure).toBeUndefined();
    t.advance(1_000);
    t.watch.tick();
    await t.settle();
    expect(t.probed).toHaveLength(4);
  });

  it('drops a failure that comes back after the upload landed', async () => {
    const t = watchWith();
    t.pending.push({ db: '/a.db', since: t.now() });
    t.answer(REFUSED);
    t.advance(1_000);
    t.watch.tick();
    t.pending.length = 0;
    await t.settle();
    expect(t.watch.failure).toBeUndefined();
  });

  it('reports nothing after stop()', async () => {
    const t = watchWith({ leaseTrouble: true });
    t.answer(REFUSED);
    t.watch.tick();
    t.watch.stop();
    await t.settle();
    expect(t.watch.failure).toBeUndefined();
    expect(t.failed).toEqual([]);
  });

  it('bounds the time to unhealthy by two sync intervals, at least 5 s', () => {
    for (const interval of [1_000, 10_000, 60_000]) {
      const { overdueMs, timeoutMs } = probeTimings(interval);
      // Overdue, then the next tick (250 ms), then a probe that hangs until its timeout.
      expect(overdueMs + 250 + timeoutMs).toBeLessThanOrEqual(Math.max(2 * interval, 5_000));
    }
  });
});

describe('unhealthyCauses', () => {
  const base: ReplicationStatus = {
    state: 'running',
    healthy: false,
    lastError: undefined,
    pid: 1,
    restarts: 0,
    startedAt: new Date(),
    databases: [],
    stalled: [],
    lease: { state: 'held', error: undefined },
  };

  it("names the outage first, with its kind, as status().lastError does; a paused lease reads 'paused'", () => {
    const said = 'monitor error: dial tcp 127.0.0.1:9: connect: connection refused';
    const status: ReplicationStatus = {
      ...base,
      state: 'paused',
      lastError: {
        kind: 'refused',
        message: `the replica refused the connection: ${said}`,
        at: new Date(),
        database: '/a.db',
        source: 'litestream',
      },
      databases: [
        {
          path: '/a.db',
          initialized: true,
          synced: true,
          generation: undefined,
          txid: 1,
          lastSyncAt: undefined,
          lastError: { message: said, at: new Date() },
          uploadingSince: undefined,
        },
      ],
      stalled: ['/a.db'],
      lease: { state: 'paused', error: 'the lease could not be renewed: connect ECONNREFUSED 127.0.0.1:9' },
    };
    const causes = unhealthyCauses(status);
    expect(causes[0]).toEqual({ database: '/a.db', kind: 'refused', cause: status.lastError?.message });
    expect(causes.map((cause) => cause.cause)).toContain('replication is paused until the replica lease is held again');
    // The database's error is the outage's own: not listed twice.
    expect(causes.filter((cause) => cause.cause === said)).toEqual([]);
    // A stall during a known outage does not claim S3 accepts connections.
    expect(causes.map((cause) => cause.cause).join('\n')).not.toContain('accepts connections');
  });
});
