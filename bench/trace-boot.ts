// Where the milliseconds of one cold boot go: `ensureRestored` of a missing database from
// the S3 replica (versitygw on 127.0.0.1), traced step by step in fresh processes, on each
// release line, beside raw `litestream restore` in the same run.
//
//   npm run build && npx tsc -p bench/tsconfig.json && node bench/.build/bench/trace-boot.js [--reps 7] [--mib 10] [--litestream 0.3,0.5] [--replica s3|file] [--boot] [--modules]
//
// It runs dist/ by the package's name, as an app does and as `npm run bench`'s cold starts
// do (lazy chunks load as they would there); `--modules` runs tsc's modules instead.
// `--boot` traces the whole boot to the first query (import, defineConfig, ensureRestored,
// open, query; nothing waited for in between) beside a shell entrypoint's (`litestream
// restore`, then a node app that opens the database and queries it), as the bench's "boot
// to first query" figure: marks in ms since the traced process began.
//
// `--cpu-prof DIR` writes a V8 CPU profile of each traced process there (open one in Chrome's
// DevTools), with its marks beside it.
//
// `--against DIR[,DIR…]` traces, in the same run and in rotation, the built package of other
// checkouts too (each DIR has run `npm run build` and `npx tsc -p bench/tsconfig.json`): a
// change measured beside the code before it, on the same machine load.
//
// Prints one markdown table: each step's median time (ms) since the call (or, with --boot,
// the process) began, per line (and checkout).
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { LitestreamFamily } from '../src/engine/binary.js';
import { defineConfig, type LitestreamOptions, startReplication as replicate } from '../src/index.js';
import { s3ReplicaOptions } from '../test/support/s3-client.js';
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
    // Where the replica is: the S3 server (default) or a directory.
    replica: { type: 'string', default: 's3' },
    // Trace tsc's modules instead of the built package (the default, as apps import it).
    modules: { type: 'boolean', default: false },
    // Accepted for the commands of older notes: the built package is the default now.
    bundle: { type: 'boolean', default: false },
    // The whole boot to the first query, beside a shell entrypoint's.
    boot: { type: 'boolean', default: false },
    // Other checkouts whose built package is traced beside this one's.
    against: { type: 'string' },
    // Writes a V8 CPU profile of every traced process into this directory, and beside each
    // its marks (marks-<pid>.json, with the call's start on the profile's clock).
    'cpu-prof': { type: 'string' },
  },
});
const reps = Number(flags.reps);
const mib = Number(flags.mib);
const lines = (flags.litestream ?? '0.3,0.5').split(',') as LitestreamFamily[];
const bootTrace = flags.boot === true;
/** The checkouts traced: this one ('.') and each `--against` directory. */
const checkouts = ['.', ...(flags.against ?? '').split(',').filter(Boolean)].map((dir) => ({
  label: dir === '.' ? 'this' : path.basename(path.resolve(dir)),
  script: dir === '.' ? path.join(here, 'trace-child.js') : path.resolve(dir, 'bench/.build/bench/trace-child.js'),
}));

const work = mkdtempSync(path.join(os.tmpdir(), 'lsnode-trace-'));
const tmp = path.join(work, 'tmp');
mkdirSync(tmp);
process.env.TMPDIR = tmp;
const childEnv: NodeJS.ProcessEnv = { ...process.env, LITESTREAM_NODE_TRACE: '1' };
process.on('exit', () => {
  killBenchProcesses(process.pid, work);
  rmSync(work, { recursive: true, force: true });
});

/** A shell entrypoint's app (bench/boot.ts, bare): opens the restored database, one query. */
function bareApp(database: string, options: LitestreamOptions): Promise<void> {
  const child: ChildProcess = fork(path.join(here, 'boot.js'), [work], {
    env: childEnv,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    child.once('message', (message: { error?: string }) =>
      message.error === undefined ? resolve() : reject(new Error(message.error)),
    );
    child.once('exit', (code) => reject(new Error(`boot child exited ${code} without a result`)));
    child.send({ arm: 'bare', options, database });
  });
}

