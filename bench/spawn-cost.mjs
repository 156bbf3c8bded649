// `node bench/spawn-cost.mjs [N]` (N = 20 by default): what execa (the devDependency) would
// cost a cold boot if the library loaded it lazily at its first spawn, next to the
// node:child_process it uses today. Each figure is a median of N; the arms of each part
// alternate (the order reversed every other round, after one warm-up round that is dropped).
//
// 1. Import, each sample a fresh Node process: the wall time of the whole process and its CPU
//    time (user + system, read at exit), against a bare `node -e ''` (and the same in module
//    mode, which the import arms use); and the import itself, timed inside that process. execa
//    is imported from node_modules (the way dist/ loads every package today) and also bundled
//    into one file by esbuild (the best case, were it bundled into a lazy chunk).
// 2. A first spawn in a fresh process, as the boot's restore does it: from before the import
//    to the close of `litestream version`, timed inside that process.
// 3. Later spawns, all in this process: `litestream version` through execa and through
//    child_process.spawn, wall time per spawn and this process's CPU time per spawn.
//
// The executable is the bundled one (@flydotio/litestream's platform package), found the way
// src/engine/binary.ts finds it; LITESTREAM_BINARY_PATH overrides it.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const reps = Number(process.argv[2] ?? 20);
if (!Number.isInteger(reps) || reps < 1) {
  console.error('usage: node bench/spawn-cost.mjs [N]');
  process.exit(2);
}

const require = createRequire(import.meta.url);
const binary =
  process.env.LITESTREAM_BINARY_PATH ||
  path.join(
    path.dirname(
      createRequire(require.resolve('@flydotio/litestream/package.json')).resolve(
        `@flydotio/litestream-${process.platform}-${process.arch}/package.json`,
      ),
    ),
    'litestream',
  );
const execaUrl = import.meta.resolve('execa');
// execa's entry sits at its package's root; its exports hide package.json from require.
const execaVersion = JSON.parse(readFileSync(new URL('package.json', execaUrl), 'utf8')).version;

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};
const ms = (value) => `${value.toFixed(1)} ms`;
const signed = (value) => `${value >= 0 ? '+' : ''}${value.toFixed(1)} ms`;

/** Runs the arms `rounds` times, alternating their order; returns each arm's samples (warm-up dropped). */
async function alternate(arms, rounds) {
  const samples = arms.map(() => []);
  for (let round = 0; round <= rounds; round++) {
    const order = arms.map((_, i) => i);
    if (round % 2 === 1) order.reverse();
    for (const i of order) {
      const sample = await arms[i]();
      if (round > 0) samples[i].push(sample);
    }
  }
  return samples;
}

