/**
 * \`verify\`: a sentinel row written, synced, restored and checked. Without an app replicating
 * the database, it replicates it for the check and says what that changed in the replica.
 */

import { refusingHeldReplicas, withDatabases } from '../../config/derived.js';
import type { LitestreamConfig } from '../../config/types.js';
import { describePosition } from '../../engine/positions.js';
import { resolveRuntime } from '../../engine/select.js';
import { LitestreamError } from '../../errors.js';
import { findDatabase } from '../../inspect/listings.js';
import { Litestream, verify as verifyBackup } from '../../litestream.js';
import type { VerificationReport } from '../../replication/verify.js';
import { UsageError } from '../arguments.js';
import type { Command } from '../command.js';
import { database } from '../config.js';
import { formatJson } from '../format.js';

export const verify: Command = async ({ config, values, positionals, json, signal }) => {
  const db = database(config, positionals);
  const timeoutMs = values.timeout === undefined ? 60_000 : Number(values.timeout);
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) throw new UsageError('--timeout takes milliseconds, e.g. 60000');
  const report = await verifyWithReplicator(config, db, timeoutMs, signal);
  if (json) return formatJson(report);
  const position = describePosition(report);
  const from = position === undefined ? '' : ` ${position},`;
  const changes = describeChanges(report);
  return `verified ${report.database}:${from} ${report.restoredSize} bytes restored, ${report.durationMs} ms${changes ? `\n${changes}` : ''}`;
};

/** What `verify` did to the replica beyond the check itself, when it had to replicate. */
interface ReplicatedForCheck {
  /** No app replicated the database, so this command did for the duration of the check. */
  readonly replicatedForCheck: true;
  /** The replica held a backup before the check. */
  readonly hadBackup: boolean;
  /** Litestream 0.3: the generation litestream started for it, when it did not continue the newest one. */
  readonly newGeneration: string | undefined;
  /** Litestream 0.3: the newest generation before the check. */
  readonly previousGeneration: string | undefined;
  /** The final sync (which carries the removal of the check's row) reached the replica. */
  readonly finalSyncLanded: boolean;
}

/**
 * `verify` needs a replicator: the app's, or one started here for the check. Starting one
 * changes the replica in a way the user must be told about (see {@link describeChanges}).
 */
async function verifyWithReplicator(
  config: LitestreamConfig,
  db: string,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<VerificationReport & Partial<ReplicatedForCheck>> {
  try {
    return await verifyBackup(config, db, { timeoutMs, signal });
  } catch (error) {
    if (!(error instanceof LitestreamError) || (error as { step?: string }).step !== 'replicating') throw error;
  }
  // Only this database: another one may be missing locally and would never sync.
  // An app replicating it elsewhere holds its lease: refused at once, not waited for.
  const single = refusingHeldReplicas(withDatabases(config, [db]));
  const runtime = await resolveRuntime(single);
  const before = await runtime.engine.newestBackup(single, runtime, findDatabase(single, db));
  const previousGeneration = before?.generation;
  const litestream = new Litestream(single);
  let report: VerificationReport;
  try {
    await litestream.startReplication().started;
    report = await litestream.verify(db, { timeoutMs, signal });
  } catch (error) {
    await litestream.stop();
    throw error;
  }
  const stopped = await litestream.stop();
  return {
    ...report,
    replicatedForCheck: true,
    hadBackup: before !== undefined,
    newGeneration: report.generation !== previousGeneration ? report.generation : undefined,
    previousGeneration,
    finalSyncLanded: stopped.clean,
  };
}

/** Plain sentences on what a `verify` that replicated by itself changed in the replica. */
function describeChanges(report: Partial<ReplicatedForCheck>): string {
  if (!report.replicatedForCheck) return '';
  const lines = ['No app was replicating it, so litestream-node replicated it for the duration of the check.'];
  if (!report.hadBackup) {
    const which = report.newGeneration === undefined ? '' : ` (generation ${report.newGeneration})`;
    lines.push(`The replica held no backup of it before; it now holds one${which} of the database as it is.`);
  } else if (report.newGeneration !== undefined) {
    lines.push(
      `Litestream started a new generation (${report.newGeneration}) in the replica, as it does whenever it resumes a database that was closed since it last ran; the previous one (${report.previousGeneration}) stays until the retention period removes it.`,
    );
  }
  lines.push(
    report.finalSyncLanded
      ? 'The latest backup holds the same data as the local database: the check removed its row again, and that removal reached the replica.'
      : "The final sync did not complete, so the latest backup may still hold the check's table (_litestream_node_verify): run verify again, or start the app, to replace it.",
  );
  return lines.join('\n');
}
