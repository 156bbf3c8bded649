// One measurement in a fresh Node process, as an app would run it. run.ts forks this file,
// sends one job over IPC, and gets one result back; the process then exits.
//
// The cold and warm starts run the built package (dist/, `npm run build`), imported by its
// own name as an app imports it: its lazy chunks load as they do there. The replication
// figures (throughput, lag, shutdown) drive tsc's modules, which expose the replicator alone.
import { mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { LitestreamConfig, LitestreamOptions } from '../src/index.js';
import { childrenOf, median, percentile } from './measure.js';
import { watchSpawns } from './spawns.js';

type Library = typeof import('../src/index.js');

/** The built package, by its own name (run.ts builds it first), as an app imports it. */
const bundled = (): Promise<Library> => import('litestream-node' as string) as Promise<Library>;
/** tsc's modules and the bench's helpers, for the replication figures. */
const modules = async () => {
  const [library, { startRaw }, common] = await Promise.all([
    import('../src/index.js'),
    import('./raw.js'),
    import('./common.js'),
  ]);
  const configOf = (options: LitestreamOptions): LitestreamConfig =>
    library.defineConfig({ ...options, logger: false });
  return { ...common, configOf, restore: library.restore, replicate: library.startReplication, startRaw };
};

export type Job =
  | { mode: 'restore'; options: LitestreamOptions }
  | { mode: 'warm'; options: LitestreamOptions; calls: number }
  | {
      mode: 'throughput';
      arm: 'none' | 'library' | 'raw' | 'raw-info';
      options: LitestreamOptions;
      rowsPerTransaction: number;
      durationMs: number;
    }
  | { mode: 'lag'; options: LitestreamOptions; samples: number }
  | { mode: 'shutdown'; arm: 'library' | 'raw'; options: LitestreamOptions; loadMs: number }
  | { mode: 'durable'; options: LitestreamOptions; levels: number[]; ops: number };

/** What the durable-write figures measured (ms; per second for the rates). */
export interface DurableFigures {
  /** One listing of the replica from Node: one S3 round trip. */
  roundTripMs: number;
  plain: { p50: number; p99: number; perSecond: number };
  levels: { concurrency: number; p50: number; p99: number; perSecond: number; socketRequests: number }[];
}

/**
 * Cold start: one `ensureRestored` of the built package in a process that has not run
 * litestream yet. Timed after the imports have settled (V8 compiles them on background
 * threads for a while); the boot figure in run.ts times the whole thing, imports included.
 */
async function coldRestore(options: LitestreamOptions) {
  // litestream's own part: from making the first `litestream restore` process to its exit,
  // as the raw arm times it. The rest of the wall time is the library's own (and the
  // integrity check's).
  const spawns = watchSpawns();
  const { defineConfig, ensureRestored } = await bundled();
  const config = defineConfig({ ...options, logger: false });
  await sleep(250);
  const delay = monitorEventLoopDelay({ resolution: 5 });
  delay.enable();
  const startedAt = performance.now();
  const results = await ensureRestored(config);
  const ms = performance.now() - startedAt;
  delay.disable();
  const restore = spawns.find((spawn) => spawn.command === 'restore');
  const litestreamMs = restore?.exitedAt === undefined ? Number.NaN : restore.exitedAt - restore.startedAt;
  return { ms, ownMs: ms - litestreamMs, outcomes: results.map((r) => r.outcome), eventLoopBlockedMs: delay.max / 1e6 };
}

/** Warm start: every database exists; counts the child processes started (none expected). */
async function warmStart(options: LitestreamOptions, calls: number) {
  const spawns = watchSpawns();
  const { defineConfig, ensureRestored } = await bundled();
  const config = defineConfig({ ...options, logger: false });
  const before = childrenOf(process.pid).length;
  const timed = async () => {
    const startedAt = performance.now();
    const results = await ensureRestored(config);
    const ms = performance.now() - startedAt;
    if (results.some((r) => r.outcome !== 'exists')) throw new Error(`unexpected outcome ${JSON.stringify(results)}`);
    return ms;
  };
  const first = await timed();
  for (let i = 0; i < 20; i++) await timed();
  const times: number[] = [];
  for (let i = 0; i < calls; i++) times.push(await timed());
  const after = childrenOf(process.pid).length;
  return {
    first,
    median: median(times),
    p99: percentile(times, 99),
    spawned: spawns.length,
    childProcesses: after - before,
  };
}

async function until(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** Inserts per second with no replication, with the library replicating, or with raw litestream. */
async function throughput(job: Extract<Job, { mode: 'throughput' }>) {
  const { configOf, openDatabase, removeDatabase, replicate, startRaw, writeFor } = await modules();
  const config = configOf(job.options);
  const file = config.databases[0]?.path as string;
  removeDatabase(file);
  const db = openDatabase(file);
  let stop: () => Promise<unknown> = async () => {};
  if (job.arm === 'library') {
    const replication = replicate(config);
    await replication.ready;
    stop = () => replication.stop();
  } else if (job.arm === 'raw' || job.arm === 'raw-info') {
    const raw = await startRaw(config, job.arm === 'raw' ? 'debug' : 'info');
    await until(raw.synced, 30_000, 'raw litestream to sync');
    stop = () => raw.stop();
  }
  try {
    await writeFor(db, 300, job.rowsPerTransaction); // warm-up
    const stats = await writeFor(db, job.durationMs, job.rowsPerTransaction);
    return { rowsPerSecond: (stats.rows / stats.ms) * 1000, rows: stats.rows };
  } finally {
    db.close();
    await stop();
  }
}

/**
 * Commit → restorable. After each commit, waits for the library's next sync event for the
 * written" for the database, then proves the row is in the replica by restoring it. When
 * another segment was written meanwhile, the later one is counted (never an underestimate).
 */
/** How long the lag figure waits for a commit to reach the replica before recording it as that late. */
const LAG_WAIT_MS = 30_000;

async function lag(job: Extract<Job, { mode: 'lag' }>) {
  const { configOf, countRows, openDatabase, removeDatabase, replicate, restore } = await modules();
  const config = configOf(job.options);
  const file = config.databases[0]?.path as string;
  removeDatabase(file);
  const db = openDatabase(file);
  const replication = replicate(config);
  const segments: number[] = [];
  // Either version: the library's sync event says the replica has the change.
  replication.on('sync', (event) => {
    if (event.db === file) segments.push(performance.now());
  });
  await replication.ready;
  const lags: number[] = [];
  const insert = db.prepare('INSERT INTO items (label, body) VALUES (?, ?)');
  const checkDir = path.join(os.tmpdir(), `lag-${process.pid}`);
  mkdirSync(checkDir, { recursive: true });
  try {
    for (let sample = 0; sample < job.samples; sample++) {
      // Commit at a random phase of the sync interval.
      await sleep(Math.random() * 1000);
      const committedAt = performance.now();
      const id = Number(insert.run('lag', Buffer.alloc(100, 'l')).lastInsertRowid);
      for (let seen = segments.length; ; ) {
        // A commit that never reaches the replica within the wait shows as a miss, not a crash.
        const landed = await until(() => segments.length > seen, LAG_WAIT_MS, 'a wal segment').then(
          () => true,
          () => false,
        );
        if (!landed) {
          lags.push(LAG_WAIT_MS);
          break;
        }
        const segmentAt = segments[seen] as number;
        const output = path.join(checkDir, `check-${sample}-${seen}.db`);
        await restore(config, { database: file, output });
        const { maxId } = countRows(output);
        removeDatabase(output);
        if (maxId >= id) {
          // A later segment landed during the check: the row may have come with it.
          const latest = segments.length > seen + 1 ? (segments[segments.length - 1] as number) : segmentAt;
          lags.push(latest - committedAt);
          break;
        }
        seen++;
      }
    }
  } finally {
    db.close();
    await replication.stop();
  }
  return { p50: percentile(lags, 50), p99: percentile(lags, 99), max: Math.max(...lags), samples: lags.length };
}

/** Stop under load: writes until the moment of the stop, then checks the replica has every row. */
/**
 * Durable writes: an insert, then `sync()`, by `concurrency` callers at once, against the
 * same insert alone; and one S3 round trip from this process, for scale.
 */
async function durable(job: Extract<Job, { mode: 'durable' }>): Promise<DurableFigures> {
  const { configOf, openDatabase, removeDatabase, replicate } = await modules();
  const { replicaObjects } = await import('../src/replica/objects.js');
  const config = configOf(job.options);
  const file = config.databases[0]?.path as string;
  removeDatabase(file);
  const db = openDatabase(file);
  const insert = db.prepare('INSERT INTO items (label, body) VALUES (?, ?)');
  const body = Buffer.alloc(100, 'd');
  insert.run('seed', body);
  const replication = replicate(config);
  try {
    await replication.ready;
    const location = config.databases[0]?.replicas[0];
    if (!location) throw new Error('durable: no replica');
    const objects = replicaObjects(location);
    const trips: number[] = [];
    for (let i = 0; i < 21; i++) {
      const startedAt = performance.now();
      await objects.list('');
      if (i > 0) trips.push(performance.now() - startedAt);
    }
    const plainTimes: number[] = [];
    const plainStarted = performance.now();
    for (let i = 0; i < job.ops; i++) {
      const startedAt = performance.now();
      insert.run('plain', body);
      plainTimes.push(performance.now() - startedAt);
    }
    const plainWall = performance.now() - plainStarted;
    const levels: DurableFigures['levels'] = [];
    for (const concurrency of job.levels) {
      const requestsBefore = (replication as unknown as { syncRequests(): number }).syncRequests();
      const times: number[] = [];
      let next = 0;
      const worker = async () => {
        while (next < job.ops) {
          next++;
          const startedAt = performance.now();
          insert.run('durable', body);
          await replication.sync({ timeoutMs: 60_000 });
          times.push(performance.now() - startedAt);
        }
      };
      const startedAt = performance.now();
      await Promise.all(Array.from({ length: concurrency }, worker));
      const wall = performance.now() - startedAt;
      levels.push({
        concurrency,
        p50: median(times),
        p99: percentile(times, 99),
        perSecond: (times.length * 1000) / wall,
        socketRequests: (replication as unknown as { syncRequests(): number }).syncRequests() - requestsBefore,
      });
    }
    return {
      roundTripMs: median(trips),
      plain: { p50: median(plainTimes), p99: percentile(plainTimes, 99), perSecond: (job.ops * 1000) / plainWall },
      levels,
    };
  } finally {
    await replication.stop();
    db.close();
  }
}

async function shutdown(job: Extract<Job, { mode: 'shutdown' }>) {
  const { configOf, countRows, openDatabase, removeDatabase, replicate, restore, startRaw, writeFor } = await modules();
  const config = configOf(job.options);
  const file = config.databases[0]?.path as string;
  removeDatabase(file);
  const db = openDatabase(file);
  let stop: () => Promise<{ ms: number; clean: boolean; killed: boolean }>;
  if (job.arm === 'library') {
    const replication = replicate(config);
    await replication.ready;
    stop = async () => {
      const startedAt = performance.now();
      const result = await replication.stop();
      return { ms: performance.now() - startedAt, clean: result.clean, killed: result.killed };
    };
  } else {
    const raw = await startRaw(config);
    await until(raw.synced, 30_000, 'raw litestream to sync');
    stop = async () => {
      const result = await raw.stop();
      return { ms: result.ms, clean: result.code === 0 && !result.killed, killed: result.killed };
    };
  }
  const stats = await writeFor(db, job.loadMs, 1);
  db.close();
  const stopped = await stop();
  const output = path.join(os.tmpdir(), `shutdown-check-${process.pid}.db`);
  await restore(config, { database: file, output });
  const { count, maxId } = countRows(output);
  removeDatabase(output);
  return {
    ms: stopped.ms,
    clean: stopped.clean,
    killed: stopped.killed,
    committed: stats.lastId,
    lost: stats.lastId - count,
    restoredMaxId: maxId,
    rowsPerSecond: (stats.rows / stats.ms) * 1000,
  };
}

async function run(job: Job): Promise<unknown> {
  switch (job.mode) {
    case 'restore':
      return coldRestore(job.options);
    case 'warm':
      return warmStart(job.options, job.calls);
    case 'throughput':
      return throughput(job);
    case 'lag':
      return lag(job);
    case 'shutdown':
      return shutdown(job);
    case 'durable':
      return durable(job);
  }
}

process.once('message', (job: Job) => {
  run(job).then(
    (result) => process.send?.({ result }, () => process.exit(0)),
    (error: unknown) =>
      process.send?.({ error: error instanceof Error ? (error.stack ?? error.message) : String(error) }, () =>
        process.exit(1),
      ),
  );
});
// The orchestrator went away: do not outlive it.
process.on('disconnect', () => process.exit(1));
