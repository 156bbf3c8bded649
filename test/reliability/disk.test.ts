// Scenarios 11 and 12: a restore into a disk that is too small, and a disk that fills while
// the app writes and litestream replicates (a tmpfs the test mounts, as root).
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, rmSync, statfsSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'vitest';
import { onCleanup, processAlive, tempDir, waitFor } from '../support/fixtures.js';
import { privileged } from '../support/privileged.js';
import {
  type AppEvent,
  LARGE_BACKUP_ROWS,
  launchApp,
  launchUnderLoad,
  readLoad,
  runFor,
  Scenario,
  seedLargeBackup,
  stopAndRestore,
  trials,
} from './harness.js';

/** How litestream says the disk is full (0.3, 0.5). */
const DISK_FULL = /no space left on device|disk full[^:"]*/i;

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

const mountsHere = (() => {
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
// Skipped on a developer's machine without root; under CI the file fails instead.
const canMount = privileged('test/reliability/disk.test.ts', 'mounting a tmpfs', mountsHere);

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

  it.runIf(canMount)(
    "12. the disk fills while replicating: the app sees SQLite's own error and keeps running, replication reports the full disk, and once space returns every acknowledged write reaches the replica (needs root for a tmpfs)",
    async ({ task }) => {
      const scenario = new Scenario('12. Disk fills while replicating', task);
      const outcomes = new Map<string, number>();
      for (let trial = 0; trial < trials(3, 1); trial++) {
        const prefix = `disk-fills-${randomUUID()}`;
        const dir = smallDisk('32m') as string;
        const app = await launchUnderLoad(prefix, { dir });
        await runFor(1_000);
        // Everything but 512 KiB taken by another file: the app's next writes fill the rest.
        const filler = path.join(dir, 'filler');
        fillDisk(dir, filler, 512 * 1024);
        const problems: string[] = [];
        const status = (check: (status: AppEvent) => boolean, what: string, timeoutMs = 45_000) => {
          let last: AppEvent | undefined;
          return waitFor(
            async () => {
              last = await app.status();
              return check(last) ? last : undefined;
            },
            timeoutMs,
            what,
          ).catch((error: Error) => {
            problems.push(`${error.message}; status was ${JSON.stringify(last)}`);
            return undefined;
          });
        };
        const failing = await status((now) => Number(now.writeErrors) > 0, "the app's writes to fail");
        if (failing && !/SQLITE_FULL/.test(String(failing.lastWriteError)))
          problems.push(`the app's write failed otherwise than SQLITE_FULL: ${failing.lastWriteError}`);
        // Replication then reports the full disk, or, when litestream had nothing left it
        // could not write, stays healthy with every acknowledged write covered by its syncs.
        const seen = await status((now) => {
          const lastAck = app.acks.at(-1)?.at ?? 0;
          return (
            (now.healthy === false && DISK_FULL.test(JSON.stringify(now.errors))) ||
            (now.healthy === true && Number(now.lastSyncAt) > lastAck)
          );
        }, 'replication to report the full disk, or to cover every acknowledged write');
        if (seen) {
          const said =
            seen.healthy === false
              ? `reported "…${String(DISK_FULL.exec(JSON.stringify(seen.errors))?.[0])}…"`
              : 'healthy, every acknowledged write synced';
          outcomes.set(said, (outcomes.get(said) ?? 0) + 1);
        }
        if (!processAlive(app.pid)) problems.push('the app died');

        // Space returns: replication recovers by itself, and the app's writes succeed again.
        rmSync(filler);
        const errorsAtRecovery = Number((await app.status()).writeErrors);
        const acksAtRecovery = app.acks.length;
        await status((now) => now.healthy === true, 'replication to be healthy again', 60_000);
        await waitFor(() => app.acks.length > acksAtRecovery + 20, 20_000, 'writes to go on');
        const errorsAfter = Number((await app.status()).writeErrors);
        if (errorsAfter > errorsAtRecovery + 4)
          problems.push(`writes still failed after space returned (${errorsAfter - errorsAtRecovery})`);
        const end = await stopAndRestore(scenario, prefix, app);
        problems.push(...end.problems);
        scenario.row.notes = `while full, status(): ${[...outcomes].map(([said, n]) => `${said} ×${n}`).join('; ')}`;
        scenario.trial(problems, { windowMs: 0, lostAcknowledged: end.lost > 0 });
      }
    },
    trials(3, 1) * 120_000,
  );
});

/**
 * Grows `filler` until `dir`'s disk has about `leave` bytes free, a MiB at a time: the app and
 * litestream write to the same disk meanwhile, so one write sized from a single statfs can
 * find the space gone (ENOSPC). A write that does is cut to what fits; the disk is then full.
 */
function fillDisk(dir: string, filler: string, leave: number): void {
  const chunk = Buffer.alloc(1024 * 1024);
  const fd = openSync(filler, 'w');
  try {
    for (;;) {
      const { bavail, bsize } = statfsSync(dir);
      const room = bavail * bsize - leave;
      if (room <= 0) return;
      try {
        writeSync(fd, chunk, 0, Math.min(chunk.length, room));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOSPC') return;
        throw error;
      }
    }
  } finally {
    closeSync(fd);
  }
}
