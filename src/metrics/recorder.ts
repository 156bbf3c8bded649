import type { Replication, ReplicationStatus, StopResult } from '../replicate.js';
import type { RestoreResult } from '../restore.js';
import { type MetricFamily, renderExposition, type Sample } from './exposition.js';

/** How one database's boot restore ended: an outcome of `ensureRestored`, or `failed`. */
interface RestoreRecord {
  readonly outcome: RestoreResult['outcome'] | 'failed';
  readonly durationMs: number;
}

/**
 * Collects what a status does not hold — boot restores, sync errors counted over time, the
 * final sync — and renders it with a status as Prometheus metrics. One per
 * {@link Litestream} instance: nothing is shared between two.
 */
export class MetricsRecorder {
  readonly #now: () => number;
  readonly #restores = new Map<string, RestoreRecord>();
  readonly #syncErrors = new Map<string, number>();
  readonly #watched = new WeakSet<Replication>();
  #finalSync: StopResult | undefined;

  /** `now`: the clock ages are measured with (ms since the epoch). */
  constructor(options: { now?: () => number } = {}) {
    this.#now = options.now ?? Date.now;
  }

  /** What `ensureRestored` resolved to. */
  recordRestore(results: readonly RestoreResult[]): void {
    for (const result of results) {
      this.#restores.set(result.path, { outcome: result.outcome, durationMs: result.durationMs });
    }
  }

  /** `ensureRestored` failed after `durationMs`: every database it had not restored counts as failed. */
  recordRestoreFailure(databases: readonly string[], durationMs: number): void {
    for (const path of databases) this.#restores.set(path, { outcome: 'failed', durationMs });
  }

