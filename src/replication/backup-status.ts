import { existsSync } from 'node:fs';
import type { LitestreamConfig } from '../config/types.js';
import { resolveRuntime } from '../engine/select.js';
import { liveReplicator } from '../process/pidfile.js';
import type { Replication } from './types.js';

/** One database's backup state, from this process, its pidfile and the replica. */
export interface BackupStatus {
  readonly path: string;
  /** The local file exists. */
  readonly localExists: boolean;
  /** A litestream is replicating it (in this process, or another live one). */
  readonly replicating: boolean;
  /** Who replicates it: `this process`, or the pid of the Node process that does. */
  readonly replicatedBy: 'this process' | number | undefined;
  /** Litestream 0.3: the newest generation in the replica. */
  readonly generation: string | undefined;
  /** Litestream 0.5: the last transaction id in the replica (or synced by this process). */
  readonly txid: number | undefined;
  /** When the replica last received data (the end of its newest generation). */
  readonly lastBackupAt: Date | undefined;
  /** Milliseconds since then. */
  readonly lastBackupAgeMs: number | undefined;
  /** Litestream 0.3: how far the replica is behind the local database, from the replica listing. */
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
export async function backupStatus(
  config: LitestreamConfig,
  replicationOf: (database: string) => Replication | undefined,
): Promise<BackupStatus[]> {
  const runtime = await resolveRuntime(config);
  await runtime.verified();
  return Promise.all(
    config.databases.map(async (db) => {
      const local = replicationOf(db.path)?.status();
      const here = local && local.state !== 'stopped' ? local : undefined;
      const mine = here?.databases.find((row) => row.path === db.path);
      const other = here ? undefined : await liveReplicator(db.path);
      const newest = await runtime.engine.newestBackup(config, runtime, db);
      return Object.freeze({
        path: db.path,
        localExists: existsSync(db.path),
        replicating: here !== undefined || other !== undefined,
        replicatedBy: here ? ('this process' as const) : other?.ownerPid,
        generation: mine?.generation ?? newest?.generation,
        txid: mine?.txid ?? newest?.txid,
        lastBackupAt: newest?.at,
        lastBackupAgeMs: newest ? Date.now() - newest.at.getTime() : undefined,
        replicaLagMs: newest?.lagMs,
        lastSyncAt: mine?.lastSyncAt,
        restarts: here?.restarts,
        lastError: mine?.lastError?.message,
      });
    }),
  );
}
