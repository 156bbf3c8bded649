// Where the milliseconds of one cold boot go: `ensureRestored` of a missing database from
// the S3 replica (versitygw on 127.0.0.1), traced step by step in fresh processes, on each
// release line, beside raw `litestream restore` in the same run.
//
//   npm run build && npx tsc -p bench/tsconfig.json && node bench/.build/bench/trace-boot.js [--reps 7] [--mib 10] [--litestream 0.3,0.5] [--bundle]
//
// By default it runs tsc's modules (as `npm run bench`'s cold starts do); `--bundle` runs
// dist/ by the package's name, as an app does (lazy chunks load as they would there).
//
// Prints one markdown table: each step's median time since the call began (ms), per line.
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { LitestreamFamily } from '../src/engine/binary.js';
import { defineConfig, type LitestreamOptions, startReplication as replicate } from '../src/index.js';
import { S3Server } from '../test/support/s3-server.js';
import { ensureTool } from '../test/tools/install.mjs';
import { killBenchProcesses, MiB, makeDatabase, median, removeDatabase, useLitestream } from './common.js';
import { rawRestore, writeYaml } from './raw.js';
import type { TraceJob, TraceMarkTime } from './trace-child.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const { values: flags } = parseArgs({
  options: {
    reps: { type: 'string', default: '7' },
    mib: { type: 'string', default: '10' },
    litestream: { type: 'string', default: '0.3,0.5' },
    // Trace the built package (run `npm run build` first), as apps import it.
    bundle: { type: 'boolean', default: false },
  },
});
const reps = Number(flags.reps);
const mib = Number(flags.mib);
const lines = (flags.litestream ?? '0.3,0.5').split(',') as LitestreamFamily[];

const work = mkdtempSync(path.join(os.tmpdir(), 'lsnode-trace-'));
const tmp = path.join(work, 'tmp');
mkdirSync(tmp);
process.env.TMPDIR = tmp;
const childEnv: NodeJS.ProcessEnv = { ...process.env, LITESTREAM_NODE_TRACE: '1' };
process.on('exit', () => {
  killBenchProcesses(process.pid, work);
  rmSync(work, { recursive: true, force: true });
});

function traced(job: TraceJob): Promise<{ marks: TraceMarkTime[]; outcome: string }> {
  const child: ChildProcess = fork(path.join(here, 'trace-child.js'), [work], {
    env: childEnv,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    child.once('message', (message: { result?: { marks: TraceMarkTime[]; outcome: string }; error?: string }) => {
      if (message.error !== undefined || message.result === undefined) reject(new Error(message.error));
      else resolve(message.result);
    });
    child.once('exit', (code) => reject(new Error(`trace child exited ${code} without a result`)));
    child.send(job);
  });
}

const settleDisk = () => new Promise((resolve) => spawn('sync', { stdio: 'ignore' }).on('exit', resolve));

async function main(): Promise<void> {
  const s3 = await S3Server.start('versitygw', await ensureTool('versitygw'), path.join(work, 's3'));
  /** Per line: step → its times (ms since the call began) over the counted rounds. */
  const columns = new Map<string, Map<string, number[]>>();
  const totals = new Map<string, { library: number[]; raw: number[] }>();
  try {
    for (const line of lines) {
      const { version } = await useLitestream(line, childEnv);
      const area = path.join(work, `v${line}`);
      mkdirSync(path.join(area, 'restore'), { recursive: true });
      const fixture = path.join(area, 'db.sqlite3');
      makeDatabase(fixture, mib * MiB);
      const replica: LitestreamOptions['replica'] = {
        type: 's3',
        bucket: s3.bucket,
        endpoint: s3.endpoint,
        region: s3.region,
        accessKeyId: s3.accessKeyId,
        secretAccessKey: s3.secretAccessKey,
        path: `trace-v${line}`,
      };
      const base = { syncInterval: '1s', shutdownTimeoutMs: 30_000, replica } as const;
      const seeding = replicate(
        defineConfig({ ...base, logger: false, databases: [{ path: fixture, replicaPath: 'db' }] }),
      );
      await seeding.ready;
      await seeding.stop();
      removeDatabase(fixture);
      const target = path.join(area, 'restore', 'db.sqlite3');
      const options: LitestreamOptions = { ...base, databases: [{ path: target, replicaPath: 'db' }] };
      const config = defineConfig({ ...options, logger: false });
      const yml = await writeYaml(config);
      const steps = new Map<string, number[]>();
      const total = { library: [] as number[], raw: [] as number[] };
      for (let round = 0; round <= reps; round++) {
        for (const arm of round % 2 === 0 ? ['library', 'raw'] : ['raw', 'library']) {
          removeDatabase(target);
          await settleDisk();
          if (arm === 'raw') {
            const ms = await rawRestore(config, yml, target, target);
            if (round > 0) total.raw.push(ms);
            continue;
          }
          const { marks, outcome } = await traced({ options, bundle: flags.bundle === true });
          if (outcome !== 'restored') throw new Error(`trace: ${outcome}`);
          if (round === 0) continue; // warms the page cache and the binary
          const end = marks.find((mark) => mark.step === 'boot:end');
          if (end) total.library.push(end.atMs);
          const firstOf = new Map<string, number>();
          for (const mark of marks) if (!firstOf.has(mark.step)) firstOf.set(mark.step, mark.atMs);
          for (const [step, atMs] of firstOf) steps.set(step, [...(steps.get(step) ?? []), atMs]);
        }
      }
      removeDatabase(target);
      columns.set(version, steps);
      totals.set(version, total);
    }
  } finally {
    await s3.stop();
  }
  const versions = [...columns.keys()];
  // Rows in the order of the first line's medians.
  const order = new Map<string, number>();
  for (const steps of columns.values())
    for (const [step, times] of steps) order.set(step, Math.min(order.get(step) ?? Infinity, median(times)));
  const rows = [...order].sort((a, b) => a[1] - b[1]).map(([step]) => step);
  const cell = (times: number[] | undefined) => (times ? median(times).toFixed(1) : '—');
  console.log(
    `${mib} MiB missing, S3 replica (versitygw, loopback); ${reps} traced boots per line, medians, ms since ensureRestored began\n`,
  );
  console.log(`| step | ${versions.join(' | ')} |`);
  console.log(`| --- | ${versions.map(() => '--:').join(' | ')} |`);
  for (const step of rows)
    console.log(`| ${step} | ${versions.map((v) => cell(columns.get(v)?.get(step))).join(' | ')} |`);
  for (const [version, total] of totals) {
    const ratio = median(total.library) / median(total.raw);
    console.log(
      `\n${version}: ensureRestored ${median(total.library).toFixed(1)} ms, raw litestream restore ${median(total.raw).toFixed(1)} ms (×${ratio.toFixed(2)})`,
    );
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
