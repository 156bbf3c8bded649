import { type ChildProcess, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { onCleanup, seedEnv, tempDir, waitFor } from './support/fixtures.js';
import { testS3 } from './support/s3-per-file.js';

const EXAMPLES = fileURLToPath(new URL('../examples/', import.meta.url));

/** Starts an example as its README says, in `cwd`, against the test S3 server. */
function startExample(name: string, cwd: string, prefix: string) {
  const child: ChildProcess = spawn(process.execPath, [path.join(EXAMPLES, name, 'server.mjs')], {
    cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
    // The example names its databases itself.
    env: { ...process.env, PORT: '0', ...seedEnv(prefix, []) },
  });
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
  // The app's own line ("listening on", Fastify's "Server listening at"): litestream's log
  // names the S3 endpoint, another loopback URL, and may come first.
  const url = waitFor(
    () => /listening (?:on|at) (http:\/\/127\.0\.0\.1:\d+)/.exec(output)?.[1],
    30_000,
    `${name} to listen`,
  );
  return { child, exited, url, output: () => output };
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
    const writtenAt = Date.now();
    expect((await fetch(`${base3}/items/quince`, { method: 'POST' })).status).toBe(200);
    await waitFor(
      async () => {
        const status = (await (await fetch(`${base3}/healthz/litestream`)).json()) as {
          databases: { lastSyncAt?: string }[];
        };
        return status.databases.every((db) => db.lastSyncAt && Date.parse(db.lastSyncAt) > writtenAt);
      },
      20_000,
      'the write to reach the replica',
    );
    third.child.kill('SIGKILL');
    await third.exited;
    rmSync(path.join(dir, 'storage'), { recursive: true, force: true });
    const fourth = startExample(name, dir, prefix);
    const after = (await (await fetch(`${await fourth.url}/items`)).json()) as { name: string }[];
    expect(after.map((item) => item.name)).toEqual(['apple', 'pear', 'plum', 'quince']);
    fourth.child.kill('SIGTERM');
    expect(await fourth.exited, fourth.output()).toBe(0);
  });
});

describe('npm run demo', () => {
  it('tells the whole story and ends with every row restored and a clean exit', async () => {
    const dir = tempDir();
    const demo = spawn(process.execPath, [path.join(EXAMPLES, 'demo', 'run.mjs'), dir], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    onCleanup(() => {
      if (demo.exitCode === null) demo.kill('SIGKILL');
    });
    let output = '';
    demo.stdout.on('data', (chunk) => {
      output += chunk;
    });
    demo.stderr.on('data', (chunk) => {
      output += chunk;
    });
    const code = await new Promise<number | null>((resolve) => demo.on('exit', resolve));
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