  /** Counts `replication`'s errors and keeps its final sync's result. */
  watch(replication: Replication): void {
    if (this.#watched.has(replication)) return;
    this.#watched.add(replication);
    this.#finalSync = undefined;
    replication.on('replicaError', ({ db }) => this.#syncErrors.set(db, (this.#syncErrors.get(db) ?? 0) + 1));
    replication.on('stopped', (result) => {
      this.#finalSync = result;
    });
  }

  /**
   * The metrics of `status` and of what was recorded, in the Prometheus text format;
   * `label` names each database (its `database` label).
   */
  render(status: ReplicationStatus, label: (database: string) => string = (database) => database): string {
    const now = this.#now();
    const databases = status.databases;
    const perDatabase = (value: (db: (typeof databases)[number]) => number | undefined): Sample[] =>
      databases.flatMap((db) => {
        const sample = value(db);
        return sample === undefined ? [] : [{ labels: { database: label(db.path) }, value: sample }];
      });
    const seconds = (ms: number) => ms / 1000;
    const families: MetricFamily[] = [
      {
        name: 'litestream_node_replication_up',
        type: 'gauge',
        help: 'Whether litestream is running (1), or not: starting, restarting, paused (the replica lease is not held), stopped or disabled (0).',
        samples: [{ value: status.state === 'running' ? 1 : 0 }],
      },
      {
        name: 'litestream_node_replication_healthy',
        type: 'gauge',
        help: 'Whether replication is healthy: running, the lease held, the replica answering, no database error, no stalled upload.',
        samples: [{ value: status.healthy ? 1 : 0 }],
      },
      {
        name: 'litestream_node_litestream_restarts_total',
        type: 'counter',
        help: 'Times a crashed or hung litestream was restarted since replication started.',
        samples: [{ value: status.restarts }],
      },
      {
        name: 'litestream_node_database_synced',
        type: 'gauge',
        help: 'Whether the replica has caught up with the database at least once since replication started.',
        samples: perDatabase((db) => (db.synced ? 1 : 0)),
      },
      {
        name: 'litestream_node_last_sync_timestamp_seconds',
        type: 'gauge',
        help: 'Every commit before this time is in the replica (Unix time).',
        samples: perDatabase((db) => db.lastSyncAt && seconds(db.lastSyncAt.getTime())),
      },
      {
        name: 'litestream_node_last_sync_age_seconds',
        type: 'gauge',
        help: 'Seconds since the last sync time: the most a commit made now may lag behind in the replica once it is synced.',
        samples: perDatabase((db) => db.lastSyncAt && Math.max(0, seconds(now - db.lastSyncAt.getTime()))),
      },
      {
        name: 'litestream_node_replica_txid',
        type: 'gauge',
        help: 'Litestream 0.5: the last transaction id known to be in the replica.',
        samples: perDatabase((db) => db.txid),
      },
      {
        name: 'litestream_node_replica_generation_info',
        type: 'gauge',
        help: 'Litestream 0.3: the generation the database replicates to (always 1).',
        samples: databases.flatMap((db) =>
          db.generation ? [{ labels: { database: label(db.path), generation: db.generation }, value: 1 }] : [],
        ),
      },
      {
        name: 'litestream_node_upload_in_flight_seconds',
        type: 'gauge',
        help: 'How long the oldest replica upload now in flight has been running (0 when none is).',
        samples: perDatabase((db) => (db.uploadingSince ? Math.max(0, seconds(now - db.uploadingSince.getTime())) : 0)),
      },
      {
        name: 'litestream_node_upload_stalled',
        type: 'gauge',
        help: 'Whether an upload in flight has run far longer than its size explains: S3 accepts connections but does not answer.',
        samples: perDatabase((db) => (status.stalled.includes(db.path) ? 1 : 0)),
      },
      {
        name: 'litestream_node_database_error',
        type: 'gauge',
        help: 'Whether litestream reports an error for the database now (cleared by the next successful sync).',
        samples: perDatabase((db) => (db.lastError ? 1 : 0)),
      },
      {
        name: 'litestream_node_sync_errors_total',
        type: 'counter',
        help: "Failed syncs of the database: errors litestream reported, and failed probes of the database's replica while an upload was overdue.",
        samples: perDatabase((db) => this.#syncErrors.get(db.path) ?? 0),
      },
      {
        name: 'litestream_node_replica_unreachable_info',
        type: 'gauge',
        help: 'Present while the replica cannot be reached, labelled with what failed first: refused, timeout, dns, credentials, server-error, reset, wrong-region, no-bucket or other (always 1).',
        samples: status.lastError ? [{ labels: { kind: status.lastError.kind }, value: 1 }] : [],
      },
      {
        name: 'litestream_node_restore_info',
        type: 'gauge',
        help: 'How the boot restore of the database ended: exists, restored, no-backup, disabled or failed (always 1).',
        samples: [...this.#restores].map(([path, record]) => ({
          labels: { database: label(path), outcome: record.outcome },
          value: 1,
        })),
      },
      {
        name: 'litestream_node_restore_duration_seconds',
        type: 'gauge',
        help: 'How long the boot restore of the database took.',
        samples: [...this.#restores].map(([path, record]) => ({
          labels: { database: label(path) },
          value: seconds(record.durationMs),
        })),
      },
      {
        name: 'litestream_node_lease_info',
        type: 'gauge',
        help: 'The replica lease: held, late, paused, lost, released or off (always 1).',
        samples: [{ labels: { state: status.lease.state }, value: 1 }],
      },
      ...this.#finalSyncFamilies(),
    ];
    return renderExposition(families);
  }

  #finalSyncFamilies(): MetricFamily[] {
    const result = this.#finalSync;
    if (!result) return [];
    return [
      {
        name: 'litestream_node_final_sync_clean',
        type: 'gauge',
        help: "Whether the last stop's final sync reached the replica for every database.",
        samples: [{ value: result.clean ? 1 : 0 }],
      },
      {
        name: 'litestream_node_final_sync_killed',
        type: 'gauge',
        help: 'Whether litestream was killed at the last stop before its final sync finished.',
        samples: [{ value: result.killed ? 1 : 0 }],
      },
      {
        name: 'litestream_node_final_sync_duration_seconds',
        type: 'gauge',
        help: 'How long the last stop, with its final sync, took.',
        samples: [{ value: result.durationMs / 1000 }],
      },
    ];
  }
}
