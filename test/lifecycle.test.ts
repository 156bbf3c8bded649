// The lifecycle on every exit path: a first deployment's `ready`, listeners that throw,
// stops that race restarts, restores while replicating, and the replicator's process group.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ensureRestored, ReplicationError, type StopResult, startReplication } from '../src/index.js';
import { companionFiles } from '../src/sqlite/database-files.js';
import { launchApp, restoreFresh } from './reliability/harness.js';
import {
  litestreamChildren,
  onCleanup,
  replicaIds,
  startReplicating,
  stopCleanly,
  tempDir,
  testConfig,
  track,
  waitFor,
  writeRows,
} from './support/fixtures.js';
import { family } from './support/litestream-version.js';

/** The built package's entry, as an app imports it. */
const DIST_INDEX = fileURLToPath(new URL('../dist/index.js', import.meta.url));

/** `promise`, or a rejection naming `what` after `ms`. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

describe('after stop()', () => {
  it('nothing keeps the process alive: an app that lets its event loop drain exits at once, not at the shutdown deadline', async () => {
    const dir = tempDir();
    const database = path.join(dir, 'app.sqlite3');
    writeRows(database, 'drain', 2);
    // A shutdown deadline far beyond this test's timeout: a wait left armed until then fails it.
    const script = `
      const { defineConfig, startReplication } = await import(${JSON.stringify(pathToFileURL(DIST_INDEX).href)});
      const replication = startReplication(defineConfig({
        databases: [${JSON.stringify(database)}],
        replica: { type: 'file', path: ${JSON.stringify(path.join(dir, 'replica'))} },
        syncInterval: '1s',
        shutdownTimeoutMs: 600000,
        logger: false,
      }));
      await replication.ready;
      const { clean } = await replication.stop();
      console.log(clean ? 'stopped clean' : 'stopped unclean');
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    onCleanup(() => {
      if (child.exitCode === null) child.kill('SIGKILL');
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(output.trim()).toBe('stopped clean');
    expect(code).toBe(0);
  });
});

describe('ready on a first deployment', () => {
  it('resolves before any database exists; rows written afterwards reach the replica at stop()', async () => {
    const dir = tempDir();
    // A long sync interval: only the final sync can carry the rows.
    const { config } = testConfig(dir, { syncInterval: '1h' });
    const results = await ensureRestored(config);
    expect(results.map((result) => result.outcome)).toEqual(['no-backup', 'no-backup']);
    const replication = track(startReplication(config));
    // The README's order: ready first, then the app opens (creates) its databases.
    await within(replication.ready, 10_000, 'ready on an empty bucket');
    expect(replication.status().databases.every((db) => !db.synced)).toBe(true);

    const [main, queue] = config.databases.map((db) => db.path) as [string, string];
    const mainIds = writeRows(main, 'first', 20);
    const queueIds = writeRows(queue, 'jobs', 3);
    await stopCleanly(replication);
    expect(litestreamChildren()).toEqual([]);
    expect(await replicaIds(config, main)).toEqual(mainIds);
    expect(await replicaIds(config, queue)).toEqual(queueIds);
  });

  it('with one database present and one missing, waits for the present one only', async () => {
    const dir = tempDir();
    const { config } = testConfig(dir, { syncInterval: '1h' });
    const [main, queue] = config.databases.map((db) => db.path) as [string, string];
    const before = writeRows(main, 'before', 10);
    const replication = track(startReplication(config));
    await within(replication.ready, 10_000, 'ready with one database missing');
    const status = replication.status().databases;
    expect(status.find((db) => db.path === main)?.synced).toBe(true);
    expect(status.find((db) => db.path === queue)?.synced).toBe(false);

    const after = writeRows(main, 'after', 5);
    const jobs = writeRows(queue, 'jobs', 4);
    await stopCleanly(replication);
    expect(await replicaIds(config, main)).toEqual([...before, ...after]);
    expect(await replicaIds(config, queue)).toEqual(jobs);
  });
});

describe('listeners that throw', () => {
  // A throwing log, sync or restart listener is logged while a crash is still restarted and the
  // stop is clean: test/supervision/supervisor.test.ts and safe-emit.test.ts (a fake child).

  // The listener guard is version-neutral (unit-tested as above); this proves it around a real
  // final-sync run of litestream, on one version.
  it.runIf(family === '0.3')(
    'stop() ends stopped even when a listener throws while it runs litestream again',
    async () => {
      const dir = tempDir();
      const { config, logger, replication } = await startReplicating(dir, {
        syncInterval: '1h',
        supervisor: { initialBackoffMs: 30_000, maxBackoffMs: 30_000, resetAfterMs: 60_000 },
      });
      const crashed = new Promise((resolve) => replication.once('restart', resolve));
      process.kill(replication.status().pid as number, 'SIGKILL');
      await crashed;
      // stop() now spawns litestream for the final sync; its `spawn` listener throws.
      replication.on('spawn', () => {
        throw new Error('spawn listener bug');
      });
      const stopped: StopResult[] = [];
      replication.on('stopped', (result) => stopped.push(result));
      const result = await within(replication.stop(), 30_000, 'stop()');
      expect(result.clean, JSON.stringify(result)).toBe(true);
      expect(replication.status().state).toBe('stopped');
      await expect(replication.ready).resolves.toBeUndefined();
      expect(stopped).toEqual([result]);
      expect(logger.text()).toMatch(/a listener of the "spawn" event threw/);
      // The registry let go of it: a new start gets a new handle.
      const again = track(startReplication(config));
      expect(again).not.toBe(replication);
      await again.stop();
    },
  );
});

// stop() racing a restart's pidfile write: test/pidfile-order.test.ts (it wraps the pidfile module).

describe('ensureRestored while replicating', () => {
  it('is refused, and the running litestream keeps its state', async () => {
    const dir = tempDir();
    const { config, replication } = await startReplicating(dir);
    const main = config.databases[0]?.path as string;
    const { metaDir } = companionFiles(main);
    expect(existsSync(metaDir)).toBe(true);
    // The database vanished under the running app (the state ensureRestored would act on).
    rmSync(main);
    const error = await ensureRestored(config).catch((reason: unknown) => reason as Error);
    expect(error).toBeInstanceOf(ReplicationError);
    expect((error as Error).message).toContain(
      `ensureRestored() was called for ${main} while this process replicates it`,
    );
    expect(existsSync(metaDir)).toBe(true);
    expect(replication.status().state).toBe('running');
  });
});

describe('process group', () => {
  it("a terminal's Ctrl-C reaches the app alone; its stop() makes the one final sync, nothing lost", async () => {
    const prefix = `ctrl-c-${Date.now()}`;
    const app = launchApp(prefix);
    const ready = await app.event('ready');
    const litestreamPid = ready.pid as number;
    // Litestream runs in a process group of its own, not the app's.
    expect(processGroup(litestreamPid)).not.toBe(processGroup(app.pid));
    app.send('load');
    await waitFor(() => app.acks.length > 50, 10_000, 'the app to commit under load');
    // Ctrl-C: SIGINT to the terminal's foreground process group (the app's).
    process.kill(-app.pid, 'SIGINT');
    const stopped = await app.event('stopped', 60_000);
    await app.exited;
    expect(stopped).toMatchObject({ clean: true, killed: false });
    expect(app.events.filter((event) => event.event === 'restart')).toEqual([]);
    const restored = await restoreFresh(prefix);
    expect(restored.outcome).toBe('restored');
    expect(restored.integrity).toBe('ok');
    expect(restored.maxId).toBe(app.lastAcked());
  });
});

function processGroup(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2] as string;
}
