import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { defineConfig } from '../../src/config/define.js';
import type { Runtime } from '../../src/engine/engine.js';
import { engineV0_3 } from '../../src/engine/v0_3/index.js';
import { LitestreamAbortError, ReplicaLeaseError } from '../../src/errors.js';
import { Supervisor } from '../../src/replication/supervisor.js';
import type { StopResult } from '../../src/replication/types.js';
import { FakeChild, FakeClock, FakeLeases, recordingLogger, settle } from './fakes.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function supervised(options: { withData?: boolean } = {}) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'supervisor-unit-'));
  dirs.push(dir);
  const logger = recordingLogger();
  // Without data (a first deployment) there is nothing to sync: ready and a clean final
  // sync need no replica positions from the fake child. With data, only litestream's log
  // could show its final sync in the replica.
  const database = path.join(dir, 'app.db');
  if (options.withData) writeFileSync(database, 'rows the app committed');
  const config = defineConfig({
    databases: [database],
    replica: { type: 'file', path: path.join(dir, 'replica') },
    logger,
    shutdownTimeoutMs: 30_000,
    supervisor: { initialBackoffMs: 1_000, maxBackoffMs: 30_000, resetAfterMs: 60_000 },
  });
  const clock = new FakeClock();
  const leases = new FakeLeases();
  const children: FakeChild[] = [];
  const runtime: Runtime = {
    engine: engineV0_3,
    binary: '/nonexistent/litestream',
    verified: async () => ({
      path: '/nonexistent/litestream',
      version: 'v0.3.13',
      family: '0.3',
      source: 'binaryPath option',
    }),
    diagnose: async () => {},
  };
  let stopped = 0;
  const supervisor = new Supervisor(config, () => stopped++, {
    clock,
    resolveRuntime: async () => runtime,
    takeLeases: async () => leases,
    compareWithReplica: async () => {},
    spawn: () => {
      const child = new FakeChild();
      children.push(child);
      // Litestream 0.3 says it is running as soon as it starts; on SIGTERM it exits 0.
      queueMicrotask(() => child.print({ level: 'INFO', msg: 'litestream v0.3.13' }));
      child.onSignal = (self, signal) =>
        self.exit(signal === 'SIGTERM' ? 0 : undefined, signal === 'SIGTERM' ? undefined : signal);
      return child;
    },
  });
  return { supervisor, clock, leases, children, logger, database, stopped: () => stopped };
}

describe('Supervisor', () => {
  it('a lease lost to another instance: litestream is killed with no final sync, replication stops and reports unhealthy', async () => {
    const { supervisor, leases, children, logger, database, stopped } = supervised({ withData: true });
    supervisor.start();
    await supervisor.started;
    await settle();
    expect(supervisor.status()).toMatchObject({ state: 'running', healthy: true, lease: { state: 'held' } });

    const events: string[] = [];
    supervisor.on('lease', (lease) => events.push(`lease ${lease.state}`));
    const result = new Promise((resolve) => supervisor.once('stopped', resolve));
    leases.loseTo('host-b', `${database}-replica`);
    await result;

    // SIGKILL only: a final sync would make this instance a second writer.
    expect(children.map((child) => child.signals)).toEqual([['SIGKILL']]);
    expect(events).toEqual(['lease lost']);
    const status = supervisor.status();
    expect(status).toMatchObject({ state: 'stopped', healthy: false, lease: { state: 'lost' }, pid: undefined });
    const outcome = await supervisor.stop();
    // Its data never reached the replica: not clean, and ready says why replication ended.
    expect(outcome).toMatchObject({ clean: false, killed: true });
    await expect(supervisor.ready).rejects.toBeInstanceOf(ReplicaLeaseError);
    expect(outcome.errors).toContain(`another instance (host-b) took ${database}-replica over`);
    expect(stopped()).toBe(1);
    expect(
      logger.lines.some((line) => line.message === 'litestream stopped, but its final sync may be incomplete'),
    ).toBe(true);
  });

  it('listeners that throw are logged; litestream is still restarted after a crash and stopped cleanly', async () => {
    const { supervisor, clock, children, logger } = supervised();
    for (const event of ['spawn', 'log', 'restart', 'ready'] as const) {
      supervisor.on(event, () => {
        throw new Error(`${event} listener bug`);
      });
    }
    supervisor.start();
    await supervisor.started;
    await supervisor.ready;
    (children[0] as FakeChild).exit(1);
    await settle();
    expect(supervisor.status()).toMatchObject({ state: 'restarting', restarts: 1 });
    await clock.advance(1_000);
    expect(children).toHaveLength(2);
    await settle();
    expect(supervisor.status()).toMatchObject({ state: 'running', pid: children[1]?.pid });

    const result = await supervisor.stop();
    expect(result).toMatchObject({ clean: true, killed: false, exitCode: 0 });
    expect(children[1]?.signals).toEqual(['SIGTERM']);
    expect(supervisor.status().state).toBe('stopped');
    for (const event of ['spawn', 'log', 'restart', 'ready']) {
      expect(
        logger.lines.some((line) => line.message === `a listener of the "${event}" event threw; replication goes on`),
        event,
      ).toBe(true);
    }
  });

  it('stop() twice sends one SIGTERM, and both calls get the same result', async () => {
    const { supervisor, children } = supervised();
    supervisor.start();
    await supervisor.ready;
    const [a, b] = await Promise.all([supervisor.stop(), supervisor.stop()]);
    expect(children.map((child) => child.signals)).toEqual([['SIGTERM']]);
    expect(a).toBe(b);
    expect(a).toMatchObject({ clean: true, killed: false, exitCode: 0 });
  });

  it('a stop while a crashed litestream waits for its restart runs it once more for the final sync, and no restart follows', async () => {
    const { supervisor, clock, children } = supervised();
    supervisor.start();
    await supervisor.ready;
    (children[0] as FakeChild).exit(1);
    await settle();
    expect(supervisor.status().state).toBe('restarting');
    const result = await supervisor.stop();
    expect(result).toMatchObject({ clean: true, exitCode: 0 });
    expect(children.map((child) => child.signals)).toEqual([[], ['SIGTERM']]);
    await clock.advance(60_000);
    expect(children).toHaveLength(2);
  });

  it('stop({ signal }) given up: litestream is SIGKILLed at once, stopped says killed, and the call rejects', async () => {
    const { supervisor, children } = supervised({ withData: true });
    supervisor.start();
    await supervisor.started;
    const stopped: StopResult[] = [];
    supervisor.on('stopped', (result) => stopped.push(result));
    const giveUp = new AbortController();
    const stopping = supervisor.stop({ signal: giveUp.signal, timeoutMs: 30_000 });
    await settle();
    // Litestream has not said it opened the database: no SIGTERM yet (it would skip the final sync).
    expect(children[0]?.signals).toEqual([]);
    giveUp.abort();
    await expect(stopping).rejects.toBeInstanceOf(LitestreamAbortError);
    expect(children[0]?.signals).toEqual(['SIGKILL']);
    expect(stopped).toEqual([expect.objectContaining({ clean: false, killed: true })]);
    expect(supervisor.status().state).toBe('stopped');
  });
});
