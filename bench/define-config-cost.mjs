// `node bench/define-config-cost.mjs [--reps N] [--against DIR,…]` (N = 15 by default): what the
// first `defineConfig` (and `configFromEnv`) of a process costs, in fresh Node processes that
// import the built package (dist/index.js, so run `npm run build` first), as an app's boot does.
// Each sample is one process: the import, then one call timed (wall and the process's CPU time
// during the call), then a second call, and whether zod is in Node's module cache afterwards
// (the library loads zod with `require`, so the cache shows it). `--against` adds the builds of
// other checkouts (e.g. a `git archive` of an older commit, built there), measured in the same
// run; the arms alternate, their order reversed every other round, after one warm-up round
// that is dropped. Figures are medians.
//
// Calls: `define` (the README's options: two databases, an S3 replica with an endpoint and
// keys), `env` (`configFromEnv` with the seed's six variables and the databases as overrides),
// and `invalid` (options with a misspelt key, which go through the zod schema for their error).
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values: flags } = parseArgs({ options: { reps: { type: 'string' }, against: { type: 'string' } } });
const reps = Number(flags.reps ?? 15);
if (!Number.isInteger(reps) || reps < 1) {
  console.error('usage: node bench/define-config-cost.mjs [--reps N] [--against DIR,…]');
  process.exit(2);
}
const checkouts = [root, ...(flags.against ? flags.against.split(',').map((dir) => path.resolve(dir)) : [])];
const calls = ['define', 'env', 'invalid'];

const CHILD = `
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
const [entry, call] = process.argv.slice(1);
const started = performance.now();
const lib = await import(entry);
const imported = performance.now();
const options = {
  databases: ['storage/production.sqlite3', 'storage/production_queue.sqlite3'],
  replica: {
    type: 's3', bucket: 'my-app-backups', region: 'us-east-1', endpoint: 'http://127.0.0.1:9000',
    accessKeyId: 'AKIAEXAMPLE', secretAccessKey: 'example-secret',
  },
};
const env = {
  LITESTREAM_ENABLED: 'true', LITESTREAM_S3_BUCKET: 'my-app-backups', LITESTREAM_S3_ENDPOINT: 'http://127.0.0.1:9000',
  LITESTREAM_S3_REGION: 'us-east-1', LITESTREAM_ACCESS_KEY_ID: 'AKIAEXAMPLE', LITESTREAM_SECRET_ACCESS_KEY: 'example-secret',
};
const run = {
  define: () => lib.defineConfig(options),
  env: () => lib.configFromEnv(env, { databases: options.databases }),
  invalid: () => {
    try {
      lib.defineConfig({ ...options, syncIntervall: '1s' });
    } catch (error) {
      if (error.name === 'LitestreamConfigError') return;
      throw error;
    }
    throw new Error('the misspelt key was accepted');
  },
}[call];
const cpu = process.cpuUsage();
const before = performance.now();
run();
const callMs = performance.now() - before;
const { user, system } = process.cpuUsage(cpu);
const again = performance.now();
run();
const secondMs = performance.now() - again;
const require = createRequire(import.meta.url);
const zodFiles = Object.keys(require.cache).filter((file) => file.includes('/node_modules/zod/')).length;
console.log(JSON.stringify({ importMs: imported - started, callMs, callCpuMs: (user + system) / 1000, secondMs, zodFiles }));
`;

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};

const cwd = mkdtempSync(path.join(os.tmpdir(), 'lsnode-define-cost-'));
function sample(checkout, call) {
  const entry = pathToFileURL(path.join(checkout, 'dist', 'index.js')).href;
  return new Promise((resolve, reject) =>
    execFile(process.execPath, ['--input-type=module', '-e', CHILD, entry, call], { cwd }, (error, stdout, stderr) =>
      error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(JSON.parse(stdout)),
    ),
  );
}

try {
  const arms = checkouts.flatMap((checkout) => calls.map((call) => ({ checkout, call })));
  const samples = arms.map(() => []);
  for (let round = 0; round <= reps; round++) {
    const order = arms.map((_, i) => i);
    if (round % 2 === 1) order.reverse();
    for (const i of order) {
      const result = await sample(arms[i].checkout, arms[i].call);
      if (round > 0) samples[i].push(result);
    }
  }
  console.log(
    `Node ${process.version}, ${os.cpus().length} CPUs, load ${os.loadavg()[0].toFixed(1)}, medians of ${reps} fresh processes`,
  );
  console.log('| build | call | import | first call | its CPU | second call | zod loaded |');
  console.log('| --- | --- | --: | --: | --: | --: | --- |');
  arms.forEach(({ checkout, call }, i) => {
    const of = (key) => median(samples[i].map((s) => s[key])).toFixed(key === 'secondMs' ? 2 : 1);
    const zod = samples[i].filter((s) => s.zodFiles > 0).length;
    const name = checkout === root ? 'this checkout' : path.basename(checkout);
    console.log(
      `| ${name} | ${call} | ${of('importMs')} ms | ${of('callMs')} ms | ${of('callCpuMs')} ms | ${of('secondMs')} ms | ${zod}/${samples[i].length} |`,
    );
  });
} finally {
  rmSync(cwd, { recursive: true, force: true });
}
