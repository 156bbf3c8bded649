import { link, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { FileSystemError, ReplicationError } from '../errors.js';
import type { Logger } from '../logging/logger.js';
import { companionFiles, makeDirectoryOf } from '../sqlite/database-files.js';
import { commandLine, currentProcess, isCurrent, isRunning, ownedName, sweepLeftovers } from './owner.js';

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

function ownRecord(litestreamPid: number): PidRecord {
  const me = currentProcess();
  return { ownerPid: me.pid, ownerStart: me.start, litestreamPid };
}

const ownerOfRecord = (record: PidRecord) => ({ pid: record.ownerPid, start: record.ownerStart });

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
 *
 * A claim this process holds already is kept: `ensureRestored` keeps its claim for the
 * replication that follows, so that no other app can claim the database in between.
 *
 * Resolves to `'fresh'` when no pidfile of another process was there (nothing of another
 * process was at work on the database), `'taken-over'` when one was and is now ours.
 */
export async function claimDatabase(
  database: string,
  timeoutMs: number,
  logger: Logger,
  signal?: AbortSignal,
): Promise<'fresh' | 'taken-over'> {
  const file = companionFiles(database).pidfile;
  makeDirectoryOf(database, database);
  await sweepPidfileLeftovers(database, logger);
  for (let attempt = 0; attempt < 20; attempt++) {
    if (await publish(file, ownRecord(0), database)) return attempt === 0 ? 'fresh' : 'taken-over';
    const text = await readFile(file, 'utf8').catch(() => undefined);
    if (text === undefined) continue; // Removed meanwhile: try again.
    const record = parseRecord(text);
    if (record && isCurrent(ownerOfRecord(record))) return attempt === 0 ? 'fresh' : 'taken-over';
    if (record && isRunning(ownerOfRecord(record))) throw await claimedError(database, record);
    const orphan = record ? await replicatorState(record.litestreamPid) : 'gone';
    if (record && orphan === 'replicating') {
      logger.warn(
        { db: database, litestreamPid: record.litestreamPid, ownerPid: record.ownerPid },
        'stopping an orphaned litestream left by a process that died',
      );
      await terminate(record.litestreamPid, timeoutMs, signal);
    } else if (record && orphan === 'unknown') {
      // Never signal a process that may not be litestream (its pid may have been reused).
      logger.warn(
        { db: database, litestreamPid: record.litestreamPid, ownerPid: record.ownerPid },
        'the process that replicated this database died, and this system has neither /proc nor ps to tell whether its litestream (pid above) still runs: if it does, stop it — two replicators on one database corrupt its backup',
      );
    }
    await takeOver(file, text, database);
  }
  throw new ReplicationError(`could not claim ${database} for replication: remove ${file} if no app is running.`, {
    database,
  });
}

/**
 * Throws the error {@link claimDatabase} would when another running process has claimed
 * `database` (it restores or replicates this very file); resolves when none has.
 */
export async function refuseIfClaimed(database: string): Promise<void> {
  const record = await readRecord(companionFiles(database).pidfile);
  if (record && !isCurrent(ownerOfRecord(record)) && isRunning(ownerOfRecord(record))) {
    throw await claimedError(database, record);
  }
}

async function claimedError(database: string, record: PidRecord): Promise<ReplicationError> {
  // Its litestream may be between a crash and its restart: the owner still replicates.
  const replicating = (await replicatorState(record.litestreamPid)) === 'replicating';
  return new ReplicationError(
    replicating
      ? `${database} is already replicated by litestream (pid ${record.litestreamPid}) started by another running process (pid ${record.ownerPid}): stop that app first — two replicators on one database corrupt its backup.`
      : `${database} is in use by another running process (pid ${record.ownerPid}), which is restoring or replicating it: run one app per database — two replicators on one database corrupt its backup.`,
    { database },
  );
}

/** Creates `file` holding `record` if it does not exist; the content is complete the moment it appears. */
async function publish(file: string, record: PidRecord, database: string): Promise<boolean> {
  const temp = tempName(file, 'tmp');
  await writeFile(temp, `${JSON.stringify(record)}\n`, { mode: 0o644 }).catch((error: unknown) => {
    throw new FileSystemError('writing the pidfile', file, error, { database });
  });
  try {
    await link(temp, file);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw new FileSystemError('writing the pidfile', file, error, { database });
  } finally {
    await unlink(temp).catch(() => {});
  }
}

/**
 * Removes a stale pidfile whose content was `stale`. It is moved aside first (atomic), so
 * that a fresh claim another process made meanwhile is never deleted: that one goes back.
 */
async function takeOver(file: string, stale: string, database: string): Promise<void> {
  const aside = tempName(file, 'stale');
  try {
    await rename(file, aside);
  } catch {
    return; // Gone already: someone else took it over.
  }
  if ((await readFile(aside, 'utf8').catch(() => undefined)) !== stale) {
    await link(aside, file).catch(() => {});
  }
  await unlink(aside).catch((error: unknown) => {
    throw new FileSystemError('replacing the stale pidfile', file, error, { database });
  });
}

/** A temp file beside `file`, named for this process so a later boot can sweep it if we die. */
function tempName(file: string, kind: 'tmp' | 'stale'): string {
  return `${ownedName(`${file}.`)}.${kind}`;
}

/** Removes the pidfile temp files of processes that died beside `database`. */
async function sweepPidfileLeftovers(database: string, logger: Logger): Promise<void> {
  const file = companionFiles(database).pidfile;
  await sweepLeftovers(path.dirname(file), `${path.basename(file)}.`, logger);
}

/** Records that this process's litestream (`litestreamPid`) replicates `database`. */
export async function writeRecord(database: string, litestreamPid: number): Promise<void> {
  const file = companionFiles(database).pidfile;
  recorded.add(database);
  const temp = tempName(file, 'tmp');
  try {
    await writeFile(temp, `${JSON.stringify(ownRecord(litestreamPid))}\n`, { mode: 0o644 });
    await rename(temp, file);
  } catch (error) {
    await unlink(temp).catch(() => {});
    throw new FileSystemError('writing the pidfile', file, error, { database });
  }
}

/**
 * Removes our claim from {@link claimDatabase} unless a litestream of ours has been recorded
 * in it since: when a restore fails, or when no replication followed it.
 */
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
  if (record && isCurrent(ownerOfRecord(record)) && also(record)) await unlink(file).catch(() => {});
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

/** Whether `pid` is a live `litestream replicate`; `'unknown'` where the platform cannot tell. */
async function replicatorState(pid: number): Promise<'replicating' | 'gone' | 'unknown'> {
  // 0 is a claim whose litestream has not started yet (and kill(0) would signal our group).
  if (pid <= 0) return 'gone';
  const args = await commandLine(pid);
  if (args === 'gone' || args === 'unknown') return args;
  // The binary may be named anything (binaryPath): its config path names litestream too.
  const isLitestream = /litestream/.test(args.join(' ')) && args.includes('replicate');
  return isLitestream ? 'replicating' : 'gone';
}

/** SIGTERM (so the orphan still makes its final sync), SIGKILL after `timeoutMs` or once `abort` fires. */
async function terminate(pid: number, timeoutMs: number, abort?: AbortSignal): Promise<void> {
  const signal = (name: NodeJS.Signals) => {
    try {
      process.kill(pid, name);
    } catch {
      // Already gone.
    }
  };
  // Polls the command line, not kill(0): an unreaped zombie still answers kill(0).
  const waitGone = async (ms: number) => {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline && !abort?.aborted) {
      if ((await replicatorState(pid)) !== 'replicating') return true;
      await sleep(100);
    }
    return false;
  };
  signal('SIGTERM');
  if (await waitGone(timeoutMs)) return;
  signal('SIGKILL');
  if (!(await waitGone(5_000)) && !abort?.aborted) {
    throw new ReplicationError(`could not stop the orphaned litestream (pid ${pid}): kill it by hand.`);
  }
}

/** The live litestream replicating `database` from another process, if any. */
export async function liveReplicator(
  database: string,
): Promise<{ ownerPid: number; litestreamPid: number } | undefined> {
  const record = await readRecord(companionFiles(database).pidfile);
  if (!record || !isRunning(ownerOfRecord(record))) return undefined;
  return (await replicatorState(record.litestreamPid)) === 'replicating' ? record : undefined;
}
