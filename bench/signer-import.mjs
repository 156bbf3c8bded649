// What a SigV4 signer costs the first S3 request of a fresh process: importing it (and signing
// one request), each in a fresh `node`, alternated with a bare `node -e ''`, medians.
// `node bench/signer-import.mjs [rounds]` (default 20). Both signers resolve from this
// checkout: aws4 is a dependency, @smithy/signature-v4 comes with @aws-sdk/credential-providers.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const rounds = Number(process.argv[2] ?? 20);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

// smithy's signer takes a SHA-256 constructor; this adapter over node:crypto is the smallest one.
const SMITHY_SIGN = `
  const { SignatureV4 } = await import('@smithy/signature-v4');
  const crypto = await import('node:crypto');
  class Sha256 {
    constructor(key) { this.hash = key ? crypto.createHmac('sha256', key) : crypto.createHash('sha256'); }
    update(data) { this.hash.update(data); }
    async digest() { return new Uint8Array(this.hash.digest()); }
  }
  const signer = new SignatureV4({ service: 's3', region: 'us-east-1', sha256: Sha256, uriEscapePath: false,
    credentials: { accessKeyId: 'AKID', secretAccessKey: 'SECRET' } });
  await signer.sign({ method: 'GET', protocol: 'http:', hostname: 'h', path: '/b/k', query: {}, headers: { host: 'h' } });`;
const AWS4_SIGN = `
  const { default: aws4 } = await import('aws4');
  aws4.sign({ service: 's3', region: 'us-east-1', host: 'h', path: '/b/k' }, { accessKeyId: 'AKID', secretAccessKey: 'SECRET' });`;

const arms = {
  "node -e ''": '',
  'node:crypto (the S3 requests load it anyway)': "await import('node:crypto')",
  aws4: "await import('aws4')",
  '@smithy/signature-v4': "await import('@smithy/signature-v4')",
  'aws4, import and sign one request': AWS4_SIGN,
  '@smithy/signature-v4, import and sign one request': SMITHY_SIGN,
};
// Inside each process too: the statement's own wall time and CPU time (user + system). CPU time
// barely moves when other processes share the cores; wall time does.
const measured = (code) => `
  const cpu0 = process.cpuUsage(); const t0 = performance.now();
  ${code}
  const cpu = process.cpuUsage(cpu0);
  console.log(JSON.stringify({ wall: performance.now() - t0, cpu: (cpu.user + cpu.system) / 1000 }));`;
const names = Object.keys(arms);
const times = Object.fromEntries(names.map((name) => [name, []]));
const inside = Object.fromEntries(names.map((name) => [name, { wall: [], cpu: [] }]));
for (let round = 0; round < rounds; round++) {
  // Rotated, so no arm always runs right after another.
  for (let i = 0; i < names.length; i++) {
    const name = names[(i + round) % names.length];
    const startedAt = performance.now();
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', measured(arms[name])], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'inherit'],
      encoding: 'utf8',
    });
    if (run.status !== 0) throw new Error(`${name}: exit ${run.status}`);
    times[name].push(performance.now() - startedAt);
    const own = JSON.parse(run.stdout);
    inside[name].wall.push(own.wall);
    inside[name].cpu.push(own.cpu);
  }
}
const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  return (sorted[(sorted.length - 1) >> 1] + sorted[sorted.length >> 1]) / 2;
};
const bare = median(times[names[0]]);
console.log(
  `${rounds} rounds, node ${process.version}; medians: the process, its excess over a bare node, the statement's own wall and CPU time`,
);
for (const name of names) {
  const ms = median(times[name]);
  const own = `${median(inside[name].wall).toFixed(1)} ms, CPU ${median(inside[name].cpu).toFixed(1)} ms`;
  console.log(
    `${name.padEnd(50)} ${ms.toFixed(1).padStart(7)} ms  +${(ms - bare).toFixed(1).padEnd(6)} ms  own ${own}`,
  );
}