/** A fresh `node ARGS…`: its wall time, and what it printed on stdout as JSON. */
function node(args) {
  return new Promise((resolve, reject) => {
    const startedAt = performance.now();
    let out = '';
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    child.stdout.on('data', (chunk) => {
      out += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0
        ? resolve({ wall: performance.now() - startedAt, ...JSON.parse(out) })
        : reject(new Error(`node ${args.join(' ')} exited ${code}`)),
    );
  });
}

// Printed at exit: the process's CPU time, and what the code before it measured.
const report = (fields) =>
  `const u = process.cpuUsage(); process.stdout.write(JSON.stringify({ cpu: (u.user + u.system) / 1000, ${fields} }));`;
const module = (code) => ['--input-type=module', '-e', code];
const timed = (body) => `const t0 = performance.now(); ${body} const took = performance.now() - t0; ${report('took')}`;
const versionByChildProcess = `await new Promise((resolve, reject) => { const c = spawn(${JSON.stringify(binary)}, ['version'], { stdio: ['ignore', 'pipe', 'pipe'] }); let out = ''; c.stdout.on('data', (d) => { out += d; }); c.on('error', reject); c.on('close', (code) => (code === 0 && out ? resolve() : reject(new Error('exit ' + code)))); });`;
const versionByExeca = `const r = await execa(${JSON.stringify(binary)}, ['version'], { stdin: 'ignore' }); if (!r.stdout) throw new Error('no output');`;

console.log(`node ${process.version}, execa ${execaVersion}, ${binary}`);
console.log(`medians of ${reps}; lower is better\n`);

// execa in one file, as esbuild would bundle it into a chunk of the library's own (today
// dist/ keeps every package external): the best case for its import.
const bundleDir = mkdtempSync(path.join(os.tmpdir(), 'spawn-cost-'));
process.on('exit', () => rmSync(bundleDir, { recursive: true, force: true }));
// Ctrl-C still removes it.
process.once('SIGINT', () => process.exit(130));
const bundled = path.join(bundleDir, 'execa.mjs');
await build({
  stdin: { contents: `export { execa } from ${JSON.stringify(fileURLToPath(execaUrl))};`, resolveDir: process.cwd() },
  outfile: bundled,
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // cross-spawn and a few others are CommonJS and require Node's modules.
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  logLevel: 'warning',
});
const bundledUrl = pathToFileURL(bundled).href;

// 1. Import cost in a fresh process.
{
  const [bare, bareModule, childProcess, execa, execaBundled] = await alternate(
    [
      () => node(['-e', report('')]),
      () => node(module(report(''))),
      () => node(module(timed(`await import('node:child_process');`))),
      () => node(module(timed(`await import(${JSON.stringify(execaUrl)});`))),
      () => node(module(timed(`await import(${JSON.stringify(bundledUrl)});`))),
    ],
    reps,
  );
  const wall = (samples) => median(samples.map((s) => s.wall));
  const cpu = (samples) => median(samples.map((s) => s.cpu));
  const took = (samples) => median(samples.map((s) => s.took));
  console.log('1. import in a fresh process (wall of the whole process | its CPU | the import alone, timed inside)');
  console.log(`   node -e ''                          ${ms(wall(bare))} | ${ms(cpu(bare))}`);
  console.log(`   node --input-type=module -e ''      ${ms(wall(bareModule))} | ${ms(cpu(bareModule))}`);
  for (const [name, samples] of [
    ['import node:child_process', childProcess],
    ['import execa', execa],
    ['import execa, bundled in one file', execaBundled],
  ]) {
    console.log(
      `   ${name.padEnd(36)}${ms(wall(samples))} (${signed(wall(samples) - wall(bareModule))}) | ${ms(cpu(samples))} (${signed(cpu(samples) - cpu(bareModule))}) | ${ms(took(samples))}`,
    );
  }
  for (const [name, samples] of [
    ['execa', execa],
    ['execa bundled', execaBundled],
  ]) {
    console.log(
      `   ${name}'s import over child_process's: ${signed(took(samples) - took(childProcess))} timed inside, ${signed(wall(samples) - wall(childProcess))} wall, ${signed(cpu(samples) - cpu(childProcess))} CPU`,
    );
  }
  console.log('');
}

// 2. The first spawn of a fresh process, lazy import included.
{
  const [byChildProcess, byExeca, byExecaBundled] = await alternate(
    [
      () => node(module(timed(`const { spawn } = await import('node:child_process'); ${versionByChildProcess}`))),
      () => node(module(timed(`const { execa } = await import(${JSON.stringify(execaUrl)}); ${versionByExeca}`))),
      () => node(module(timed(`const { execa } = await import(${JSON.stringify(bundledUrl)}); ${versionByExeca}`))),
    ],
    reps,
  );
  const took = (samples) => median(samples.map((s) => s.took));
  const cpu = (samples) => median(samples.map((s) => s.cpu));
  console.log(
    '2. first `litestream version` of a fresh process, from before the import to its close (timed inside | process CPU)',
  );
  console.log(`   child_process.spawn   ${ms(took(byChildProcess))} | ${ms(cpu(byChildProcess))}`);
  console.log(`   execa                 ${ms(took(byExeca))} | ${ms(cpu(byExeca))}`);
  console.log(`   execa, bundled        ${ms(took(byExecaBundled))} | ${ms(cpu(byExecaBundled))}`);
  for (const [name, samples] of [
    ['execa', byExeca],
    ['execa bundled', byExecaBundled],
  ]) {
    console.log(
      `   ${name} over child_process: ${signed(took(samples) - took(byChildProcess))} wall, ${signed(cpu(samples) - cpu(byChildProcess))} CPU`,
    );
  }
  console.log('');
}

// 3. Later spawns in one warm process.
{
  const { execa } = await import(execaUrl);
  const measure = (run) => async () => {
    const cpuBefore = process.cpuUsage();
    const startedAt = performance.now();
    await run();
    const wall = performance.now() - startedAt;
    const used = process.cpuUsage(cpuBefore);
    return { wall, cpu: (used.user + used.system) / 1000 };
  };
  const [byChildProcess, byExeca] = await alternate(
    [
      measure(
        () =>
          new Promise((resolve, reject) => {
            const child = spawn(binary, ['version'], { stdio: ['ignore', 'pipe', 'pipe'] });
            let out = '';
            child.stdout.on('data', (chunk) => {
              out += chunk;
            });
            child.on('error', reject);
            child.on('close', (code) => (code === 0 && out ? resolve() : reject(new Error(`exit ${code}`))));
          }),
      ),
      measure(async () => {
        const result = await execa(binary, ['version'], { stdin: 'ignore' });
        if (!result.stdout) throw new Error('no output');
      }),
    ],
    reps,
  );
  const wall = (samples) => median(samples.map((s) => s.wall));
  const cpu = (samples) => median(samples.map((s) => s.cpu));
  console.log('3. later `litestream version` spawns in one warm process (wall per spawn | this process CPU per spawn)');
  console.log(`   child_process.spawn   ${ms(wall(byChildProcess))} | ${ms(cpu(byChildProcess))}`);
  console.log(`   execa                 ${ms(wall(byExeca))} | ${ms(cpu(byExeca))}`);
  console.log(
    `   execa over child_process: ${signed(wall(byExeca) - wall(byChildProcess))} wall, ${signed(cpu(byExeca) - cpu(byChildProcess))} CPU per spawn`,
  );
}
