// `node bench/import-cost.mjs [--reps N] FILE…`: what importing each module FILE costs a
// fresh Node process, next to a bare `node -e ''`, in one run: the arms alternate (the order
// reversed every other round, after one warm-up round), and each figure is a median.
// Prints, per file, the wall-clock cost and the process's CPU time (user + system, read at
// exit), both minus the bare start's and as a ratio of it. CPU time moves less than wall
// time on a loaded machine; `npm run bench -- --only import` states the wall ratio.
//
// For a before/after of the build: `npm run build` leaves the bundle in dist/, and
// `node esbuild.config.mjs --modules .cache/dist-modules` also keeps tsc's unbundled modules:
//   node bench/import-cost.mjs .cache/dist-modules/index.js dist/index.js
import { spawn } from 'node:child_process';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({
  options: { reps: { type: 'string', default: '40' } },
  allowPositionals: true,
});
const reps = Number(values.reps);
if (positionals.length === 0 || !(reps > 0)) {
  console.error('usage: node bench/import-cost.mjs [--reps N] FILE…');
  process.exit(2);
}

const cpuAtExit = ';const u = process.cpuUsage(); process.stdout.write(String((u.user + u.system) / 1000));';
const arms = [
  '',
  ...positionals.map((file) => `await import(${JSON.stringify(pathToFileURL(path.resolve(file)).href)});`),
];

function run(code) {
  return new Promise((resolve, reject) => {
    const startedAt = performance.now();
    let out = '';
    const child = spawn(process.execPath, ['--input-type=module', '-e', code + cpuAtExit], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    child.stdout.on('data', (chunk) => {
      out += chunk;
    });
    child.on('exit', (code) =>
      code === 0
        ? resolve({ wall: performance.now() - startedAt, cpu: Number(out) })
        : reject(new Error(`exit ${code}`)),
    );
  });
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};

const samples = arms.map(() => ({ wall: [], cpu: [] }));
for (let round = 0; round <= reps; round++) {
  const order = arms.map((_, i) => i);
  if (round % 2 === 1) order.reverse();
  for (const i of order) {
    const { wall, cpu } = await run(arms[i]);
    if (round === 0) continue;
    samples[i].wall.push(wall);
    samples[i].cpu.push(cpu);
  }
}

const bare = { wall: median(samples[0].wall), cpu: median(samples[0].cpu) };
console.log(`bare node -e '': wall ${bare.wall.toFixed(1)} ms, cpu ${bare.cpu.toFixed(1)} ms (medians of ${reps})`);
positionals.forEach((file, i) => {
  const wall = median(samples[i + 1].wall) - bare.wall;
  const cpu = median(samples[i + 1].cpu) - bare.cpu;
  console.log(
    `${file}: wall +${wall.toFixed(1)} ms (×${(wall / bare.wall).toFixed(2)}), cpu +${cpu.toFixed(1)} ms (×${(cpu / bare.cpu).toFixed(2)})`,
  );
});
