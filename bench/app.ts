// A minimal app for the memory figure: it writes to its database under a steady load and
// reports its RSS. `bare` never loads the library; `library` restores and replicates.
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { LitestreamOptions } from '../src/index.js';
import { median, openDatabase, rssOf } from './common.js';

interface AppJob {
  arm: 'bare' | 'library';
  options: LitestreamOptions;
  loadMs: number;
}

async function run(job: AppJob) {
  const file = path.resolve(String(job.options.databases?.[0]));
  let litestreamPid: number | undefined;
  let stop: () => Promise<unknown> = async () => {};
  if (job.arm === 'library') {
    // The built package, as an app imports it (by its own name).
    const { defineConfig, ensureRestored, startReplication } = (await import(
      'litestream-node' as string
    )) as typeof import('../src/index.js');
    const config = defineConfig({ ...job.options, logger: false });
    await ensureRestored(config);
    const replication = startReplication(config);
    await replication.ready;
    litestreamPid = replication.status().pid;
    stop = () => replication.stop();
  }
  const db = openDatabase(file);
  // A busy app: about 1,000 single-row transactions a second, in bursts of 100. (Writing
  // flat out instead, tens of thousands a second, outruns litestream 0.3's WAL copy: its
  // checkpoint of the grown WAL then holds writers past their busy timeout, library or not.)
  const insert = db.prepare('INSERT INTO items (label, body) VALUES (?, ?)');
  const body = Buffer.alloc(100, 'm');
  const samples: number[] = [];
  const litestream: number[] = [];
  let peak = 0;
  const end = Date.now() + job.loadMs;
  while (Date.now() < end) {
    for (let i = 0; i < 100; i++) insert.run('memory', body);
    await sleep(100);
    const rss = process.memoryUsage().rss;
    peak = Math.max(peak, rss);
    samples.push(rss);
    if (litestreamPid !== undefined) litestream.push(rssOf(litestreamPid));
  }
  db.close();
  const steady = samples.slice(Math.floor(samples.length / 2));
  const result = {
    rss: median(steady),
    peak,
    litestreamRss: litestream.length > 0 ? median(litestream.slice(Math.floor(litestream.length / 2))) : undefined,
  };
  await stop();
  return result;
}

process.once('message', (job: AppJob) => {
  run(job).then(
    (result) => process.send?.({ result }, () => process.exit(0)),
    (error: unknown) => process.send?.({ error: String((error as Error)?.stack ?? error) }, () => process.exit(1)),
  );
});
process.on('disconnect', () => process.exit(1));
