// `npm run bench [-- --quick] [-- --only cold,warm,…] [-- --update-docs]`
//
// Measures what litestream-node costs an app next to raw litestream (a shell entrypoint:
// `litestream restore … && litestream replicate -exec …`), side by side in one run:
// same binary, same replica, same yml, alternating order, warm-ups, medians and ratios.
// Prints a markdown table and writes bench/results.json.
import { type ChildProcess, execFileSync, fork, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { LitestreamBinary, LitestreamFamily } from '../src/engine/binary.js';
import { defineConfig, type LitestreamOptions, startReplication as replicate } from '../src/index.js';
import { s3ReplicaOptions } from '../test/support/s3-client.js';
import { S3Server } from '../test/support/s3-server.js';
import { ensureTool } from '../test/tools/install.mjs';
import type { DurableFigures, Job } from './child.js';
import {
  childrenOf,
  killBenchProcesses,
  MiB,
  makeDatabase,
  median,
  openDatabase,
  removeDatabase,
  rssOf,
  useLitestream as useLitestreamIn,
} from './common.js';
import { rawRestore, rawWarmRestore, startRaw, writeYaml } from './raw.js';

const here = path.dirname(fileURLToPath(import.meta.url));
// bench/.build/bench → the repository.
const root = path.resolve(here, '../../..');

const SECTIONS = [
  'import',
  'cold',
  'warm',
  'pair',
  'many',
  'throughput',
  'lag',
  'durable',
  'shutdown',
  'memory',
] as const;
type Section = (typeof SECTIONS)[number];

const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    'update-docs': { type: 'boolean', default: false },
    // Cold-start sizes in MiB, e.g. `--sizes 100` (to look at one figure).
    sizes: { type: 'string' },
    // The Litestream release lines to measure, e.g. `--litestream 0.5`: the bundled v0.3.13,
    // and the test suite's v0.5.18 (installed by test/tools/install.mjs).
    litestream: { type: 'string', default: '0.3,0.5' },
  },
});
const quick = flags.quick === true;
const only = new Set((flags.only ?? SECTIONS.join(',')).split(',').map((s) => s.trim()) as Section[]);
const lines = (flags.litestream ?? '0.3,0.5').split(',').map((s) => s.trim()) as LitestreamFamily[];
for (const line of lines)
  if (line !== '0.3' && line !== '0.5') throw new Error(`--litestream: unknown release line ${line}`);

const plan = quick
  ? {
      // Under two minutes for both versions: a smoke run of every row but memory (info only).
      importReps: 8,
      cold: [{ mib: 10, reps: 2 }],
      pair: { larger: 10, smaller: 2, reps: 2 },
      many: { databases: 20, reps: 1 },
      warmCalls: 200,
      warmRawReps: 10,
      throughput: { reps: 1, durationMs: 500, rowsPerTransaction: [1] },
      lagSamples: 4,
      durable: { levels: [1, 10, 100], ops: 200 },
      shutdown: { reps: 1, loadMs: 500 },
      memoryLoadMs: 0,
    }
  : {
      importReps: 30,
      cold: [
        { mib: 10, reps: 7 },
        { mib: 100, reps: 5 },
        { mib: 1024, reps: 5 },
      ],
      pair: { larger: 100, smaller: 10, reps: 5 },
      many: { databases: 200, reps: 3 },
      warmCalls: 1_000,
      warmRawReps: 30,
      throughput: { reps: 4, durationMs: 3_000, rowsPerTransaction: [1, 100] },
      lagSamples: 60,
      durable: { levels: [1, 10, 100], ops: 2_000 },
      shutdown: { reps: 4, loadMs: 3_000 },
      memoryLoadMs: 8_000,
    };

if (flags.sizes) {
  const reps = new Map(plan.cold.map((c) => [c.mib, c.reps]));
  plan.cold = flags.sizes.split(',').map((mib) => ({ mib: Number(mib), reps: reps.get(Number(mib)) ?? 3 }));
}

/** One line of the results. */
interface Figure {
  /** What was measured. */
  name: string;
  /** The litestream version both arms ran (`—` for what does not run litestream). */
  litestream: string;
  /** Which replica it used: `s3` (versitygw on 127.0.0.1), `file` (local directory), or `none`. */
  replica: 's3' | 'file' | 'none';
  unit: string;
  /** The library's median (or the percentile in the name). */
  value: number;
  /** The raw-litestream (or no-replication) median it is compared with. */
  baseline: number | null;
  baselineName: string | null;
  /** value / baseline. */
  ratio: number | null;
  /** The issue's target, in words; null when the issue sets none. */
  target: string | null;
  pass: boolean | null;
  samples: number;
  note?: string;
}

const figures: Figure[] = [];
const work = mkdtempSync(path.join(os.tmpdir(), 'lsnode-bench-'));
const tmp = path.join(work, 'tmp');
mkdirSync(tmp);
// Children (and the litestream they start) keep their temp files, hence their command
// lines, inside `work`: cleanup finds any leftover by that marker.
const childEnv: NodeJS.ProcessEnv = { ...process.env, TMPDIR: tmp };
process.env.TMPDIR = tmp;

