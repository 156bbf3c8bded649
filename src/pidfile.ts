import { readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { ReplicationError } from './errors.js';
import type { Logger } from './logger.js';
import { companionFiles } from './paths.js';

/** What a pidfile beside a database records about the process replicating it. */
interface PidRecord {
  /** The Node process that started the replicator. */
  ownerPid: number;
  /** The litestream process. */
  litestreamPid: number;
}

/**
 * Makes sure no other litestream replicates `database` before ours starts, and claims it.
 *
 * The claim is the pidfile beside the database, created exclusively (`wx`): of two apps
 * starting on one database at the same moment, exactly one gets it. A replicator whose
 * Node owner died is an orphan: it is stopped (SIGTERM, so it still finishes its final
 * sync; SIGKILL after `timeoutMs`) and its pidfile taken over. A replicator (or a claim)
 * whose owner is alive belongs to another running app: that is refused, never two
 * replicators on one database.
 */
export async function claimDatabase(database: string, timeoutMs: number, logger: Logger): Promise<void> {
  const file = companionFiles(database).pidfile;
  for (let attempt = 0; attempt < 20; attempt++) {
    try {
      await writeFile(file, `${JSON.stringify({ ownerPid: process.pid, litestreamPid: 0 })}\n`, {
        flag: 'wx',
        mode: 0o644,
      });
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const text = await readFile(file, 'utf8').catch(() => undefined);
    if (text === undefined) continue; // Removed meanwhile: try again.
    const record = parseRecord(text);
    if (!record) {
      // Another process is writing its claim right now (or a crash tore it): look again
      // shortly, and after a second treat it as stale.
      if (attempt < 10) {
        await sleep(100);
        continue;
      }
    } else if (record.ownerPid === process.pid) {
      return;
    } else if (isAlive(record.ownerPid)) {
      const replicating = await isLitestream(record.litestreamPid);
      throw new ReplicationError(
        replicating
          ? `${database} is already replicated by litestream (pid ${record.litestreamPid}) started by another running process (pid ${record.ownerPid}): stop that app first — two replicators on one database corrupt its backup.`
          : `${database} is in use by another running process (pid ${record.ownerPid}), which is restoring or starting to replicate it: run one app per database — two replicators on one database corrupt its backup.`,
        { database },
      );
    } else if (await isLitestream(record.litestreamPid)) {
      logger.warn(
        { db: database, pid: record.litestreamPid, ownerPid: record.ownerPid },
        'stopping an orphaned litestream left by a process that died',
      );
      await terminate(record.litestreamPid, timeoutMs);
    }
    // Stale: remove it, unless another process has replaced it meanwhile.
    if ((await readFile(file, 'utf8').catch(() => undefined)) === text) await unlink(file).catch(() => {});
  }
  throw new ReplicationError(`could not claim ${database} for replication: remove ${file} if no app is running.`, {
    database,
  });
}

/** Records that this process's litestream (`litestreamPid`) replicates `database`. */
export async function writeRecord(database: string, litestreamPid: number): Promise<void> {
  const file = companionFiles(database).pidfile;
  const record: PidRecord = { ownerPid: process.pid, litestreamPid };
  const temp = `${file}.${process.pid}.tmp`;
  await writeFile(temp, `${JSON.stringify(record)}\n`, { mode: 0o644 });
  await rename(temp, file);
}

/** Removes our claim from {@link claimDatabase} if no litestream of ours was recorded in it since. */
export async function releaseClaim(database: string): Promise<void> {
  const file = companionFiles(database).pidfile;
  const record = await readRecord(file);
  if (record?.ownerPid === process.pid && record.litestreamPid === 0) await unlink(file).catch(() => {});
}

/** Removes the pidfile if it is still ours. */
export async function releaseRecord(database: string): Promise<void> {
  const file = companionFiles(database).pidfile;
  const record = await readRecord(file);
  if (record?.ownerPid === process.pid) await unlink(file).catch(() => {});
}

async function readRecord(file: string): Promise<PidRecord | undefined> {
  return parseRecord(await readFile(file, 'utf8').catch(() => ''));
}

function parseRecord(text: string): PidRecord | undefined {
  try {
    const parsed = JSON.parse(text) as Partial<PidRecord>;
    if (Number.isInteger(parsed.ownerPid) && Number.isInteger(parsed.litestreamPid)) return parsed as PidRecord;
  } catch {
    // Missing or torn.
  }
  return undefined;
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
  if (!record || !isAlive(record.ownerPid)) return undefined;
  return (await isLitestream(record.litestreamPid)) ? record : undefined;
}
