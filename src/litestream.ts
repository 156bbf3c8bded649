import { defineConfig, isLitestreamConfig, type LitestreamConfig, type LitestreamOptions } from './config/define.js';
import { LitestreamError, ReplicationError } from './errors.js';
import { type BackupStatus, backupStatus } from './inspect/backup-status.js';
import {
  type BackupRow,
  backups,
  type DatabaseRow,
  databases,
  type GenerationRow,
  generations,
  type LtxRow,
  ltx,
  type SnapshotRow,
  snapshots,
  type WalRow,
  wal,
} from './inspect/listings.js';
import { releaseLeases } from './lease/keeper.js';
import { type MetricFamily, PROMETHEUS_CONTENT_TYPE, renderExposition } from './metrics/exposition.js';
import { databaseLabels } from './metrics/labels.js';
import { MetricsRecorder } from './metrics/recorder.js';
import { addCollectors, type MetricsRegistration, type PrometheusRegistry } from './metrics/registry.js';
import { releaseClaim } from './process/pidfile.js';
import {
  idleStatus,
  NOTHING_TO_STOP,
  type Replication,
  type ReplicationStatus,
  replicate,
  runningReplication,
  type StopOptions,
  type StopResult,
} from './replication/replicate.js';
import {
  type EnsureRestoredOptions,
  type RestoreResult,
  ensureRestored as restoreDatabases,
} from './restore/ensure-restored.js';
import { type PointInTimeResult, type RestoreOptions, restore } from './restore/point-in-time.js';
import { type VerificationReport, type VerifyOptions, verify } from './restore/verify.js';

let lastConfig: LitestreamConfig | undefined;
// What registerMetrics reads for the module functions: their restores, and the replication
// startReplication started last.
const moduleMetrics = new MetricsRecorder();
let moduleReplication: { readonly config: LitestreamConfig; readonly replication: Replication } | undefined;

/** How metrics label databases: see {@link Litestream.metrics}. */
export interface MetricsOptions {
  /** `'file'` (default): by file name, with as many trailing directories as tell two apart; `'path'`: by absolute path. */
  databaseLabel?: 'file' | 'path';
}

/**
 * Makes sure every database is in place before the app opens it. See
 * {@link RestoreResult} for the outcomes. Remembers `config` for {@link startReplication}.
 * Pass `{ signal }` to give the restore up (e.g. a boot deadline): the litestream processes
 * are killed and nothing is left on disk.
 *
 * @throws {@link ReplicaUnreachableError} when the replica cannot be reached (no file is created).
 * @throws {@link RestoreError} when a restored file fails its integrity check.
 * @throws {@link LitestreamAbortError} when `options.signal` aborts it.
 */
export function ensureRestored(config: LitestreamConfig, options?: EnsureRestoredOptions): Promise<RestoreResult[]> {
  lastConfig = config;
  return restoreRecorded(config, options, moduleMetrics);
}

/**
 * Starts the supervised replicator. Without an argument it uses the config of the last
 * {@link ensureRestored} call. Calling it again with the same config returns the
 * running handle; a config that shares a database with a running one is refused.
 *
 * @example
 * ```ts
 * const config = configFromEnv(process.env, { databases: ['storage/production.sqlite3'] });
 * await ensureRestored(config);
 * const replication = startReplication();
 * // … serve requests …
 * await replication.stop();
 * ```
 */
export function startReplication(config: LitestreamConfig | undefined = lastConfig): Replication {
  if (config === undefined) {
    throw new ReplicationError(
      'startReplication() has no config: call ensureRestored(config) first, or pass the config to startReplication(config).',
    );
  }
  const replication = replicate(config);
  moduleMetrics.watch(replication);
  moduleReplication = { config, replication };
  return replication;
}

