import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from './logger.js';

/**
 * Which process owns a pidfile, a temp file or a temp directory, told apart from a later
 * process that got the same pid: pids repeat, above all in containers (an app is often
 * pid 1 on every boot).
 */
export interface ProcessIdentity {
  readonly pid: number;
  /** When it started (Linux: clock ticks since boot, from /proc); undefined elsewhere. */
  readonly start: string | undefined;
}

/** This process. */
export function currentProcess(): ProcessIdentity {
  return { pid: process.pid, start: startTime(process.pid) };
}

/** When `pid` started, from /proc, or undefined where that cannot be read. */
export function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** The process is still running: its pid is alive and, where known, started when recorded. */
export function isRunning(owner: ProcessIdentity): boolean {
  if (!isAlive(owner.pid)) return false;
  return owner.start === undefined || owner.start === startTime(owner.pid);
}

/** True for this very process. */
export function isCurrent(owner: ProcessIdentity): boolean {
  return owner.pid === process.pid && owner.start === startTime(process.pid);
}

function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The command line of a running process: from /proc on Linux, from `ps` elsewhere.
 * `'gone'` when it is not running (or a zombie); `'unknown'` when the platform offers no
 * way to tell (no /proc and no `ps`, as in some slim images on other systems).
 */
export async function commandLine(pid: number): Promise<readonly string[] | 'gone' | 'unknown'> {
  if (!isAlive(pid)) return 'gone';
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // An unreaped zombie still answers kill(0).
    if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) return 'gone';
    const args = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').filter(Boolean);
    return args;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && isProcMounted()) return 'gone';
  }
  return new Promise((resolve) => {
    execFile('ps', ['-o', 'stat=,args=', '-p', String(pid)], (error, stdout) => {
      if (error) {
        // ps ran and found no such process: exit status 1; no ps at all: ENOENT.
        resolve(typeof error.code === 'number' ? 'gone' : 'unknown');
        return;
      }
      const line = stdout.trim();
      if (line === '' || line.startsWith('Z')) resolve('gone');
      else resolve(line.split(/\s+/).slice(1));
    });
  });
}

function isProcMounted(): boolean {
  return startTime(process.pid) !== undefined;
}

/**
 * The tag that names this process in the temp files and directories it creates:
 * `<pid>-<start>` (start `x` where unknown). A later boot tells from it whether the
 * creator is gone, and so whether the leftover can be removed.
 */
export function ownerTag(): string {
  const me = currentProcess();
  return `${me.pid}-${me.start ?? 'x'}`;
}

const TAG = /^(\d+)-(\d+|x)\./;

/** The owner named by a leftover's name after `prefix`, if it follows {@link ownerTag}. */
function ownerOf(name: string, prefix: string): ProcessIdentity | undefined {
  const match = TAG.exec(name.slice(prefix.length));
  if (!match) return undefined;
  return { pid: Number(match[1]), start: match[2] === 'x' ? undefined : match[2] };
}

/**
 * Removes the entries of `dir` named `<prefix><owner tag>.…` whose creator is no longer
 * running: what a process killed in the middle of a restore, or SIGKILLed while it
 * replicated, left behind. Entries of running processes (this one included), and names
 * without a tag, stay. Never throws: a leftover that cannot be removed is logged.
 */
export async function sweepLeftovers(dir: string, prefix: string, logger: Logger): Promise<string[]> {
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch {
    return [];
  }
  const bootedAt = bootTime();
  const removed: string[] = [];
  for (const name of entries) {
    if (!name.startsWith(prefix)) continue;
    const owner = ownerOf(name, prefix);
    if (!owner) continue;
    const file = path.join(dir, name);
    if (isRunning(owner) && !(await olderThanBoot(file, bootedAt))) continue;
    try {
      await rm(file, { recursive: true, force: true });
      removed.push(file);
    } catch (error) {
      logger.warn({ path: file, error: String(error) }, 'could not remove a leftover of a process that died');
    }
  }
  if (removed.length > 0) {
    logger.info({ removed }, 'removed temp files left by a litestream-node process that died');
  }
  return removed;
}

/** When the machine booted (Linux), so a leftover from an earlier boot is never taken for a live one. */
function bootTime(): number | undefined {
  try {
    const match = /^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'));
    return match ? Number(match[1]) * 1000 : undefined;
  } catch {
    return undefined;
  }
}

async function olderThanBoot(file: string, bootedAt: number | undefined): Promise<boolean> {
  if (bootedAt === undefined) return false;
  const info = await stat(file).catch(() => undefined);
  return info !== undefined && info.mtimeMs < bootedAt;
}