function traced(script: string, job: TraceJob): Promise<{ marks: TraceMarkTime[]; outcome: string }> {
  const profiles = flags['cpu-prof'] && path.resolve(flags['cpu-prof']);
  const child: ChildProcess = fork(script, [work], {
    env: profiles ? { ...childEnv, LITESTREAM_NODE_TRACE_MARKS_DIR: profiles } : childEnv,
    execArgv: profiles ? ['--cpu-prof', '--cpu-prof-interval', '100', '--cpu-prof-dir', profiles] : [],
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
      const replica: LitestreamOptions['replica'] =
        flags.replica === 'file'
          ? { type: 'file', path: path.join(area, 'file-replica') }
          : s3ReplicaOptions(s3, `trace-v${line}`);
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
      const label = (checkout: (typeof checkouts)[number]) =>
        checkouts.length === 1 ? version : `${version} ${checkout.label}`;
      const steps = new Map(checkouts.map((checkout) => [checkout, new Map<string, number[]>()]));
      const total = new Map(checkouts.map((checkout) => [checkout, [] as number[]]));
      const raw: number[] = [];
      const arms = [...checkouts, 'raw' as const];
      for (let round = 0; round <= reps; round++) {
        // Rotated, and reversed every other round: no arm always runs first or after the same one.
        const shifted = [...arms.slice(round % arms.length), ...arms.slice(0, round % arms.length)];
        for (const arm of round % 2 === 0 ? shifted : shifted.reverse()) {
          removeDatabase(target);
          await settleDisk();
          const startedAt = performance.now();
          if (arm === 'raw') {
            let ms = await rawRestore(config, yml, target, target);
            if (bootTrace) {
              await bareApp(target, options);
              ms = performance.now() - startedAt;
            }
            if (round > 0) raw.push(ms);
            continue;
          }
          const { marks, outcome } = await traced(arm.script, {
            options,
            modules: flags.modules === true,
            boot: bootTrace,
          });
          const wallMs = performance.now() - startedAt;
          if (outcome !== 'restored') throw new Error(`trace: ${outcome}`);
          if (round === 0) continue; // warms the page cache and the binary
          if (bootTrace) total.get(arm)?.push(wallMs);
          else {
            const end = marks.find((mark) => mark.step === 'boot:end');
            if (end) total.get(arm)?.push(end.atMs);
          }
          const firstOf = new Map<string, number>();
          for (const mark of marks) if (!firstOf.has(mark.step)) firstOf.set(mark.step, mark.atMs);
          const own = steps.get(arm) as Map<string, number[]>;
          for (const [step, atMs] of firstOf) own.set(step, [...(own.get(step) ?? []), atMs]);
        }
      }
      removeDatabase(target);
      for (const checkout of checkouts) {
        columns.set(label(checkout), steps.get(checkout) as Map<string, number[]>);
        totals.set(label(checkout), { library: total.get(checkout) as number[], raw });
      }
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
  const what = flags.modules === true ? "tsc's modules" : 'the built package';
  const where = flags.replica === 'file' ? 'file replica' : 'S3 replica (versitygw, loopback)';
  console.log(
    bootTrace
      ? `${mib} MiB missing, ${where}, ${what}; ${reps} traced boots to the first query per line, medians, ms since the traced process began\n`
      : `${mib} MiB missing, ${where}, ${what}; ${reps} traced boots per line, medians, ms since ensureRestored began\n`,
  );
  console.log(`| step | ${versions.join(' | ')} |`);
  console.log(`| --- | ${versions.map(() => '--:').join(' | ')} |`);
  for (const step of rows)
    console.log(`| ${step} | ${versions.map((v) => cell(columns.get(v)?.get(step))).join(' | ')} |`);
  for (const [version, total] of totals) {
    const ratio = median(total.library) / median(total.raw);
    console.log(
      bootTrace
        ? `\n${version}: fork → first query ${median(total.library).toFixed(1)} ms, shell entrypoint (litestream restore, then fork → first query) ${median(total.raw).toFixed(1)} ms (×${ratio.toFixed(2)})`
        : `\n${version}: ensureRestored ${median(total.library).toFixed(1)} ms, raw litestream restore ${median(total.raw).toFixed(1)} ms (×${ratio.toFixed(2)})`,
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
