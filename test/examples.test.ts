import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, onTestFailed } from 'vitest';
import { configFromEnv } from '../src/index.js';
import { CLI } from './support/cli.js';
import { onCleanup, readIds, replicaIds, seedEnv, tempDir, waitFor, writeRows } from './support/fixtures.js';
import { family } from './support/litestream-version.js';
import { testS3 } from './support/s3-per-file.js';

const EXAMPLES = fileURLToPath(new URL('../examples/', import.meta.url));

/** Runs node with `args`, killed after the test if still running; its output is collected. */
function runNode(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
  const child: ChildProcess = spawn(process.execPath, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
  onCleanup(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  let output = '';
  child.stdout?.on('data', (chunk) => {
    output += chunk;
  });
  child.stderr?.on('data', (chunk) => {
    output += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited, output: () => output };
}

/** Starts an example as its README says, in `cwd`, against the test S3 server. */
function startExample(name: string, cwd: string, prefix: string) {
  const { child, exited, output } = runNode([path.join(EXAMPLES, name, 'server.mjs')], {
    cwd,
    // The example names its databases itself.
    env: { ...process.env, PORT: '0', HEALTH_TOKEN: 'operator-token', ...seedEnv(prefix, []) },
  });
  // The app's own line ("listening on", Fastify's "Server listening at"): litestream's log
  // names the S3 endpoint, another loopback URL, and may come first.
  const url = waitFor(
    () => /listening (?:on|at) (http:\/\/127\.0\.0\.1:\d+)/.exec(output())?.[1],
    30_000,
    `${name} to listen`,
  );
  return { child, exited, url, output };
}

describe.each(['fastify', 'express', 'plain-node'])('examples/%s', (name) => {
  it('keeps its rows across a clean stop, a crash and a lost disk, and exits 0 after its final sync', async () => {
    const dir = tempDir();
    const prefix = `example-${name}-${Date.now()}`;
    const first = startExample(name, dir, prefix);
    const base = await first.url;
    for (const item of ['apple', 'pear', 'plum']) {
      expect((await fetch(`${base}/items/${item}`, { method: 'POST' })).status).toBe(200);
    }
    first.child.kill('SIGTERM');
    expect(await first.exited, first.output()).toBe(0);
    // It ran the Litestream under test (its project's), as the log says.
    expect(first.output()).toMatch(family === '0.5' ? /using litestream v?0\.5\.\d+/ : /using litestream v0\.3\.13/);

    // A new container: no local data.
    rmSync(path.join(dir, 'storage'), { recursive: true, force: true });
    const second = startExample(name, dir, prefix);
    const items = (await (await fetch(`${await second.url}/items`)).json()) as { name: string }[];
    expect(items.map((item) => item.name)).toEqual(['apple', 'pear', 'plum']);
    const jobs = (await (await fetch(`${await second.url}/jobs`)).json()) as unknown[];
    expect(jobs).toHaveLength(3);
    second.child.kill('SIGTERM');
    expect(await second.exited, second.output()).toBe(0);
    expect(second.output()).not.toContain(testS3().secretAccessKey);

    // A crash: no shutdown at all, once the last write has reached the replica.
    const third = startExample(name, dir, prefix);
    const base3 = await third.url;
    expect((await fetch(`${base3}/items/quince`, { method: 'POST' })).status).toBe(200);
    // Acknowledged by now: every commit before lastSyncAt is in the replica, so a later
    // lastSyncAt proves this write there (a time taken before the request would not).
    const writtenAt = Date.now();
    // Litestream 0.3 logs nothing about an idle database: when its last read came during
    // the request, only a later write's read can prove this one. Such writes follow it.
    const later: string[] = [];
    let lastWrite = writtenAt;
    await waitFor(
      async () => {
        const health = await fetch(`${base3}/healthz/litestream`, { headers: { 'x-health-token': 'operator-token' } });
        const status = (await health.json()) as {
          databases: { lastSyncAt?: string }[];
        };
        if (status.databases.every((db) => db.lastSyncAt && Date.parse(db.lastSyncAt) > writtenAt)) return true;
        if (Date.now() - lastWrite > 3_000) {
          later.push(`later-${later.length}`);
          expect((await fetch(`${base3}/items/${later.at(-1)}`, { method: 'POST' })).status).toBe(200);
          lastWrite = Date.now();
        }
        return false;
      },
      20_000,
      'the write to reach the replica',
    );
    third.child.kill('SIGKILL');
    await third.exited;
    rmSync(path.join(dir, 'storage'), { recursive: true, force: true });
    const fourth = startExample(name, dir, prefix);
    const after = (await (await fetch(`${await fourth.url}/items`)).json()) as { name: string }[];
    const restored = after.map((item) => item.name);
    // Every write up to quince; of those after it, the replica may hold the first few.
    expect(restored).toEqual(['apple', 'pear', 'plum', 'quince', ...later.slice(0, restored.length - 4)]);
    fourth.child.kill('SIGTERM');
    expect(await fourth.exited, fourth.output()).toBe(0);
  });
});

describe("the README's quick start", () => {
  it('runs as written: it replicates, and on Ctrl-C makes its final sync and exits 0', async () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const code = /\n## Quick start\n[\s\S]*?```js\n([\s\S]*?)```\n/.exec(readme)?.[1];
    expect(code, 'the first js block of the quick start').toBeDefined();
    // A project of its own that has installed the package (this checkout, built).
    const dir = tempDir();
    writeFileSync(path.join(dir, 'app.mjs'), code as string);
    mkdirSync(path.join(dir, 'node_modules'));
    symlinkSync(fileURLToPath(new URL('..', import.meta.url)), path.join(dir, 'node_modules', 'litestream-node'));
    // The app's database, as its code would have made it.
    const database = path.join(dir, 'storage', 'production.sqlite3');
    mkdirSync(path.dirname(database));
    const before = writeRows(database, 'before', 3);

    const prefix = `quick-start-${Date.now()}`;
    const {
      child: app,
      exited,
      output,
    } = runNode(['app.mjs'], {
      cwd: dir,
      env: { ...process.env, ...seedEnv(prefix, []) },
    });
    await waitFor(() => /every database with data is synced/.test(output()), 30_000, 'the first sync');
    // Written after the first sync: only the sync loop or the final sync takes them to S3.
    const after = writeRows(database, 'after', 3);
    app.kill('SIGINT');
    expect(await exited, output()).toBe(0);
    expect(output()).toMatch(/final sync/);
    const config = configFromEnv(seedEnv(prefix, [database]));
    expect(await replicaIds(config, database)).toEqual([...before, ...after]);
    expect(readIds(database)).toEqual([...before, ...after]);
  });
});

describe('npm run demo', () => {
  it('tells the whole story and ends with every row restored and a clean exit', async () => {
    const dir = tempDir();
    const demo = runNode([path.join(EXAMPLES, 'demo', 'run.mjs'), dir]);
    const code = await demo.exited;
    const output = demo.output();
    expect(code, output).toBe(0);
    expect(output).toMatch(/no backup in the replica/);
    expect(output).toMatch(/production\.sqlite3: database restored/);
    expect(output).toMatch(/GET \/items → apple, pear, plum/);
    expect(output).toMatch(/litestream stopped after its final sync/);
    expect(output).toMatch(/Every row survived a crash and a lost disk\./);
    // Piped, as here: plain text, no terminal escape codes.
    expect(output).not.toContain('\x1b[');
  });
});

describe('examples/any-app under litestream-node run', () => {
  /** `litestream-node run -- node server.mjs` in `cwd`, as the example's README says. */
  function runUnder(cwd: string, prefix: string, extra: string[] = []) {
    const started = runNode(
      [
        CLI,
        'run',
        '--metrics-port',
        '0',
        ...extra,
        '--',
        process.execPath,
        path.join(EXAMPLES, 'any-app', 'server.mjs'),
      ],
      { cwd, env: { ...process.env, PORT: '0', ...seedEnv(prefix, []), LITESTREAM_DATABASES: 'storage/app.sqlite3' } },
    );
    onTestFailed(() => console.error(`--- output of litestream-node run ---\n${started.output()}`));
    const url = waitFor(
      () => /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(started.output())?.[1],
      30_000,
      'the app to listen',
    );
    return { ...started, url };
  }

  it('restores before the app starts, passes SIGTERM on, makes the final sync and exits with the app status', async () => {
    const dir = tempDir();
    const prefix = `any-app-${Date.now()}`;
    const first = runUnder(dir, prefix);
    const base = await first.url;
    for (const item of ['apple', 'pear']) {
      expect((await fetch(`${base}/items/${item}`, { method: 'POST' })).status).toBe(200);
    }
    // What the adapters answer, on the port it announced.
    const metricsAt = /metrics on (http:\/\/127\.0\.0\.1:\d+)\/metrics/.exec(first.output())?.[1];
    expect(metricsAt, first.output()).toBeDefined();
    await waitFor(async () => (await fetch(`${metricsAt}/health`)).status === 200, 20_000, 'healthy');
    const metrics = await (await fetch(`${metricsAt}/metrics`)).text();
    expect(metrics).toMatch(/^litestream_node_replication_up 1$/m);
    expect(metrics).toMatch(/^litestream_node_restore_info\{database="[^"]*app\.sqlite3",outcome="no-backup"\} 1$/m);
    first.child.kill('SIGTERM');
    expect(await first.exited, first.output()).toBe(0);
    expect(first.output()).not.toContain(testS3().secretAccessKey);

    // A new container: its database is restored before the app opens it.
    rmSync(path.join(dir, 'storage'), { recursive: true, force: true });
    const second = runUnder(dir, prefix);
    const items = (await (await fetch(`${await second.url}/items`)).json()) as { name: string }[];
    expect(items.map((item) => item.name)).toEqual(['apple', 'pear']);
    second.child.kill('SIGTERM');
    expect(await second.exited, second.output()).toBe(0);
  });
});
