import type { Replication, ReplicationStatus, StopResult } from '../replication/types.js';
import type { RestoreResult } from '../restore/ensure-restored.js';
import { METRICS } from './catalogue.js';
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
    this.#now = options.now ?? (() => Date.now());
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
    return renderExposition(this.families(status, label));
  }

  /**
   * Every metric of {@link METRICS}, in its order, with the samples of `status` and of what
   * was recorded; a metric with nothing to say has no samples.
   */
  families(status: ReplicationStatus, label: (database: string) => string = (database) => database): MetricFamily[] {
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
        ...METRICS.replicationUp,
        samples: [{ value: status.state === 'running' ? 1 : 0 }],
      },
      {
        ...METRICS.replicationHealthy,
        samples: [{ value: status.healthy ? 1 : 0 }],
      },
      {
        ...METRICS.litestreamRestartsTotal,
        samples: [{ value: status.restarts }],
      },
      {
        ...METRICS.databaseSynced,
        samples: perDatabase((db) => (db.synced ? 1 : 0)),
      },
      {
        ...METRICS.lastSyncTimestampSeconds,
        samples: perDatabase((db) => db.lastSyncAt && seconds(db.lastSyncAt.getTime())),
      },
      {
        ...METRICS.lastSyncAgeSeconds,
        samples: perDatabase((db) => db.lastSyncAt && Math.max(0, seconds(now - db.lastSyncAt.getTime()))),
      },
      {
        ...METRICS.replicaTxid,
        samples: perDatabase((db) => db.txid),
      },
      {
        ...METRICS.replicaGenerationInfo,
        samples: databases.flatMap((db) =>
          db.generation ? [{ labels: { database: label(db.path), generation: db.generation }, value: 1 }] : [],
        ),
      },
      {
        ...METRICS.uploadInFlightSeconds,
        samples: perDatabase((db) => (db.uploadingSince ? Math.max(0, seconds(now - db.uploadingSince.getTime())) : 0)),
      },
      {
        ...METRICS.uploadStalled,
        samples: perDatabase((db) => (status.stalled.includes(db.path) ? 1 : 0)),
      },
      {
        ...METRICS.databaseError,
        samples: perDatabase((db) => (db.lastError ? 1 : 0)),
      },
      {
        ...METRICS.syncErrorsTotal,
        samples: perDatabase((db) => this.#syncErrors.get(db.path) ?? 0),
      },
      {
        ...METRICS.replicaUnreachableInfo,
        samples: status.lastError ? [{ labels: { kind: status.lastError.kind }, value: 1 }] : [],
      },
      {
        ...METRICS.restoreInfo,
        samples: [...this.#restores].map(([path, record]) => ({
          labels: { database: label(path), outcome: record.outcome },
          value: 1,
        })),
      },
      {
        ...METRICS.restoreDurationSeconds,
        samples: [...this.#restores].map(([path, record]) => ({
          labels: { database: label(path) },
          value: seconds(record.durationMs),
        })),
      },
      {
        ...METRICS.leaseInfo,
        samples: [{ labels: { state: status.lease.state }, value: 1 }],
      },
      ...this.#finalSyncFamilies(),
    ];
    return families;
  }

  /** The last stop's final sync; without samples until a stop. */
  #finalSyncFamilies(): MetricFamily[] {
    const result = this.#finalSync;
    const sample = (value: (stop: StopResult) => number): Sample[] => (result ? [{ value: value(result) }] : []);
    return [
      { ...METRICS.finalSyncClean, samples: sample((stop) => (stop.clean ? 1 : 0)) },
      { ...METRICS.finalSyncKilled, samples: sample((stop) => (stop.killed ? 1 : 0)) },
      { ...METRICS.finalSyncDurationSeconds, samples: sample((stop) => stop.durationMs / 1000) },
    ];
  }
}
