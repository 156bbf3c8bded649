/**
 * litestream-node: keep a Node app's SQLite databases in S3 with Litestream.
 *
 * ```ts
 * import { configFromEnv, ensureRestored, startReplication } from 'litestream-node';
 *
 * const config = configFromEnv(process.env, {
 *   databases: ['storage/production.sqlite3', 'storage/production_queue.sqlite3'],
 * });
 * await ensureRestored(config);          // restore what is missing, before opening it
 * const replication = startReplication(); // stream every change to S3
 * // … run the app …
 * await replication.stop();               // final sync, then exit
 * ```
 *
 * @packageDocumentation
 */

export type { UnhealthyCause } from './alerts/causes.js';
export type { AlertPayload } from './alerts/health-alerts.js';
export type { LoadedConfigFile } from './config/config-file.js';
export { DEFAULTS } from './config/defaults.js';
export { defineConfig, isLitestreamConfig } from './config/define.js';
export { configFromEnv, ENV, type Env } from './config/from-env.js';
export { Secret } from './config/secret.js';
export type {
  AlertOptions,
  AlertSettings,
  DatabaseConfig,
  DatabaseOptions,
  FileReplicaConfig,
  FileReplicaOptions,
  LeaseOptions,
  LeaseSettings,
  LitestreamConfig,
  LitestreamOptions,
  OffLeaseSettings,
  RestorePolicyOptions,
  S3ReplicaConfig,
  S3ReplicaOptions,
  SupervisorOptions,
  TakenLeaseSettings,
} from './config/types.js';
export {
  BINARY_ENV,
  type BinarySource,
  type LitestreamBinary,
  type LitestreamFamily,
  resolveBinary,
  SUPPORTED_VERSIONS,
} from './engine/binary.js';
export type { DatabaseStatus } from './engine/engine.js';
export {
  type ConfigIssue,
  CredentialsError,
  FileSystemError,
  type LeaseHolderInfo,
  LitestreamAbortError,
  LitestreamBinaryError,
  LitestreamConfigError,
  LitestreamError,
  type LitestreamErrorOptions,
  LitestreamVersionError,
  MetricNameClashError,
  type MetricNameTaken,
  MetricsRegistryError,
  ReplicaFormatError,
  ReplicaLeaseError,
  ReplicationError,
  ReplicaUnreachableError,
  RestoreError,
  StaleDatabaseError,
  SyncError,
  VerificationError,
} from './errors.js';
export {
  type BackupRow,
  backups,
  type DatabaseRow,
  databases,
  type GenerationRow,
  generations,
  type ListingOptions,
  type LtxRow,
  ltx,
  type SnapshotRow,
  snapshots,
  type WalRow,
  wal,
} from './inspect/listings.js';
export type { LeaseWaitEvent } from './lease/keeper.js';
export {
  backupStatus,
  ensureRestored,
  Litestream,
  type MetricsOptions,
  registerMetrics,
  restore,
  startReplication,
  verify,
} from './litestream.js';
export { consoleLogger, type Logger, type LogLevel, silentLogger } from './logging/logger.js';
export type { MetricsRegistration, PrometheusRegistry } from './metrics/registry.js';
export type { LitestreamLogLine } from './process/log-lines.js';
export type { ReplicaFailureKind } from './replica/failure-cause.js';
export type { BackupStatus } from './replication/backup-status.js';
export type { ReplicaFailure } from './replication/outage.js';
export type {
  Replication,
  ReplicationEvents,
  ReplicationLeaseStatus,
  ReplicationState,
  ReplicationStatus,
  StopOptions,
  StopResult,
  SyncedDatabase,
  SyncOptions,
  SyncResult,
} from './replication/types.js';
export type { VerificationReport, VerifyOptions } from './replication/verify.js';
export type { EnsureRestoredOptions, RestoreOutcome, RestoreResult } from './restore/ensure-restored.js';
export type { PointInTimeResult, RestoreOptions } from './restore/point-in-time.js';