let cleanedUp = false;
function cleanup(): void {
  if (cleanedUp) return;
  cleanedUp = true;
  const killed = killBenchProcesses(process.pid, work);
  if (killed > 0) console.error(`bench: killed ${killed} leftover process(es)`);
  rmSync(work, { recursive: true, force: true });
}
process.on('exit', cleanup);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    console.error(`bench: ${signal}, cleaning up`);
    cleanup();
    process.exit(130);
  });
}

const log = (text: string) => console.error(`[${new Date().toISOString().slice(11, 19)}] ${text}`);

/** Forks `script` (child.js or app.js), sends it one job, and resolves to its result. */
function inChild<T>(script: 'child' | 'app' | 'boot', job: unknown): Promise<T> {
  const child: ChildProcess = fork(path.join(here, `${script}.js`), [work], {
    env: childEnv,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    child.once('message', (message: { result?: T; error?: string }) => {
      settled = true;
      if (message.error !== undefined) reject(new Error(`${script} ${describeJob(job)}: ${message.error}`));
      else resolve(message.result as T);
    });
    child.once('exit', (code, signal) => {
      if (!settled) reject(new Error(`${script} exited (${code ?? signal}) without a result`));
    });
    child.send(job as object);
  }).finally(
    () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) resolve();
        else child.once('exit', () => resolve());
      }),
  );
}

// The suite's primary S3 server (versitygw, a process of its own), installed by the same
// pinned installer the tests use.
let s3Server: S3Server | undefined;
async function startS3(): Promise<S3Server> {
  const versitygw = await ensureTool('versitygw');
  s3Server = await S3Server.start('versitygw', versitygw, path.join(work, 's3'));
  return s3Server;
}

async function stopS3(): Promise<void> {
  await s3Server?.stop();
}

/**
 * Writes dirty pages out (sync(1)) so every timed restore starts with the disk idle, not
 * flushing what the arm before it wrote.
 */
async function settleDisk(): Promise<void> {
  await new Promise((resolve) => spawn('sync', { stdio: 'ignore' }).on('exit', resolve));
}

/** Rotates the arms each round so no arm always runs first (or right after the same one). */
function rotated<T>(arms: readonly T[], round: number): T[] {
  const shift = round % arms.length;
  const order = [...arms.slice(shift), ...arms.slice(0, shift)];
  return Math.floor(round / arms.length) % 2 === 1 ? order.reverse() : order;
}

const ratio = (value: number, baseline: number) => value / baseline;

/** The version of the suite running now, stamped on every figure it adds. */
let litestreamVersion = '';

function add(figure: Omit<Figure, 'ratio' | 'litestream'> & { ratio?: number | null; litestream?: string }): void {
  const full: Figure = {
    litestream: figure.replica === 'none' && figure.litestream === undefined ? '—' : litestreamVersion,
    ...figure,
    ratio: figure.ratio !== undefined ? figure.ratio : figure.baseline ? ratio(figure.value, figure.baseline) : null,
  };
  figures.push(full);
  log(
    `${full.name} [${full.replica}, ${full.litestream}]: ${fmt(full.value)} ${full.unit}` +
      (full.baseline !== null ? ` vs ${fmt(full.baseline)}` : '') +
      (full.ratio !== null ? ` → ×${fmt(full.ratio, 3)}` : '') +
      (full.pass === null ? '' : full.pass ? ' PASS' : ' MISS'),
  );
}

