// Scenario 10: the platform stops a container while it is still restoring at boot (a
// deploy rolled back, a node drained). SIGTERM reaches the app alone, as Kubernetes and
// Docker send it, in the middle of a slow restore.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { onCleanup, seedEnv, tempDir, waitFor } from '../support/fixtures.js';
import { throttledProxy } from '../support/proxy.js';
import { testS3 } from '../support/s3-per-file.js';
import { LARGE_BACKUP_ROWS, launchApp, readLoad, Scenario, seedLargeBackup, trials } from './harness.js';

const DIST = fileURLToPath(new URL('../../dist/index.js', import.meta.url));

/** Resolves once the restore into `dir` has begun writing its temp copy of the database. */
function restoreUnderWay(dir: string): Promise<boolean> {
  return waitFor(
    () =>
      readdirSync(dir).some(
        (name) => name.startsWith('.app.sqlite3.restore-') && statSync(path.join(dir, name)).size > 0,
      ),
    30_000,
    'the restore to write its temp copy',
  );
}

/** Processes whose command line names `dir`: a litestream restore writing into it. */
function processesIn(dir: string): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dir);
      } catch {
        return false;
      }
    })
    .map(Number);
}

describe('an interrupted boot', () => {
  it(
    '10. SIGTERM during a slow restore: the app exits at once, no litestream and no temp file is left, the next boot restores',
    async ({ task }) => {
      const scenario = new Scenario('10. SIGTERM during a slow boot restore', task);
      let slowestExitMs = 0;
      for (let trial = 0; trial < trials(5, 1); trial++) {
        const prefix = `interrupted-${randomUUID()}`;
        await seedLargeBackup(prefix);
        const slow = await throttledProxy(testS3().endpoint, 1024 * 1024);
        const dir = tempDir();
        const app = launchApp(prefix, { dir, env: { LITESTREAM_S3_ENDPOINT: slow.endpoint } });
        // The download has begun: a temp copy beside the database grows.
        await restoreUnderWay(dir);
        const signalledAt = Date.now();
        process.kill(app.pid, 'SIGTERM');
        const exit = await app.exited;
        const exitMs = Date.now() - signalledAt;
        slowestExitMs = Math.max(slowestExitMs, exitMs);
        const problems: string[] = [];
        if (exit.signal !== 'SIGTERM') problems.push(`the app did not end by its SIGTERM: ${JSON.stringify(exit)}`);
        if (exitMs > 5_000) problems.push(`the app took ${exitMs} ms to exit`);
        const left = processesIn(dir);
        if (left.length > 0) problems.push(`processes still at work in ${dir}: ${left.join(', ')}`);
        const files = readdirSync(dir);
        if (files.length > 0) problems.push(`left in ${dir}: ${files.join(', ')}`);

        // The next boot, over a normal link, restores every row.
        const next = launchApp(prefix, { dir });
        await next.event('ready', 60_000);
        const restored = readLoad(next.database);
        if (restored.integrity !== 'ok') problems.push(`integrity_check: ${restored.integrity}`);
        if (restored.maxId !== LARGE_BACKUP_ROWS)
          problems.push(`the next boot restored ${restored.maxId} of ${LARGE_BACKUP_ROWS} rows`);
        await next.terminate();
        problems.push(...scenario.checkSecrets({ 'app output': app.output(), 'next app output': next.output() }));
        scenario.trial(problems);
      }
      scenario.row.notes = `slowest exit after SIGTERM ${slowestExitMs} ms`;
    },
    trials(5, 1) * 90_000,
  );

  it('an app with its own SIGTERM handler keeps it: ensureRestored rejects with an AbortError once it has cleaned up, and the app decides', async () => {
    const prefix = `interrupted-handler-${randomUUID()}`;
    await seedLargeBackup(prefix);
    const slow = await throttledProxy(testS3().endpoint, 1024 * 1024);
    const dir = tempDir();
    const database = path.join(dir, 'app.sqlite3');
    const script = `
      import { configFromEnv, ensureRestored } from ${JSON.stringify(DIST)};
      const say = (event) => console.log(JSON.stringify(event));
      process.on('SIGTERM', () => say({ event: 'handler' }));
      try {
        await ensureRestored(configFromEnv(process.env, { logger: false }));
        say({ event: 'restored' });
      } catch (error) {
        say({ event: 'rejected', name: error.name, message: error.message });
      }
    `;
    const binary = process.env.LITESTREAM_BINARY_PATH;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      env: {
        PATH: process.env.PATH,
        ...(binary ? { LITESTREAM_BINARY_PATH: binary } : {}),
        ...seedEnv(prefix, [database], { LITESTREAM_S3_ENDPOINT: slow.endpoint }),
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    onCleanup(() => {
      child.kill('SIGKILL');
    });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    await restoreUnderWay(dir);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    const events = output
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, string>);
    expect(events[0]).toEqual({ event: 'handler' });
    expect(events[1]).toMatchObject({
      event: 'rejected',
      name: 'AbortError',
      message: expect.stringMatching(/SIGTERM received/),
    });
    expect(processesIn(dir)).toEqual([]);
    expect(readdirSync(dir)).toEqual([]);
  });
});
