import { describe, expect, it } from 'vitest';
import { CredentialsError, ReplicaLeaseError, ReplicaUnreachableError, StaleDatabaseError } from '../../src/errors.js';
import { LeaseGate, type LeaseGateHost } from '../../src/supervision/lease-gate.js';
import { FakeClock, FakeLeases, recordingLogger } from './fakes.js';

const REPLICA = 's3://bucket/app.db';

function harness(attempts: (() => Promise<FakeLeases>)[]) {
  const clock = new FakeClock();
  const logger = recordingLogger();
  const calls: string[] = [];
  let waiting = true;
  const host: LeaseGateHost = {
    paused: () => calls.push('paused'),
    resumed: () => calls.push('resumed'),
    lost: (error) => calls.push(`lost: ${error.message}`),
    waiting: () => waiting,
    taken: () => calls.push('taken'),
    sawFailure: (text) => calls.push(`failure: ${text}`),
  };
  const stop = new AbortController();
  let takes = 0;
  const gate = new LeaseGate({
    take: async () => {
      const attempt = attempts[Math.min(takes++, attempts.length - 1)] as () => Promise<FakeLeases>;
      return attempt();
    },
    afterTaken: async () => {},
    clock,
    logger,
    backoff: { initialBackoffMs: 1_000, maxBackoffMs: 4_000 },
    signal: stop.signal,
    host,
  });
  return {
    clock,
    logger,
    calls,
    gate,
    stop,
    takes: () => takes,
    setWaiting: (value: boolean) => {
      waiting = value;
    },
  };
}

const unreachable = () => Promise.reject(new ReplicaUnreachableError('connect ECONNREFUSED 127.0.0.1:9'));

describe('LeaseGate', () => {
  it('a lost lease reaches the supervisor and shuts the gate for good: not held, status lost', async () => {
    const leases = new FakeLeases();
    const { gate, calls } = harness([async () => leases]);
    await gate.take(true);
    expect(gate.held).toBe(true);
    expect(gate.status()).toEqual({ state: 'held', error: undefined });

    leases.loseTo('host-b');
    expect(calls).toEqual([`lost: another instance (host-b) took ${REPLICA} over`]);
    // The supervisor's health requires `held`: a lost lease is unhealthy, and stays so.
    expect(gate.held).toBe(false);
    expect(gate.paused).toBe(true);
    expect(gate.lost).toBe(true);
    expect(gate.status()).toEqual({ state: 'lost', error: 'taken over by host-b' });
  });

  it('a lease that went unrenewed pauses replication, and its renewal resumes it', async () => {
    const leases = new FakeLeases();
    const { gate, calls } = harness([async () => leases]);
    await gate.take(true);
    leases.pause('renewal failed: timeout');
    expect(gate.held).toBe(false);
    expect(gate.status()).toEqual({ state: 'paused', error: 'renewal failed: timeout' });
    leases.resume();
    expect(gate.held).toBe(true);
    expect(calls).toEqual(['paused', 'resumed']);
  });

  it('an unreachable replica keeps the gate shut and is retried, doubling up to the longest delay, until it answers', async () => {
    const leases = new FakeLeases();
    const { gate, calls, clock, logger, takes } = harness([
      unreachable,
      unreachable,
      unreachable,
      unreachable,
      async () => leases,
    ]);
    await gate.take(true);
    expect(gate.held).toBe(false);
    expect(gate.waitingToTake).toBe(true);
    expect(gate.status().state).toBe('paused');
    expect(gate.status().error).toMatch(/the replica lease could not be taken \(connect ECONNREFUSED/);
    expect(calls).toEqual(['failure: connect ECONNREFUSED 127.0.0.1:9']);
    // Retries after 1, 2, 4 and 4 s (the longest).
    for (const [index, delay] of [1_000, 2_000, 4_000, 4_000].entries()) {
      await clock.advance(delay - 1);
      expect(takes()).toBe(index + 1);
      await clock.advance(1);
      expect(takes()).toBe(index + 2);
    }
    expect(logger.lines.map((line) => (line.fields as { retryInMs: number }).retryInMs)).toEqual([
      1_000, 2_000, 4_000, 4_000,
    ]);
    expect(gate.held).toBe(true);
    expect(calls.at(-1)).toBe('taken');
    expect(clock.pending).toBe(0);
  });

  it('a retry still taking the lease when the replication stops gives back what it took, instead of renewing it until the process exits', async () => {
    const leases = new FakeLeases();
    let land: (value: FakeLeases) => void = () => {};
    const { gate, clock, calls } = harness([unreachable, () => new Promise<FakeLeases>((resolve) => (land = resolve))]);
    await gate.take(true);
    await clock.advance(1_000); // the retry starts, and waits for the replica
    gate.stop();
    await gate.release();
    land(leases);
    await clock.advance(0);
    expect(leases.released).toBe(true);
    expect(gate.held).toBe(false);
    expect(calls).not.toContain('taken');
  });

  it('another holder, or a copy older than the replica, fails the start: nothing is retried', async () => {
    const held = harness([() => Promise.reject(new ReplicaLeaseError('held by host-b', REPLICA, undefined))]);
    await expect(held.gate.take(true)).rejects.toBeInstanceOf(ReplicaLeaseError);
    const stale = harness([() => Promise.reject(Object.create(StaleDatabaseError.prototype) as StaleDatabaseError)]);
    await expect(stale.gate.take(true)).rejects.toBeInstanceOf(StaleDatabaseError);
    for (const { clock, takes } of [held, stale]) {
      await clock.advance(60_000);
      expect(takes()).toBe(1);
    }
  });

  it('no credentials anywhere fails the first start; later it is waited out like an outage', async () => {
    const noKeys = () => Promise.reject(new CredentialsError('no credentials', ['environment'], false));
    const first = harness([noKeys]);
    await expect(first.gate.take(true)).rejects.toBeInstanceOf(CredentialsError);
    const later = harness([noKeys, async () => new FakeLeases()]);
    await later.gate.take(false);
    expect(later.gate.waitingToTake).toBe(true);
    await later.clock.advance(1_000);
    expect(later.gate.held).toBe(true);
  });

  it('a retry that finds the replica taken by another instance stops replication for good', async () => {
    const { gate, calls, clock } = harness([
      unreachable,
      () => Promise.reject(new ReplicaLeaseError('held by host-b', REPLICA, undefined)),
    ]);
    await gate.take(true);
    await clock.advance(1_000);
    expect(calls).toEqual(['failure: connect ECONNREFUSED 127.0.0.1:9', 'lost: held by host-b']);
    expect(clock.pending).toBe(0);
  });

  it('retries stop when the supervisor no longer waits, or stop() is called; release() lets the leases go', async () => {
    const leases = new FakeLeases();
    const gone = harness([unreachable, async () => leases]);
    await gone.gate.take(true);
    gone.setWaiting(false);
    await gone.clock.advance(10_000);
    expect(gone.takes()).toBe(1);

    const stopped = harness([unreachable, async () => leases]);
    await stopped.gate.take(true);
    stopped.gate.stop();
    await stopped.clock.advance(10_000);
    expect(stopped.takes()).toBe(1);
    expect(stopped.clock.pending).toBe(0);

    const held = harness([async () => leases]);
    await held.gate.take(true);
    await held.gate.release();
    expect(leases.released).toBe(true);
    // No longer watched: a late event reaches nobody.
    leases.loseTo('host-b');
    expect(held.calls).toEqual([]);
  });
});
