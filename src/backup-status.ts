import { existsSync } from 'node:fs';
import { generations } from './commands.js';
import type { LitestreamConfig } from './config.js';
import { liveReplicator } from './pidfile.js';
import { runningReplication } from './replicate.js';

/** One database's backup state, from this process, its pidfile and the replica. */
export interface BackupStatus {
  readonly path: string;
  /** The local file exists. */
  readonly localExists: boolean;
  /** A litestream is replicating it (in this process, or another live one). */
  readonly replicating: boolean;
  /** Who replicates it: `this process`, or the pid of the Node process that does. */
  readonly replicatedBy: 'this process' | number | undefined;
  /** The newest generation in the replica. */
  readonly generation: string | undefined;
  /** When the replica last received data (the end of its newest generation). */
  readonly lastBackupAt: Date | undefined;
  /** Milliseconds since then. */
  readonly lastBackupAgeMs: number | undefined;
  /** How far the replica is behind the local database, from the replica listing. */
  readonly replicaLagMs: number | undefined;
  /** In this process: last successful sync, restarts, last error. */
  readonly lastSyncAt: Date | undefined;
  readonly restarts: number | undefined;
  readonly lastError: string | undefined;
}

/**
 * The backup state of every database: whether it is being replicated (here or by another
 * live process), its newest generation and lag from the replica listing, and — when
 * replication runs in this process — its last sync, restarts and last error.
 *
 * @throws {@link ReplicaUnreachableError} when the replica cannot be read.
 */
export async function backupStatus(config: LitestreamConfig): Promise<BackupStatus[]> {
  return Promise.all(
    config.databases.map(async (db) => {
      const local = runningReplication(db.path)?.status();
      const here = local && local.state !== 'stopped' ? local : undefined;
      const mine = here?.databases.find((row) => row.path === db.path);
      const other = here ? undefined : await liveReplicator(db.path);
      const rows = await generations(config, db.path);
      const newest = rows.reduce<(typeof rows)[number] | undefined>(
        (best, row) => (best && best.end >= row.end ? best : row),
        undefined,
      );
      return Object.freeze({
        path: db.path,
        localExists: existsSync(db.path),
        replicating: here !== undefined || other !== undefined,
        replicatedBy: here ? ('this process' as const) : other?.ownerPid,
        generation: mine?.generation ?? newest?.generation,
        lastBackupAt: newest?.end,
        lastBackupAgeMs: newest ? Date.now() - newest.end.getTime() : undefined,
        replicaLagMs: newest?.lagMs,
        lastSyncAt: mine?.lastSyncAt,
        restarts: here?.restarts,
        lastError: mine?.lastError?.message,
      });
    }),
  );
}
