import { readFileSync, readlinkSync } from 'node:fs';
import { readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../logging/logger.js';
import { loadChildProcess } from '../support/load-on-use.js';

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
  return { pid: process.pid, start: ownStartTime() };
}

// This process's start time, the machine's boot id and this process's pid namespace never
// change while it runs: read from /proc once, not for every temp file, pidfile and lease.
let ownStart: { readonly value: string | undefined } | undefined;
let ownBoot: { readonly value: string | undefined } | undefined;
let ownScope: { readonly value: string | undefined } | undefined;

function ownStartTime(): string | undefined {
  ownStart ??= { value: startTime(process.pid) };
  return ownStart.value;
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
  return owner.pid === process.pid && owner.start === ownStartTime();
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
    loadChildProcess().execFile('ps', ['-o', 'stat=,args=', '-p', String(pid)], (error, stdout) => {
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
  return ownStartTime() !== undefined;
}

/**
 * The tag that names this process in the temp files and directories it creates:
 * `<pid>-<start>-<boot>` (`x` for what the platform does not tell). A later process tells
 * from it whether the creator is gone, and so whether the leftover can be removed: the
 * boot, because pids and start times repeat across reboots (a VM that boots the same way).
 */
function ownerTag(): string {
  const me = currentProcess();
  return `${me.pid}-${me.start ?? 'x'}-${bootId() ?? 'x'}`;
}

/**
 * A name for a temp file or directory of this process: `<prefix><owner tag>.<random>`, the
 * form {@link sweepLeftovers} recognises under the same `prefix`.
 */
export function ownedName(
  prefix: string,
  random = Buffer.from(crypto.getRandomValues(new Uint8Array(6))).toString('hex'),
): string {
  return `${prefix}${ownerTag()}.${random}`;
}

const TAG = /^(\d+)-(\d+|x)-([0-9a-f]{8}|x)\./;

/** Whether the creator named by a leftover's name after `prefix` still runs; undefined without a tag. */
function creatorRunning(name: string, prefix: string): boolean | undefined {
  const match = TAG.exec(name.slice(prefix.length));
  if (!match) return undefined;
  const boot = match[3] === 'x' ? undefined : match[3];
  const current = bootId();
  if (boot !== undefined && current !== undefined && boot !== current) return false;
  return isRunning({ pid: Number(match[1]), start: match[2] === 'x' ? undefined : match[2] });
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
  const removed: string[] = [];
  for (const name of entries) {
    if (!name.startsWith(prefix) || creatorRunning(name, prefix) !== false) continue;
    const file = path.join(dir, name);
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

/**
 * Where this process's pid can be checked from: the machine's boot and its pid namespace
 * (Linux only; undefined elsewhere). Two processes with the same id see the same pids, so
 * one can tell whether the other still runs — never across containers or machines.
 */
export function pidScope(): string | undefined {
  ownScope ??= { value: readPidScope() };
  return ownScope.value;
}

function readPidScope(): string | undefined {
  const boot = bootId();
  try {
    return boot === undefined ? undefined : `${boot}/${readlinkSync('/proc/self/ns/pid')}`;
  } catch {
    return undefined;
  }
}

/** This boot of the machine (Linux), shortened: enough to tell two boots apart. */
function bootId(): string | undefined {
  ownBoot ??= { value: readBootId() };
  return ownBoot.value;
}

function readBootId(): string | undefined {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').replaceAll('-', '').slice(0, 8);
  } catch {
    return undefined;
  }
}
