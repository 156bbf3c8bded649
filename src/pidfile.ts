import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { link, mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { ReplicationError } from './errors.js';
import type { Logger } from './logger.js';
import { companionFiles } from './paths.js';

/** What a pidfile beside a database records about the process replicating it. */
interface PidRecord {
  /** The Node process that started the replicator. */
  ownerPid: number;
  /** When that process started (Linux clock ticks since boot), to tell it from a reused pid. */
  ownerStart?: string;
  /** The litestream process; 0 while the owner restores or is starting it. */
  litestreamPid: number;
}

/** Databases whose pidfile records a litestream of this process (see {@link releaseClaim}). */
const recorded = new Set<string>();

/**
 * Makes sure no other litestream replicates `database` before ours starts, and claims it.
 *
 * The claim is the pidfile beside the database, published atomically with `link()` (it is
 * never seen empty) and never over an existing one: of two apps starting on one database
 * at the same moment, exactly one gets it. A replicator whose Node owner died is an
 * orphan: it is stopped (SIGTERM, so it still finishes its final sync; SIGKILL after
 * `timeoutMs`) and its pidfile taken over. A claim whose owner is alive (the same process,
 * not a reused pid) belongs to another running app: that is refused, never two replicators
 * on one database.
 */
export async function claimDatabase(database: string, timeoutMs: number, logger: Logger): Promise<void> {
  const file = companionFiles(database).pidfile;
  await mkdir(path.dirname(file), { recursive: true });
  for (let attempt = 0; attempt < 20; attempt++) {
    if (await publish(file, { ownerPid: process.pid, ownerStart: startTime(process.pid), litestreamPid: 0 })) return;
    const text = await readFile(file, 'utf8').catch(() => undefined);
    if (text === undefined) continue; // Removed meanwhile: try again.
    const record = parseRecord(text);
    if (record?.ownerPid === process.pid && record.ownerStart === startTime(process.pid)) return;
    if (record && ownerAlive(record)) {
      // Its litestream may be between a crash and its restart: the owner still replicates.
      const replicating = await isLitestream(record.litestreamPid);
      throw new ReplicationError(
        replicating
          ? `${database} is already replicated by litestream (pid ${record.litestreamPid}) started by another running process (pid ${record.ownerPid}): stop that app first — two replicators on one database corrupt its backup.`
          : `${database} is in use by another running process (pid ${record.ownerPid}), which is restoring or replicating it: run one app per database — two replicators on one database corrupt its backup.`,
        { database },
      );
    }
    if (record && (await isLitestream(record.litestreamPid))) {
      logger.warn(
        { db: database, pid: record.litestreamPid, ownerPid: record.ownerPid },
        'stopping an orphaned litestream left by a process that died',
      );
      await terminate(record.litestreamPid, timeoutMs);
    }
    await takeOver(file, text);
  }
  throw new ReplicationError(`could not claim ${database} for replication: remove ${file} if no app is running.`, {
    database,
  });
}

/** Creates `file` holding `record` if it does not exist; the content is complete the moment it appears. */
async function publish(file: string, record: PidRecord): Promise<boolean> {
  const temp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(temp, `${JSON.stringify(record)}\n`, { mode: 0o644 });
  try {
    await link(temp, file);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    await unlink(temp).catch(() => {});
  }
}

/**
 * Removes a stale pidfile whose content was `stale`. It is moved aside first (atomic), so
 * that a fresh claim another process made meanwhile is never deleted: that one goes back.
 */
async function takeOver(file: string, stale: string): Promise<void> {
  const aside = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.stale`;
  try {
    await rename(file, aside);
  } catch {
    return; // Gone already: someone else took it over.
  }
  if ((await readFile(aside, 'utf8').catch(() => undefined)) !== stale) {
    await link(aside, file).catch(() => {});
  }
  await unlink(aside).catch(() => {});
}

/** Records that this process's litestream (`litestreamPid`) replicates `database`. */
export async function writeRecord(database: string, litestreamPid: number): Promise<void> {
  const file = companionFiles(database).pidfile;
  const record: PidRecord = { ownerPid: process.pid, ownerStart: startTime(process.pid), litestreamPid };
  recorded.add(database);
  const temp = `${file}.${process.pid}.tmp`;
  await writeFile(temp, `${JSON.stringify(record)}\n`, { mode: 0o644 });
  await rename(temp, file);
}

/** Removes our claim from {@link claimDatabase} unless a litestream of ours has been recorded in it since. */
export async function releaseClaim(database: string): Promise<void> {
  // Checked again after the read: writeRecord may have run meanwhile.
  await removeIfOurs(database, (record) => record.litestreamPid === 0 && !recorded.has(database));
}

/** Removes the pidfile if it is still ours. */
export async function releaseRecord(database: string): Promise<void> {
  recorded.delete(database);
  await removeIfOurs(database, () => true);
}

async function removeIfOurs(database: string, also: (record: PidRecord) => boolean): Promise<void> {
  const file = companionFiles(database).pidfile;
  const record = await readRecord(file);
  if (record?.ownerPid === process.pid && also(record)) await unlink(file).catch(() => {});
}

async function readRecord(file: string): Promise<PidRecord | undefined> {
  return parseRecord(await readFile(file, 'utf8').catch(() => ''));
}

function parseRecord(text: string): PidRecord | undefined {
  try {
    const parsed = JSON.parse(text) as Partial<PidRecord>;
    if (Number.isInteger(parsed.ownerPid) && Number.isInteger(parsed.litestreamPid)) return parsed as PidRecord;
  } catch {
    // Torn by a crash (pidfiles are published whole).
  }
  return undefined;
}

/**
 * When `pid` started, from /proc (Linux), or undefined where that cannot be read. Pids
 * repeat, above all in containers restarted on a persistent volume.
 */
function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** The record's owner is still running: its pid is alive and, where known, started when recorded. */
function ownerAlive(record: PidRecord): boolean {
  if (!isAlive(record.ownerPid)) return false;
  return record.ownerStart === undefined || record.ownerStart === startTime(record.ownerPid);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Guards against pid reuse: only a live `litestream replicate` process counts. */
async function isLitestream(pid: number): Promise<boolean> {
  // 0 is a claim whose litestream has not started yet (and kill(0) would signal our group).
  if (pid <= 0 || !isAlive(pid)) return false;
  const result = await execa('ps', ['-o', 'args=', '-p', String(pid)], {
    reject: false,
    stdin: 'ignore',
    cleanup: false,
  });
  const args = String(result.stdout);
  return result.exitCode === 0 && /litestream/.test(args) && /\breplicate\b/.test(args);
}

async function terminate(pid: number, timeoutMs: number): Promise<void> {
  const signal = (name: NodeJS.Signals) => {
    try {
      process.kill(pid, name);
    } catch {
      // Already gone.
    }
  };
  // Polls with ps, not kill(0): an unreaped zombie still answers kill(0).
  const waitGone = async (ms: number) => {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      if (!(await isLitestream(pid))) return true;
      await sleep(100);
    }
    return false;
  };
  signal('SIGTERM');
  if (await waitGone(timeoutMs)) return;
  signal('SIGKILL');
  if (!(await waitGone(5_000))) {
    throw new ReplicationError(`could not stop the orphaned litestream (pid ${pid}): kill it by hand.`);
  }
}

/** The live litestream replicating `database` from another process, if any. */
export async function liveReplicator(
  database: string,
): Promise<{ ownerPid: number; litestreamPid: number } | undefined> {
  const record = await readRecord(companionFiles(database).pidfile);
  if (!record || !ownerAlive(record)) return undefined;
  return (await isLitestream(record.litestreamPid)) ? record : undefined;
}