/**
 * Adds litestream-node's metrics to an app's prom-client `Registry` (prom-client 15, an
 * optional peer dependency: install it in the app), for the databases of the module
 * functions: the last {@link startReplication}, or before it the last
 * {@link ensureRestored} (until either is called, the metrics have no samples). The same
 * names, types, help and labels as {@link Litestream.metrics}' text, read from replication
 * each time the registry is scraped. For a {@link Litestream} instance, use its own
 * {@link Litestream.registerMetrics}.
 *
 * Returns the names added and `unregister()`, which takes them out again.
 *
 * @example
 * ```ts
 * import { register } from 'prom-client';
 * registerMetrics(register); // once, at startup: the app's /metrics now has litestream_node_* too
 * ```
 * @throws {@link MetricNameClashError} when the registry already has a metric of one of these
 *   names (registered twice, or an app metric of that name); nothing is added.
 * @throws {@link MetricsRegistryError} when `registry` is not a prom-client registry.
 */
export function registerMetrics(registry: PrometheusRegistry, options: MetricsOptions = {}): MetricsRegistration {
  return addCollectors(registry, () => {
    const config = moduleReplication?.config ?? lastConfig;
    if (config === undefined) return [];
    return metricFamilies(moduleMetrics, config, moduleReplication?.replication, options);
  });
}

/** The metrics of `config`'s replication (idle when there is none) and of what `recorder` recorded. */
function metricFamilies(
  recorder: MetricsRecorder,
  config: LitestreamConfig,
  replication: Replication | undefined,
  options: MetricsOptions,
): MetricFamily[] {
  const status = replication?.status() ?? idleStatus(config, config.enabled ? 'stopped' : 'disabled');
  const label =
    options.databaseLabel === 'path'
      ? (database: string) => database
      : databaseLabels(config.databases.map((db) => db.path));
  return recorder.families(status, label);
}

/** Restores missing databases, and records how it went in `recorder`. */
async function restoreRecorded(
  config: LitestreamConfig,
  options: EnsureRestoredOptions | undefined,
  recorder: MetricsRecorder,
): Promise<RestoreResult[]> {
  const startedAt = Date.now();
  try {
    const results = await restoreDatabases(config, options);
    recorder.recordRestore(results);
    return results;
  } catch (error) {
    const database = error instanceof LitestreamError ? error.database : undefined;
    recorder.recordRestoreFailure(
      database ? [database] : config.databases.map((db) => db.path),
      Date.now() - startedAt,
    );
    throw error;
  }
}

/**
 * The same lifecycle as the functions, on an instance — for apps that prefer no module
 * state, or run several independent configs.
 *
 * @example
 * ```ts
 * const litestream = new Litestream({ databases: ['data/app.db'], replica: { type: 'file', path: 'backups' } });
 * await litestream.ensureRestored();
 * litestream.startReplication();
 * process.on('SIGTERM', () => litestream.stop());
 * ```
 */
export class Litestream {
  /** The validated configuration. */
  readonly config: LitestreamConfig;
  /** The content type of {@link Litestream.metrics}' text, for an HTTP answer. */
  static readonly metricsContentType = PROMETHEUS_CONTENT_TYPE;
  #replication: Replication | undefined;
  readonly #metrics = new MetricsRecorder();

  /** @throws {@link LitestreamConfigError} when the options are invalid. */
  constructor(options: LitestreamOptions | LitestreamConfig) {
    this.config = isLitestreamConfig(options) ? options : defineConfig(options);
  }

