// One traced cold start in a fresh Node process (forked by trace-boot.ts): ensureRestored
// with LITESTREAM_NODE_TRACE=1, answering with every performance mark it left. litestream's
// own log lines are marked too (first of each message), and every child process's start and
// exit (seen through Node's diagnostics channel, whichever copy of the library runs).
//
// Two kinds of trace:
// - restore (default): the call alone, after the imports have settled (as the bench's cold
//   start times it); marks in ms since ensureRestored began.
// - boot: the whole boot to the first query, as an app runs it (import, defineConfig,
//   ensureRestored, open the database, one query), nothing waited for in between; marks in
//   ms since the process began (performance.timeOrigin).
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { LitestreamOptions } from '../src/index.js';
import { watchSpawns } from './spawns.js';

// After Node's bootstrap and this file's two small imports.
const scriptAt = performance.now();

export interface TraceJob {
  options: LitestreamOptions;
  /** Run tsc's modules instead of the built package (dist/, as apps import it). */
  modules: boolean;
  /** Trace the whole boot, from the process's start to the first query's answer. */
  boot: boolean;
}

export interface TraceMarkTime {
  step: string;
  atMs: number;
}

async function trace(job: TraceJob): Promise<{ marks: TraceMarkTime[]; outcome: string }> {
  performance.mark('node: trace script running', { startTime: scriptAt });
  watchSpawns(
    (spawn) => performance.mark(`spawned: litestream ${spawn.command}`, { startTime: spawn.startedAt }),
    (spawn) => performance.mark(`exited: litestream ${spawn.command}`, { startTime: spawn.exitedAt }),
  );
  // The package by its own name, as an app imports it; or tsc's modules.
  const entry = job.modules ? '../src/index.js' : 'litestream-node';
  const { defineConfig, ensureRestored } = (await import(entry)) as typeof import('../src/index.js');
  performance.mark('app: litestream-node imported');
  const seen = new Set<string>();
  const noop = () => {};
  const config = defineConfig({
    ...job.options,
    logger: {
      debug: (_fields, message) => {
        if (typeof message !== 'string' || seen.has(message)) return;
        seen.add(message);
        performance.mark(`litestream: ${message}`);
      },
      info: noop,
      warn: noop,
      error: noop,
    },
  });
  performance.mark('app: defineConfig returned');
  let start = 0;
  // The Node process's CPU time (every thread: the integrity check's worker too) since it began.
  let cpuAtStart = { user: 0, system: 0 };
  if (!job.boot) {
    // As bench/child.ts: timed once the imports have settled.
    await sleep(250);
    performance.clearMarks();
    start = performance.now();
    cpuAtStart = process.cpuUsage();
  }
  const results = await ensureRestored(config);
  performance.mark('app: ensureRestored resolved');
  if (job.boot) {
    // As the boot figure's app (bench/boot.ts): open the database, one query.
    const { default: Database } = await import('better-sqlite3');
    performance.mark('app: better-sqlite3 loaded');
    const file = config.databases[0]?.path as string;
    const db = new Database(file, { fileMustExist: true });
    db.prepare('SELECT count(*) AS n FROM items').get();
    db.close();
    performance.mark('app: first query answered');
  }
  const cpu = process.cpuUsage(cpuAtStart);
  // Under --cpu-prof: the marks, and where the call began on the profile's clock (µs, hrtime).
  const marksDir = process.env.LITESTREAM_NODE_TRACE_MARKS_DIR;
  if (marksDir) {
    const startUs = Number(process.hrtime.bigint() / 1000n) - (performance.now() - start) * 1000;
    const all = performance.getEntriesByType('mark').map((mark) => ({ step: mark.name, atMs: mark.startTime - start }));
    writeFileSync(path.join(marksDir, `marks-${process.pid}.json`), JSON.stringify({ startUs, marks: all }));
  }
  const marks = performance
    .getEntriesByType('mark')
    .map((mark) => ({ step: mark.name.replace(/^litestream-node:/, ''), atMs: mark.startTime - start }));
  // Not a time of day: CPU milliseconds, on a machine whose cores litestream and the S3 server share.
  marks.push({
    step: job.boot
      ? 'CPU ms of the Node process, all threads, since it began'
      : 'CPU ms of the Node process, all threads, during the call',
    atMs: (cpu.user + cpu.system) / 1000,
  });
  return { marks, outcome: results.map((result) => result.outcome).join(',') };
}

process.once('message', (job: TraceJob) => {
  trace(job).then(
    (result) => process.send?.({ result }, () => process.exit(0)),
    (error: unknown) => process.send?.({ error: String((error as Error)?.stack ?? error) }, () => process.exit(1)),
  );
});
process.on('disconnect', () => process.exit(1));
