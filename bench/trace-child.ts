// One traced cold start in a fresh Node process (forked by trace-boot.ts): ensureRestored
// with LITESTREAM_NODE_TRACE=1, answering with every performance mark it left, in ms since
// the call began. litestream's own log lines are marked too (first of each message).
import { setTimeout as sleep } from 'node:timers/promises';
import type { LitestreamOptions } from '../src/index.js';
import { spawnEvents } from '../src/process/spawn.js';

export interface TraceJob {
  options: LitestreamOptions;
  /** Run the built package (dist/, as apps import it) instead of tsc's modules. */
  bundle: boolean;
}

export interface TraceMarkTime {
  step: string;
  atMs: number;
}

async function trace(job: TraceJob): Promise<{ marks: TraceMarkTime[]; outcome: string }> {
  // The bundle by the package's own name; its spawns are not seen (its own spawn module).
  const entry = job.bundle ? 'litestream-node' : '../src/index.js';
  const { defineConfig, ensureRestored } = (await import(entry)) as typeof import('../src/index.js');
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
  spawnEvents.on('spawn', ({ command }) => performance.mark(`spawned: litestream ${command}`));
  // As bench/child.ts: timed once the imports have settled.
  await sleep(250);
  performance.clearMarks();
  const start = performance.now();
  const results = await ensureRestored(config);
  const marks = performance
    .getEntriesByType('mark')
    .map((mark) => ({ step: mark.name.replace(/^litestream-node:/, ''), atMs: mark.startTime - start }));
  return { marks, outcome: results.map((result) => result.outcome).join(',') };
}

process.once('message', (job: TraceJob) => {
  trace(job).then(
    (result) => process.send?.({ result }, () => process.exit(0)),
    (error: unknown) => process.send?.({ error: String((error as Error)?.stack ?? error) }, () => process.exit(1)),
  );
});
process.on('disconnect', () => process.exit(1));