  /** Restores missing databases; see {@link ensureRestored}. Its outcome shows in {@link Litestream.metrics}. */
  ensureRestored(options?: EnsureRestoredOptions): Promise<RestoreResult[]> {
    return restoreRecorded(this.config, options, this.#metrics);
  }

  /** Starts replication, or returns the running handle. */
  startReplication(): Replication {
    const current = this.#replication;
    if (current && current.status().state !== 'stopped') return current;
    this.#replication = replicate(this.config);
    this.#metrics.watch(this.#replication);
    return this.#replication;
  }

  /**
   * Replication's state as Prometheus metrics (text exposition format 0.0.4, content type
   * {@link Litestream.metricsContentType}): per database the last sync's time and age, the
   * replica's position, errors, uploads in flight and stalled, the boot restore's outcome and
   * duration; litestream's restarts, the lease, and the last stop's final sync. Every name
   * starts with `litestream_node_`.
   *
   * Databases are labelled by file name (`database="production.sqlite3"`; two with the same
   * name get as many trailing directories as tell them apart), so that a scrape says
   * nothing about the host's directories; `{ databaseLabel: 'path' }` labels them by
   * absolute path instead.
   */
  metrics(options: MetricsOptions = {}): string {
    return renderExposition(this.#families(options));
  }

  /**
   * Adds the metrics of {@link Litestream.metrics} to an app's prom-client `Registry`
   * (prom-client 15, an optional peer dependency: install it in the app), so that they are
   * in the app's own `/metrics`: the same names, types, help and labels, read from this
   * instance each time the registry is scraped. prom-client is not loaded by this call (the
   * registry reads the collectors as it reads its own metrics), and nothing of it is loaded
   * without it.
   *
   * Returns the names added and `unregister()`, which takes them out again (e.g. on
   * shutdown, before registering a new instance in the same registry).
   *
   * @example
   * ```ts
   * import { Registry } from 'prom-client';
   * const registry = new Registry();
   * const registration = litestream.registerMetrics(registry);
   * // GET /metrics → await registry.metrics(), with content type registry.contentType
   * registration.unregister(); // on shutdown
   * ```
   * @throws {@link MetricNameClashError} when the registry already has a metric of one of these
   *   names (this instance's or another's, registered before, or an app metric of that name);
   *   nothing is added.
   * @throws {@link MetricsRegistryError} when `registry` is not a prom-client registry.
   */
  registerMetrics(registry: PrometheusRegistry, options: MetricsOptions = {}): MetricsRegistration {
    return addCollectors(registry, () => this.#families(options));
  }

  #families(options: MetricsOptions): MetricFamily[] {
    return metricFamilies(this.#metrics, this.config, this.#replication, options);
  }

  /** The running replication, if started. */
  get replication(): Replication | undefined {
    return this.#replication;
  }

  /** Replication status; `state: 'stopped'` before start. */
  status(): ReplicationStatus {
    if (this.#replication) return this.#replication.status();
    return idleStatus(this.config, this.config.enabled ? 'stopped' : 'disabled');
  }

  /** Every point the replica of `database` can restore to, on either version; see {@link backups}. */
  backups(database: string): Promise<BackupRow[]> {
    return backups(this.config, database);
  }

  /** Litestream 0.5: the LTX files of `database` in the replica; see {@link ltx}. */
  ltx(database: string): Promise<LtxRow[]> {
    return ltx(this.config, database);
  }

  /** Litestream 0.3: the generations of `database` in the replica; throws when the replica cannot be read. */
  generations(database: string): Promise<GenerationRow[]> {
    return generations(this.config, database);
  }

  /** The snapshots of `database` in the replica; throws when the replica cannot be read. */
  snapshots(database: string): Promise<SnapshotRow[]> {
    return snapshots(this.config, database);
  }

  /** The WAL segments of `database` in the replica; throws when the replica cannot be read. */
  wal(database: string): Promise<WalRow[]> {
    return wal(this.config, database);
  }

  /** Per database: who replicates it, newest backup and lag; see {@link backupStatus}. */
  backupStatus(): Promise<BackupStatus[]> {
    return backupStatus(this.config);
  }

  /** Proves the backup of `database` works end to end; see {@link verify}. */
  verify(database: string, options?: VerifyOptions): Promise<VerificationReport> {
    return verify(this.config, database, options, this.#replication);
  }

  /** Point-in-time recovery; see {@link restore}. */
  restore(options: RestoreOptions): Promise<PointInTimeResult> {
    return restore(this.config, options);
  }

  /** The configured databases and their replicas, as litestream sees them. */
  databases(): Promise<DatabaseRow[]> {
    return databases(this.config);
  }

  /**
   * Stops replication after its final sync, then releases the replica leases and the
   * databases' pidfiles (also those of an {@link Litestream.ensureRestored} that no
   * replication followed); resolves at once when nothing runs.
   */
  async stop(options?: StopOptions): Promise<StopResult> {
    if (!this.#replication) {
      // Restored but never replicated: give the replica leases and the claims back all the same.
      const idle = this.config.databases.filter((db) => !runningReplication(db.path));
      await Promise.all([releaseLeases(idle), ...idle.map((db) => releaseClaim(db.path))]);
      return NOTHING_TO_STOP;
    }
    return this.#replication.stop(options);
  }
}
