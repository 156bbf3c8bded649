// Scenario 11: a restore into a disk that is too small (a tmpfs the test mounts, as root).
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'vitest';
import { onCleanup, tempDir } from '../support/fixtures.js';
import { LARGE_BACKUP_ROWS, launchApp, readLoad, Scenario, seedLargeBackup, trials } from './harness.js';

/** A tmpfs of `size` at a new directory; unmounted after the test. Undefined where mounting is not allowed. */
function smallDisk(size: string): string | undefined {
  const dir = path.join(tempDir(), 'disk');
  mkdirSync(dir);
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'ignore' });
  } catch {
    return undefined;
  }
  onCleanup(() => {
    execFileSync('umount', ['-l', dir], { stdio: 'ignore' });
  });
  return dir;
}

const canMount = (() => {
  if (process.getuid?.() !== 0) return false;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'lsnode-mount-probe-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir], { stdio: 'ignore' });
    execFileSync('umount', [dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
})();
if (!canMount) console.warn('disk: mounting a tmpfs needs root; the full-disk scenario is skipped here');

describe('a full disk', () => {
  it.runIf(canMount)(
    '11. restore into a full disk: a RestoreError that says so and where, nothing left behind, and a retry after space is freed restores (needs root for a tmpfs)',
    async ({ task }) => {
      const scenario = new Scenario('11. Restore into a full disk', task);
      for (let trial = 0; trial < trials(3, 1); trial++) {
        const prefix = `disk-full-${randomUUID()}`;
        await seedLargeBackup(prefix);
        // Half the database's size.
        const dir = smallDisk('6m') as string;
        const app = launchApp(prefix, { dir });
        const error = await app.event('error', 60_000);
        const problems: string[] = [];
        if (error.name !== 'RestoreError') problems.push(`${error.name} instead of RestoreError: ${error.message}`);
        if (!/The disk is full/.test(String(error.message)))
          problems.push(`the message does not say the disk is full: ${error.message}`);
        if (!String(error.message).includes(dir)) problems.push(`the message does not name ${dir}: ${error.message}`);
        if ((await app.exited).code !== 1) problems.push('the app did not exit 1');
        const left = readdirSync(dir);
        if (left.length > 0) problems.push(`left on the full disk: ${left.join(', ')}`);

        // Space freed: the next boot restores every row.
        execFileSync('mount', ['-o', 'remount,size=64m', dir], { stdio: 'ignore' });
        const next = launchApp(prefix, { dir });
        await next.event('ready', 60_000);
        const restored = readLoad(next.database);
        if (restored.integrity !== 'ok') problems.push(`integrity_check: ${restored.integrity}`);
        if (restored.maxId !== LARGE_BACKUP_ROWS)
          problems.push(`restored ${restored.maxId} of ${LARGE_BACKUP_ROWS} rows`);
        await next.terminate();
        problems.push(...scenario.checkSecrets({ 'app output': app.output(), 'next app output': next.output() }));
        scenario.trial(problems);
      }
    },
    trials(3, 1) * 90_000,
  );
});
