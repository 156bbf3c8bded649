// stop() racing a restart: the restarted litestream's pidfile record must never land after
// stop() removed the pidfiles. The pidfile module is the real one; its write waits at a gate
// the test opens, as a slow disk would make it wait.
import { existsSync } from 'node:fs';
import { describe, expect, it, vi } from 'vitest';
import { companionFiles } from '../src/sqlite/database-files.js';
import { startReplicating, tempDir, waitFor } from './support/fixtures.js';

const gate = vi.hoisted(() => {
  let open: () => void = () => {};
  let opened = Promise.resolve();
  const state = {
    close() {
      state.waiting = 0;
      state.written = 0;
      opened = new Promise<void>((resolve) => {
        open = resolve;
      });
    },
    open: () => open(),
    wait: () => opened,
    waiting: 0,
    written: 0,
  };
  return state;
});

vi.mock('../src/process/pidfile.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../src/process/pidfile.js')>();
  return {
    ...real,
    writeRecord: async (database: string, litestreamPid: number) => {
      gate.waiting++;
      await gate.wait();
      try {
        return await real.writeRecord(database, litestreamPid);
      } finally {
        gate.written++;
      }
    },
  };
});

describe('stop() racing a restart', () => {
  it('leaves no pidfile behind when the restarted litestream records its pid late', async () => {
    const dir = tempDir();
    const { config, replication } = await startReplicating(dir, {
      supervisor: { initialBackoffMs: 100, maxBackoffMs: 100, resetAfterMs: 60_000 },
    });
    const pidfile = companionFiles(config.databases[0]?.path as string).pidfile;
    expect(existsSync(pidfile)).toBe(true);

    gate.close();
    const respawned = new Promise<void>((resolve) => replication.once('spawn', () => resolve()));
    process.kill(replication.status().pid as number, 'SIGKILL');
    await respawned;
    await waitFor(() => gate.waiting >= config.databases.length, 10_000, 'the pidfile writes to wait at the gate');
    const stopping = replication.stop();
    // The slow write lands only once the replicator has stopped.
    await waitFor(() => replication.status().state === 'stopped', 20_000, 'the replication to stop');
    gate.open();
    const result = await stopping;
    await waitFor(() => gate.written === gate.waiting, 10_000, 'the delayed pidfile writes to land');
    expect(result.clean, JSON.stringify(result)).toBe(true);
    expect(existsSync(pidfile)).toBe(false);
  });
});