function fmt(value: number, digits?: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (digits !== undefined) return value.toFixed(digits);
  const abs = Math.abs(value);
  if (abs >= 1000) return Math.round(value).toLocaleString('en-US');
  if (abs >= 100) return value.toFixed(0);
  if (abs >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

type Replicas = { s3: LitestreamOptions['replica']; file: LitestreamOptions['replica'] };

interface Fixture {
  mib: number;
  name: string;
}

/** Points the library, the raw baselines and every child at the release line's executable. */
async function useLitestream(line: LitestreamFamily): Promise<LitestreamBinary> {
  const binary = await useLitestreamIn(line, childEnv);
  litestreamVersion = binary.version;
  return binary;
}

async function main(): Promise<void> {
  const startedAt = Date.now();
  log(`work dir ${work}; litestream ${lines.join(' and ')}; ${quick ? 'quick' : 'full'} run`);
  const s3 = await startS3();
  const versions: string[] = [];
  for (const [index, line] of lines.entries()) {
    const binary = await useLitestream(line);
    versions.push(binary.version);
    log(`litestream ${binary.version} (${binary.source})`);
    // What does not depend on the litestream version is measured once.
    await suite(s3, line, index === 0);
  }
  await stopS3();
  report(startedAt, versions);
}

/** Every section, for the release line in use; `first` adds the version-independent ones. */
async function suite(s3: S3Server, line: LitestreamFamily, first: boolean): Promise<void> {
  // Each version has its own directories and replica paths: a replica path one version
  // wrote is not the other's to write (the library refuses that, rightly).
  const area = path.join(work, `v${line}`);
  mkdirSync(area);
  const at = (name: string) => `v${line}/${name}`;
  const replicas: Replicas = {
    s3: s3ReplicaOptions(s3, at('bench')),
    file: { type: 'file', path: path.join(area, 'file-replica') },
  };
  const base = { syncInterval: '1s', shutdownTimeoutMs: 30_000 } as const;

  // Fixtures: one database per size, replicated once to both replicas.
  const sizes = new Set<number>();
  if (only.has('cold')) for (const c of plan.cold) sizes.add(c.mib);
  if (only.has('pair')) {
    sizes.add(plan.pair.larger);
    sizes.add(plan.pair.smaller);
  }
  const fixtures: Fixture[] = [...sizes].sort((a, b) => b - a).map((mib) => ({ mib, name: `db-${mib}MiB.sqlite3` }));
  if (fixtures.length > 0) {
    const dir = path.join(area, 'fixtures');
    mkdirSync(dir);
    for (const fixture of fixtures) {
      const t = Date.now();
      makeDatabase(path.join(dir, fixture.name), fixture.mib * MiB);
      log(
        `fixture ${fixture.name}: ${(statSync(path.join(dir, fixture.name)).size / MiB).toFixed(0)} MiB in ${Date.now() - t} ms`,
      );
    }
    for (const kind of ['s3', 'file'] as const) {
      const t = Date.now();
      const config = defineConfig({
        ...base,
        logger: false,
        replica: replicas[kind],
        databases: fixtures.map((f) => ({ path: path.join(dir, f.name), replicaPath: f.name })),
      });
      const replication = replicate(config);
      await replication.ready;
      const stopped = await replication.stop();
      if (!stopped.clean) throw new Error(`seeding the ${kind} replica did not stop cleanly`);
      log(`seeded the ${kind} replica in ${Date.now() - t} ms`);
    }
    for (const fixture of fixtures) removeDatabase(path.join(dir, fixture.name));
  }

  /** Options restoring `names` into a fresh directory from `kind`. */
  const restoreOptions = (kind: 's3' | 'file', names: string[], extra: Partial<LitestreamOptions> = {}) => {
    const dir = path.join(area, 'restore', kind);
    mkdirSync(dir, { recursive: true });
    return {
      ...base,
      replica: replicas[kind],
      databases: names.map((name) => ({ path: path.join(dir, name), replicaPath: name })),
      ...extra,
    } satisfies LitestreamOptions;
  };
  const clearRestored = (options: LitestreamOptions) => {
    for (const db of options.databases ?? []) removeDatabase(typeof db === 'string' ? db : db.path);
  };

  if (first && only.has('import')) {
    // The package as an app imports it (its built entry, by its own name), in a fresh
    // process each time, against a process that imports nothing; alternated.
    const times: Record<'library' | 'bare', number[]> = { library: [], bare: [] };
    const run = (code: string) =>
      new Promise<number>((resolve, reject) => {
        const startedAt = performance.now();
        spawn(process.execPath, ['--input-type=module', '-e', code], { cwd: here, stdio: 'ignore' }).on(
          'exit',
          (exitCode) =>
            exitCode === 0 ? resolve(performance.now() - startedAt) : reject(new Error(`import: exit ${exitCode}`)),
        );
      });
    for (let round = 0; round <= plan.importReps; round++) {
      for (const arm of rotated(['library', 'bare'] as const, round)) {
        const ms = await run(arm === 'library' ? "await import('litestream-node')" : '');
        if (round > 0) times[arm].push(ms);
      }
    }
    // The cost as a share of a bare node start, both measured in this run: absolute
    // milliseconds vary by host and by what else the machine runs, the ratio much less.
    const cost = median(times.library) - median(times.bare);
    add({
      name: "import cost: import('litestream-node') in a fresh process, minus a bare node",
      replica: 'none',
      unit: 'ms',
      value: cost,
      baseline: median(times.bare),
      baselineName: "node -e ''",
      ratio: ratio(cost, median(times.bare)),
      target: '≤ ×0.3 of a bare node start',
      pass: ratio(cost, median(times.bare)) <= 0.3,
      samples: times.library.length,
      note: `median with the import ${fmt(median(times.library))} ms`,
    });
  }

  const bootFigures: Parameters<typeof add>[0][] = [];
  // The longest event-loop stall of every timed cold start, both arms, every size.
  const stalls: number[] = [];
  if (only.has('cold')) {
    for (const { mib, reps } of plan.cold) {
      const name = `db-${mib}MiB.sqlite3`;
      for (const kind of ['s3', 'file'] as const) {
        const options = restoreOptions(kind, [name]);
        const config = defineConfig({ ...options, logger: false });
        const yml = await writeYaml(config);
        const target = config.databases[0]?.path as string;
        const times: Record<'raw' | 'full' | 'off', number[]> = { raw: [], full: [], off: [] };
        const blocked: Record<'full' | 'off', number[]> = { full: [], off: [] };
        const own: Record<'full' | 'off', number[]> = { full: [], off: [] };
        for (let round = 0; round <= reps; round++) {
          for (const arm of rotated(['raw', 'full', 'off'] as const, round)) {
            clearRestored(options);
            await settleDisk();
            let ms: number;
            if (arm === 'raw') ms = await rawRestore(config, yml, target, target);
            else {
              const result = await inChild<{
                ms: number;
                ownMs: number;
                outcomes: string[];
                eventLoopBlockedMs: number;
              }>('child', {
                mode: 'restore',
                options: { ...options, restore: { integrityCheck: arm } },
              } satisfies Job);
              if (result.outcomes[0] !== 'restored') throw new Error(`cold start: ${result.outcomes}`);
              ms = result.ms;
              if (round > 0) {
                blocked[arm].push(result.eventLoopBlockedMs);
                own[arm].push(result.ownMs);
              }
            }
            if (!existsSync(target)) throw new Error(`cold start ${arm}: nothing restored`);
            // Round 0 warms the page cache and the binary; it is not counted.
            if (round > 0) times[arm].push(ms);
          }
        }
        clearRestored(options);
        if (kind === 's3') {
          // End to end: fork → first query, with the library vs `litestream restore && node app`.
          const boot: Record<'library' | 'shell', number[]> = { library: [], shell: [] };
          for (let round = 0; round <= Math.min(reps, 5); round++) {
            for (const arm of rotated(['library', 'shell'] as const, round)) {
              clearRestored(options);
              await settleDisk();
              const startedAt = performance.now();
              if (arm === 'shell') await rawRestore(config, yml, target, target);
              const answer = await inChild<{ rows: number }>('boot', {
                arm: arm === 'shell' ? 'bare' : 'library',
                options,
                database: target,
              });
              if (!(answer.rows > 0)) throw new Error('boot: empty database');
              if (round > 0) boot[arm].push(performance.now() - startedAt);
            }
          }
          clearRestored(options);
          const bootTarget = mib === 10 ? 1.2 : undefined;
          bootFigures.push({
            name: `boot to first query, ${mib >= 1024 ? `${mib / 1024} GiB` : `${mib} MiB`} missing (import + ensureRestored)`,
            replica: kind,
            unit: 'ms',
            value: median(boot.library),
            baseline: median(boot.shell),
            baselineName: 'litestream restore, then node app',
            target: bootTarget === undefined ? null : `ratio ≤ ${bootTarget}`,
            pass: bootTarget === undefined ? null : median(boot.library) / median(boot.shell) <= bootTarget,
            samples: boot.library.length,
          });
        }
        const raw = median(times.raw);
        const size = mib >= 1024 ? `${mib / 1024} GiB` : `${mib} MiB`;
        for (const arm of ['full', 'off'] as const) {
          const value = median(times[arm]);
          // The targets: within a quarter of litestream's own restore with the default check,
          // within 5 % without; small databases are all fixed costs, reported for information.
          const limit = mib < 100 ? undefined : arm === 'full' ? 1.25 : 1.05;
          for (const ms of blocked[arm]) stalls.push(ms);
          add({
            name: `cold start ${size}, ${arm === 'full' ? 'default (integrity_check)' : 'integrityCheck off'}`,
            replica: kind,
            unit: 'ms',
            value,
            baseline: raw,
            baselineName: 'litestream restore',
            target: limit === undefined ? null : `ratio ≤ ${limit}`,
            pass: limit === undefined ? null : value / raw <= limit,
            samples: times[arm].length,
            note: `library's own time ${fmt(median(own[arm]))} ms, event loop blocked up to ${fmt(median(blocked[arm]))} ms`,
          });
        }
      }
    }
  }

  if (stalls.length > 0) {
    add({
      name: 'longest event-loop stall during ensureRestored (every cold start above)',
      replica: 'none',
      unit: 'ms',
      value: Math.max(...stalls),
      baseline: null,
      baselineName: null,
      target: '≤ 50 ms',
      pass: Math.max(...stalls) <= 50,
      samples: stalls.length,
      note: `median ${fmt(median(stalls))} ms`,
    });
  }
  for (const figure of bootFigures) add(figure);

  if (first && only.has('warm')) {
    const dir = path.join(area, 'warm');
    mkdirSync(dir);
    const names = ['production.sqlite3', 'production_queue.sqlite3'];
    for (const name of names) openDatabase(path.join(dir, name)).close();
    const options = { ...base, replica: replicas.s3, databases: names.map((name) => path.join(dir, name)) };
    const result = await inChild<{
      first: number;
      median: number;
      p99: number;
      spawned: number;
      childProcesses: number;
    }>('child', { mode: 'warm', options, calls: plan.warmCalls } satisfies Job);
    const config = defineConfig({ ...options, logger: false });
    const yml = await writeYaml(config);
    const raw: number[] = [];
    await rawWarmRestore(config, yml);
    for (let i = 0; i < plan.warmRawReps; i++) raw.push(await rawWarmRestore(config, yml));
    add({
      name: 'warm start, 2 databases present',
      replica: 's3',
      unit: 'ms',
      value: result.median,
      baseline: median(raw),
      baselineName: 'litestream restore -if-db-not-exists, per database',
      target: 'median ≤ 2 ms',
      pass: result.median <= 2,
      samples: plan.warmCalls,
      note: `first call in a fresh process ${fmt(result.first)} ms, p99 ${fmt(result.p99)} ms`,
    });
    add({
      name: 'warm start, child processes spawned',
      replica: 's3',
      unit: 'processes',
      value: result.spawned + result.childProcesses,
      baseline: names.length,
      baselineName: 'litestream restore -if-db-not-exists, per database',
      ratio: null,
      target: '0',
      pass: result.spawned === 0 && result.childProcesses === 0,
      samples: plan.warmCalls + 21,
    });
  }

  if (only.has('pair')) {
    const larger = `db-${plan.pair.larger}MiB.sqlite3`;
    const smaller = `db-${plan.pair.smaller}MiB.sqlite3`;
    const both = restoreOptions('s3', [larger, smaller]);
    const alone = restoreOptions('s3', [larger]);
    const times: Record<'both' | 'alone' | 'rawBoth' | 'rawAlone', number[]> = {
      both: [],
      alone: [],
      rawBoth: [],
      rawAlone: [],
    };
    const bothConfig = defineConfig({ ...both, logger: false });
    const bothYml = await writeYaml(bothConfig);
    for (let round = 0; round <= plan.pair.reps; round++) {
      for (const arm of rotated(['both', 'alone', 'rawBoth', 'rawAlone'] as const, round)) {
        clearRestored(both);
        await settleDisk();
        let ms: number;
        if (arm === 'both' || arm === 'alone') {
          const options = arm === 'both' ? both : alone;
          const result = await inChild<{ ms: number; outcomes: string[] }>('child', { mode: 'restore', options });
          if (result.outcomes.some((o) => o !== 'restored')) throw new Error(`pair: ${result.outcomes}`);
          ms = result.ms;
        } else {
          const dbs = arm === 'rawBoth' ? bothConfig.databases : bothConfig.databases.slice(0, 1);
          const startedAt = performance.now();
          await Promise.all(dbs.map((db) => rawRestore(bothConfig, bothYml, db.path, db.path)));
          ms = performance.now() - startedAt;
        }
        if (round > 0) times[arm].push(ms);
      }
    }
    clearRestored(both);
    const value = median(times.both);
    const baseline = median(times.alone);
    add({
      name: `two databases (${plan.pair.larger} + ${plan.pair.smaller} MiB) concurrently`,
      replica: 's3',
      unit: 'ms',
      value,
      baseline,
      baselineName: `ensureRestored of the ${plan.pair.larger} MiB one alone`,
      target: 'ratio ≤ 1.2',
      pass: value / baseline <= 1.2,
      samples: times.both.length,
    });
    add({
      name: `two databases (${plan.pair.larger} + ${plan.pair.smaller} MiB) concurrently, raw litestream for reference`,
      replica: 's3',
      unit: 'ms',
      value: median(times.rawBoth),
      baseline: median(times.rawAlone),
      baselineName: `litestream restore of the ${plan.pair.larger} MiB one alone`,
      target: null,
      pass: null,
      samples: times.rawBoth.length,
    });
  }

  if (only.has('many')) {
    // A database per tenant: every one missing at boot. The library restores them all in
    // one ensureRestored (bounded concurrency); the baseline is a shell entrypoint's loop of
    // `litestream restore`, one after the other, with the same yml.
    const count = plan.many.databases;
    const dir = path.join(area, 'many');
    mkdirSync(dir);
    const names = Array.from({ length: count }, (_, i) => `tenant-${String(i).padStart(3, '0')}.sqlite3`);
    for (const name of names) makeDatabase(path.join(dir, name), MiB);
    const seedStartedAt = Date.now();
    const seeding = replicate(
      defineConfig({
        ...base,
        logger: false,
        replica: { ...(replicas.s3 as object), path: at('many') } as LitestreamOptions['replica'],
        databases: names.map((name) => ({ path: path.join(dir, name), replicaPath: name })),
      }),
    );
    await seeding.ready;
    if (!(await seeding.stop()).clean) throw new Error('seeding the many-databases replica did not stop cleanly');
    log(`seeded ${count} databases of 1 MiB in ${Date.now() - seedStartedAt} ms`);
    for (const name of names) removeDatabase(path.join(dir, name));
    const options = {
      ...restoreOptions('s3', names),
      replica: { ...(replicas.s3 as object), path: at('many') } as LitestreamOptions['replica'],
    };
    const config = defineConfig({ ...options, logger: false });
    const yml = await writeYaml(config);
    const times: Record<'library' | 'raw', number[]> = { library: [], raw: [] };
    for (let round = 0; round <= plan.many.reps; round++) {
      for (const arm of rotated(['library', 'raw'] as const, round)) {
        clearRestored(options);
        await settleDisk();
        let ms: number;
        if (arm === 'library') {
          const result = await inChild<{ ms: number; outcomes: string[] }>('child', { mode: 'restore', options });
          if (result.outcomes.some((o) => o !== 'restored')) throw new Error('many: not every database was restored');
          ms = result.ms;
        } else {
          const startedAt = performance.now();
          for (const db of config.databases) await rawRestore(config, yml, db.path, db.path);
          ms = performance.now() - startedAt;
        }
        if (round > 0) times[arm].push(ms);
      }
    }
    clearRestored(options);
    const value = median(times.library);
    add({
      name: `${count} databases of 1 MiB, all missing, one ensureRestored`,
      replica: 's3',
      unit: 'ms',
      value,
      baseline: median(times.raw),
      baselineName: 'litestream restore of each, one after the other',
      target: 'ratio ≤ 1.0',
      pass: value / median(times.raw) <= 1,
      samples: times.library.length,
    });
  }

  if (only.has('throughput')) {
    const dir = path.join(area, 'throughput');
    mkdirSync(dir);
    let trial = 0;
    for (const rowsPerTransaction of plan.throughput.rowsPerTransaction) {
      const rates: Record<'none' | 'library' | 'raw' | 'raw-info', number[]> = {
        none: [],
        library: [],
        raw: [],
        'raw-info': [],
      };
      for (let round = 0; round < plan.throughput.reps; round++) {
        for (const arm of rotated(['none', 'library', 'raw', 'raw-info'] as const, round)) {
          trial++;
          const options = {
            ...base,
            replica: { ...(replicas.s3 as object), path: at(`throughput-${trial}`) } as LitestreamOptions['replica'],
            databases: [path.join(dir, `tp-${trial}.sqlite3`)],
          };
          const result = await inChild<{ rowsPerSecond: number }>('child', {
            mode: 'throughput',
            arm,
            options,
            rowsPerTransaction,
            durationMs: plan.throughput.durationMs,
          } satisfies Job);
          removeDatabase(options.databases[0] as string);
          rates[arm].push(result.rowsPerSecond);
        }
      }
      const kind = rowsPerTransaction === 1 ? 'single-row transactions' : `${rowsPerTransaction}-row transactions`;
      const library = median(rates.library);
      add({
        name: `write throughput, ${kind}, replicating vs not`,
        replica: 's3',
        unit: 'rows/s',
        value: library,
        baseline: median(rates.none),
        baselineName: 'same loop, no replication',
        target: 'ratio ≥ 0.95',
        pass: library / median(rates.none) >= 0.95,
        samples: rates.library.length,
      });
      add({
        name: `write throughput, ${kind}, library vs raw litestream (same yml, debug log)`,
        replica: 's3',
        unit: 'rows/s',
        value: library,
        baseline: median(rates.raw),
        baselineName: 'same loop, raw litestream replicate beside it',
        target: null,
        pass: null,
        samples: rates.library.length,
      });
      add({
        name: `write throughput, ${kind}, library vs raw litestream (info log, as a hand-written yml)`,
        replica: 's3',
        unit: 'rows/s',
        value: library,
        baseline: median(rates['raw-info']),
        baselineName: 'same loop, raw litestream replicate with level: info',
        target: 'ratio ≥ 0.95',
        pass: library / median(rates['raw-info']) >= 0.95,
        samples: rates.library.length,
      });
    }
  }

  if (only.has('lag')) {
    const dir = path.join(area, 'lag');
    mkdirSync(dir);
    const options = {
      ...base,
      replica: { ...(replicas.s3 as object), path: at('lag') } as LitestreamOptions['replica'],
      databases: [path.join(dir, 'lag.sqlite3')],
    };
    const result = await inChild<{ p50: number; p99: number; max: number; samples: number }>('child', {
      mode: 'lag',
      options,
      samples: plan.lagSamples,
    } satisfies Job);
    for (const [p, value] of [
      ['p50', result.p50],
      ['p99', result.p99],
    ] as const) {
      add({
        name: `replication lag ${p}, commit → restorable`,
        replica: 's3',
        unit: 'ms',
        value,
        baseline: 1000,
        baselineName: 'sync interval',
        target: p === 'p99' ? '≤ sync interval + 250 ms' : null,
        pass: p === 'p99' ? value <= 1250 : null,
        samples: result.samples,
        note: p === 'p99' ? `max ${fmt(result.max)} ms` : undefined,
      });
    }
  }

  if (only.has('durable')) {
    // 0.5 syncs on request: its regular sync stays at the default 10 s, so what a durable write
    // waits for is the socket's sync alone. 0.3 waits for its regular sync: 1 s, named.
    const syncInterval = line === '0.5' ? '10s' : '1s';
    const syncIntervalMs = line === '0.5' ? 10_000 : 1_000;
    const dir = path.join(area, 'durable');
    mkdirSync(dir);
    const options = {
      ...base,
      syncInterval,
      replica: { ...(replicas.s3 as object), path: at('durable') } as LitestreamOptions['replica'],
      databases: [path.join(dir, 'durable.sqlite3')],
    };
    // 0.3 waits a sync interval per round: fewer of them.
    const ops = line === '0.5' ? plan.durable.ops : Math.min(plan.durable.ops, 100);
    const result = await inChild<DurableFigures>('child', {
      mode: 'durable',
      options,
      levels: plan.durable.levels,
      ops,
    } satisfies Job);
    removeDatabase(options.databases[0] as string);
    for (const level of result.levels) {
      const atOne = level.concurrency === 1;
      add({
        name: `durable write (insert + sync()) p50, concurrency ${level.concurrency}, sync interval ${syncInterval}`,
        replica: 's3',
        unit: 'ms',
        value: level.p50,
        baseline: result.roundTripMs,
        baselineName: 'one S3 round trip from Node',
        // On 0.5: far below the sync interval (a tenth of it), where it is one socket sync.
        target: line === '0.5' && atOne ? `≤ ${syncIntervalMs / 10} ms (a tenth of the sync interval)` : null,
        pass: line === '0.5' && atOne ? level.p50 <= syncIntervalMs / 10 : null,
        samples: ops,
        note: `p99 ${fmt(level.p99)} ms; plain insert p50 ${fmt(result.plain.p50)} ms, p99 ${fmt(result.plain.p99)} ms`,
      });
      add({
        name: `durable writes per second, concurrency ${level.concurrency}, sync interval ${syncInterval}`,
        replica: 's3',
        unit: 'writes/s',
        value: level.perSecond,
        baseline: result.plain.perSecond,
        baselineName: 'plain inserts per second',
        target: null,
        pass: null,
        samples: ops,
        note:
          line === '0.5'
            ? `${level.socketRequests} requests on the control socket for ${ops} syncs (group commit)`
            : 'no control socket: each call waits for the regular sync',
      });
    }
  }

  if (only.has('shutdown')) {
    const dir = path.join(area, 'shutdown');
    mkdirSync(dir);
    type Stopped = { ms: number; lost: number; clean: boolean; killed: boolean };
    const results: Record<'library' | 'raw', Stopped[]> = { library: [], raw: [] };
    let trial = 0;
    for (let round = 0; round < plan.shutdown.reps; round++) {
      for (const arm of rotated(['library', 'raw'] as const, round)) {
        trial++;
        const options = {
          ...base,
          replica: { ...(replicas.s3 as object), path: at(`shutdown-${trial}`) } as LitestreamOptions['replica'],
          databases: [path.join(dir, `sd-${trial}.sqlite3`)],
        };
        const result = await inChild<Stopped>('child', {
          mode: 'shutdown',
          arm,
          options,
          loadMs: plan.shutdown.loadMs,
        } satisfies Job);
        removeDatabase(options.databases[0] as string);
        results[arm].push(result);
      }
    }
    const stopMs = median(results.library.map((r) => r.ms));
    add({
      name: 'shutdown: stop() under load',
      replica: 's3',
      unit: 'ms',
      value: stopMs,
      baseline: median(results.raw.map((r) => r.ms)),
      baselineName: 'SIGTERM to raw litestream until exit',
      target: null,
      pass: null,
      samples: results.library.length,
      note:
        `library clean ${results.library.filter((r) => r.clean).length}/${results.library.length}; ` +
        `raw hung until SIGKILL (10 s) ${results.raw.filter((r) => r.killed).length}/${results.raw.length}`,
    });
    const lost = results.library.reduce((sum, r) => sum + r.lost, 0);
    add({
      name: 'shutdown: writes lost (all runs)',
      replica: 's3',
      unit: 'rows',
      value: lost,
      baseline: results.raw.reduce((sum, r) => sum + r.lost, 0),
      baselineName: 'raw litestream',
      ratio: null,
      target: '0',
      pass: lost === 0,
      samples: results.library.length,
    });
  }

  if (!quick && only.has('memory')) {
    const dir = path.join(area, 'memory');
    mkdirSync(dir);
    const rss: Record<'bare' | 'library', number[]> = { bare: [], library: [] };
    const litestreamRss: Record<'bare' | 'library', number[]> = { bare: [], library: [] };
    let trial = 0;
    const reps = 3;
    for (let round = 0; round < reps; round++) {
      for (const arm of rotated(['bare', 'library'] as const, round)) {
        trial++;
        const file = path.join(dir, `mem-${trial}.sqlite3`);
        openDatabase(file).close();
        const options = {
          ...base,
          replica: { ...(replicas.s3 as object), path: at(`memory-${trial}`) } as LitestreamOptions['replica'],
          databases: [file],
        };
        if (arm === 'bare') {
          // The shell-entrypoint setup: litestream replicates beside an app that knows nothing of it.
          const raw = await startRaw(defineConfig({ ...options, logger: false }));
          while (!(await raw.synced())) await new Promise((resolve) => setTimeout(resolve, 20));
          const samples: number[] = [];
          const sampler = setInterval(() => samples.push(rssOf(raw.pid as number)), 100);
          try {
            const result = await inChild<{ rss: number }>('app', { arm, options, loadMs: plan.memoryLoadMs });
            rss.bare.push(result.rss);
            litestreamRss.bare.push(median(samples.slice(Math.floor(samples.length / 2))));
          } finally {
            clearInterval(sampler);
            await raw.stop();
          }
        } else {
          const result = await inChild<{ rss: number; litestreamRss: number }>('app', {
            arm,
            options,
            loadMs: plan.memoryLoadMs,
          });
          rss.library.push(result.rss);
          litestreamRss.library.push(result.litestreamRss);
        }
        removeDatabase(file);
      }
    }
    add({
      name: 'memory: Node process RSS, library replicating vs bare app',
      replica: 's3',
      unit: 'MiB',
      value: median(rss.library) / MiB,
      baseline: median(rss.bare) / MiB,
      baselineName: 'the same app without the library',
      target: null,
      pass: null,
      samples: rss.library.length,
      note: `+${fmt((median(rss.library) - median(rss.bare)) / MiB)} MiB`,
    });
    add({
      name: 'memory: litestream child RSS',
      replica: 's3',
      unit: 'MiB',
      value: median(litestreamRss.library) / MiB,
      baseline: median(litestreamRss.bare) / MiB,
      baselineName: 'raw litestream replicate, same yml and load',
      target: null,
      pass: null,
      samples: litestreamRss.library.length,
    });
  }
}

/** Prints the table, writes bench/results.json, and (with --update-docs) the performance page. */
function report(startedAt: number, versions: readonly string[]): void {
  const seconds = Math.round((Date.now() - startedAt) / 1000);
  const machine = describeMachine();
  const extra = [
    quick ? '--quick' : '',
    flags.only ? `--only ${flags.only}` : '',
    flags.sizes ? `--sizes ${flags.sizes}` : '',
    flags.litestream !== '0.3,0.5' ? `--litestream ${flags.litestream}` : '',
  ]
    .filter(Boolean)
    .join(' ');
  const command = `npm run bench${extra ? ` -- ${extra}` : ''}`;
  const table = renderTable(figures);
  const results = {
    date: new Date().toISOString(),
    command,
    quick,
    wallSeconds: seconds,
    machine,
    litestream: versions,
    figures,
  };
  // Only a full run replaces the recorded results; a partial one is kept beside the build.
  const file = path.join(root, 'bench', extra ? '.build/results-partial.json' : 'results.json');
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  // As the repo's formatter lays it out, so a full run leaves the lint green.
  if (!extra)
    execFileSync(path.join(root, 'node_modules', '.bin', 'biome'), ['format', '--write', file], { stdio: 'ignore' });
  log(`results written to ${path.relative(root, file)}`);
  const summary = `${table}\n\n${machineLine(machine)} \`${command}\`, ${seconds} s wall time, ${results.date.slice(0, 16)}Z.`;
  console.log(summary);
  if (flags['update-docs']) updatePerformancePage(summary);
  if (childrenOf(process.pid).length > 0) log('warning: child processes still running at the end');
}

interface Machine {
  cpus: number;
  model: string;
  memoryGiB: number;
  node: string;
  os: string;
}

function describeMachine(): Machine {
  let model = os.cpus()[0]?.model ?? 'unknown';
  try {
    // Run once, after every server is closed: nothing can block on it.
    const lscpu = execFileSync('lscpu', { encoding: 'utf8' });
    model = /^Model name:\s+(.+)$/m.exec(lscpu)?.[1]?.trim() ?? model;
  } catch {}
  return {
    cpus: os.availableParallelism(),
    model,
    memoryGiB: Math.round(os.totalmem() / 1024 ** 3),
    node: process.version,
    os: `${os.type()} ${os.release()}`,
  };
}

function machineLine(machine: Machine): string {
  return `Machine: ${machine.cpus} cores (nproc), ${machine.model}, ${machine.memoryGiB} GiB RAM, Node ${machine.node}, ${machine.os}. Command:`;
}

function renderTable(rows: readonly Figure[]): string {
  const table = [
    '| figure | litestream | replica | library | baseline | ratio | target | result |',
    '| --- | --- | --- | --: | --: | --: | --- | --- |',
  ];
  for (const f of rows) {
    const value = `${fmt(f.value)} ${f.unit}`;
    const baseline = f.baseline === null ? '—' : `${fmt(f.baseline)} ${f.unit} (${f.baselineName})`;
    const r = f.ratio === null ? '—' : `×${f.ratio.toFixed(3)}`;
    const result = f.pass === null ? 'info' : f.pass ? 'pass' : '**miss**';
    const name = f.note ? `${f.name} (${f.note})` : f.name;
    table.push(
      `| ${name} | ${f.litestream} | ${f.replica} | ${value} | ${baseline} | ${r} | ${f.target ?? '—'} | ${result} |`,
    );
  }
  return table.join('\n');
}

/** Rewrites the table between the bench markers of docs/performance.md. */
function updatePerformancePage(summary: string): void {
  const file = path.join(root, 'docs', 'performance.md');
  const text = readFileSync(file, 'utf8');
  const start = '<!-- bench:start -->';
  const end = '<!-- bench:end -->';
  const from = text.indexOf(start);
  const to = text.indexOf(end);
  if (from === -1 || to === -1) {
    log('docs/performance.md has no bench markers; not updated');
    return;
  }
  writeFileSync(file, `${text.slice(0, from + start.length)}\n${summary}\n${text.slice(to)}`);
  log('docs/performance.md table updated');
}

try {
  await main();
} catch (error) {
  console.error(error);
  process.exitCode = 1;
} finally {
  await stopS3().catch(() => {});
  cleanup();
}

/** A job for an error message: its mode and databases, never the replica's credentials. */
function describeJob(job: unknown): string {
  const { mode, options } = job as { mode?: string; options?: { databases?: unknown } };
  return JSON.stringify({ mode, databases: options?.databases });
}
