import type { MetricFamily } from './exposition.js';

/** What a metric is, without its samples: name, type and help. */
export type MetricInfo = Omit<MetricFamily, 'samples'>;

/**
 * Every metric litestream-node exposes, in the order they are written. The text output
 * (`MetricsRecorder`) and the collectors added to an app's prom-client registry
 * (`registerMetrics`) both take their names, types and help from here, so the two never differ.
 */
export const METRICS = {
  replicationUp: {
    name: 'litestream_node_replication_up',
    type: 'gauge',
    help: 'Whether litestream is running (1), or not: starting, restarting, paused (the replica lease is not held), stopped or disabled (0).',
  },
  replicationHealthy: {
    name: 'litestream_node_replication_healthy',
    type: 'gauge',
    help: 'Whether replication is healthy: running, the lease held, the replica answering, no database error, no stalled upload.',
  },
  litestreamRestartsTotal: {
    name: 'litestream_node_litestream_restarts_total',
    type: 'counter',
    help: 'Times a crashed or hung litestream was restarted since replication started.',
  },
  databaseSynced: {
    name: 'litestream_node_database_synced',
    type: 'gauge',
    help: 'Whether the replica has caught up with the database at least once since replication started.',
  },
  lastSyncTimestampSeconds: {
    name: 'litestream_node_last_sync_timestamp_seconds',
    type: 'gauge',
    help: 'Every commit before this time is in the replica (Unix time).',
  },
  lastSyncAgeSeconds: {
    name: 'litestream_node_last_sync_age_seconds',
    type: 'gauge',
    help: 'Seconds since the last sync time: the most a commit made now may lag behind in the replica once it is synced.',
  },
  replicaTxid: {
    name: 'litestream_node_replica_txid',
    type: 'gauge',
    help: 'Litestream 0.5: the last transaction id known to be in the replica.',
  },
  replicaGenerationInfo: {
    name: 'litestream_node_replica_generation_info',
    type: 'gauge',
    help: 'Litestream 0.3: the generation the database replicates to (always 1).',
  },
  uploadInFlightSeconds: {
    name: 'litestream_node_upload_in_flight_seconds',
    type: 'gauge',
    help: 'How long the oldest replica upload now in flight has been running (0 when none is).',
  },
  uploadStalled: {
    name: 'litestream_node_upload_stalled',
    type: 'gauge',
    help: 'Whether an upload in flight has run far longer than its size explains: S3 accepts connections but does not answer.',
  },
  databaseError: {
    name: 'litestream_node_database_error',
    type: 'gauge',
    help: 'Whether litestream reports an error for the database now (cleared by the next successful sync).',
  },
  syncErrorsTotal: {
    name: 'litestream_node_sync_errors_total',
    type: 'counter',
    help: "Failed syncs of the database: errors litestream reported, and failed probes of the database's replica while an upload was overdue.",
  },
  replicaUnreachableInfo: {
    name: 'litestream_node_replica_unreachable_info',
    type: 'gauge',
    help: 'Present while the replica cannot be reached, labelled with what failed first: refused, timeout, dns, credentials, server-error, reset, wrong-region, no-bucket or other (always 1).',
  },
  restoreInfo: {
    name: 'litestream_node_restore_info',
    type: 'gauge',
    help: 'How the boot restore of the database ended: exists, restored, no-backup, disabled or failed (always 1).',
  },
  restoreDurationSeconds: {
    name: 'litestream_node_restore_duration_seconds',
    type: 'gauge',
    help: 'How long the boot restore of the database took.',
  },
  leaseInfo: {
    name: 'litestream_node_lease_info',
    type: 'gauge',
    help: 'The replica lease: held, late, paused, lost, released or off (always 1).',
  },
  finalSyncClean: {
    name: 'litestream_node_final_sync_clean',
    type: 'gauge',
    help: "Whether the last stop's final sync reached the replica for every database.",
  },
  finalSyncKilled: {
    name: 'litestream_node_final_sync_killed',
    type: 'gauge',
    help: 'Whether litestream was killed at the last stop before its final sync finished.',
  },
  finalSyncDurationSeconds: {
    name: 'litestream_node_final_sync_duration_seconds',
    type: 'gauge',
    help: 'How long the last stop, with its final sync, took.',
  },
} as const satisfies Record<string, MetricInfo>;

/** {@link METRICS} as a list, in their order. */
export const METRIC_INFOS: readonly MetricInfo[] = Object.values(METRICS);
