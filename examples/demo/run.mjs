// The whole story in one command (`npm run demo`): the Fastify example boots with no
// backup, takes writes, is killed like a crashed container, loses its disk, boots again
// with every row restored, and shuts down with a final sync. No cloud account: the replica
// is a local directory.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const server = fileURLToPath(new URL('../fastify/server.mjs', import.meta.url));
const work = process.argv[2] ?? mkdtempSync(path.join(os.tmpdir(), 'litestream-node-demo-'));
mkdirSync(path.join(work, 'container'), { recursive: true });
const replica = path.join(work, 'replica');
// The library's log lines that tell the story (the rest is litestream's routine).
const STORY =
  /^(database missing|no backup|database restored|every database is synced|litestream stopped|signal received)/;
// Bold on a terminal only: piped into a file or a CI log, escape codes are noise.
const bold = process.stdout.isTTY && !process.env.NO_COLOR ? (text) => `\x1b[1m${text}\x1b[0m` : (text) => text;
const step = (text) => console.log(`\n${bold(`▶ ${text}`)}`);
const say = (text) => console.log(`  ${text}`);

function boot(label) {
  const child = spawn(process.execPath, [server], {
    cwd: path.join(work, 'container'),
    env: {
      ...process.env,
      PORT: '0',
      LITESTREAM_ENABLED: 'true',
      LITESTREAM_FILE_REPLICA: replica,
      LITESTREAM_SYNC_INTERVAL: '1s',
      // The health route's details (each database's last sync) are for the operator's token.
      HEALTH_TOKEN: 'demo',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let buffered = '';
  let resolveUrl;
  const url = new Promise((resolve) => {
    resolveUrl = resolve;
  });
  child.stdout.on('data', (chunk) => {
    buffered += chunk;
    let newline = buffered.indexOf('\n');
    while (newline !== -1) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      newline = buffered.indexOf('\n');
      let entry;
      try {
        entry = JSON.parse(line);
      } catch {
        continue;
      }
      const listening = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(entry.msg ?? '');
      if (listening) resolveUrl(listening[1]);
      if (entry.plugin === 'litestream' && STORY.test(entry.msg ?? '')) {
        const db = entry.db ? `${path.basename(entry.db)}: ` : '';
        say(`[${label}] litestream: ${db}${entry.msg}${entry.generation ? ` (generation ${entry.generation})` : ''}`);
      }
    }
  });
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return { child, url, exited };
}

async function until(check, what, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

step(`First boot: an empty disk, an empty replica (${replica})`);
const first = boot('boot 1');
const base1 = await first.url;
say(`listening on ${base1}`);

step('Writing rows: three items (each also queues a job in the second database)');
for (const name of ['apple', 'pear', 'plum']) {
  const { id } = await (await fetch(`${base1}/items/${name}`, { method: 'POST' })).json();
  say(`POST /items/${name} → id ${id}`);
}
// Every commit made before a database's lastSyncAt is in the replica: later than the last
// acknowledged write means every write is there.
const writtenAt = Date.now();
let lastWrite = writtenAt;
let extra = 0;
await until(async () => {
  const status = await (await fetch(`${base1}/healthz/litestream`, { headers: { 'x-health-token': 'demo' } })).json();
  if (status.databases.every((db) => db.lastSyncAt && Date.parse(db.lastSyncAt) > writtenAt)) return true;
  // Litestream 0.3 logs nothing about an idle database: when its last read of the WAL came
  // while the last request ran, only a later write's read can prove that one.
  if (Date.now() - lastWrite > 3_000) {
    const name = `fig-${++extra}`;
    const { id } = await (await fetch(`${base1}/items/${name}`, { method: 'POST' })).json();
    say(`POST /items/${name} → id ${id} (a later write, whose sync proves the earlier ones)`);
    lastWrite = Date.now();
  }
  return false;
}, 'the writes to reach the replica');
say('both databases have synced to the replica');

step('Crash: SIGKILL, no shutdown at all');
first.child.kill('SIGKILL');
await first.exited;
say('process killed');

step('New container: the local disk is gone');
rmSync(path.join(work, 'container'), { recursive: true, force: true });
mkdirSync(path.join(work, 'container'));
say(`deleted everything in ${path.join(work, 'container')}`);

step('Second boot: restore from the replica before serving');
const second = boot('boot 2');
const base2 = await second.url;
const items = await (await fetch(`${base2}/items`)).json();
const jobs = await (await fetch(`${base2}/jobs`)).json();
say(`GET /items → ${items.map((item) => item.name).join(', ')}`);
say(`GET /jobs → ${jobs.length} jobs`);
// Every write the sync proved; of the later ones, the replica may hold some.
if (items.length < 3 || items.length !== jobs.length || items.length > 3 + extra) throw new Error('rows were lost');

step('Graceful shutdown: SIGTERM, final sync, exit');
second.child.kill('SIGTERM');
const { code } = await second.exited;
say(`exited with code ${code}`);
if (code !== 0) process.exit(1);
if (process.argv[2] === undefined) rmSync(work, { recursive: true, force: true });
console.log('\nEvery row survived a crash and a lost disk.');
