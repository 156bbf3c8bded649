import { HealthAlerts } from './alerts/health-alerts.js';
import { defineConfig, isLitestreamConfig } from './config/define.js';
import type { LitestreamConfig, LitestreamOptions } from './config/types.js';
import { LitestreamError, ReplicationError, SyncError } from './errors.js';
import {
  type BackupRow,
  backups,
  type DatabaseRow,
  databases,
  findDatabase,
  type GenerationRow,
  generations,
  type LtxRow,
  ltx,
  type SnapshotRow,
  snapshots,
  type WalRow,
  wal,
} from './inspect/listings.js';
import { LeaseKeeper } from './lease/keeper.js';
import { LineageMemo } from './lineage/check.js';
import { type MetricFamily, PROMETHEUS_CONTENT_TYPE, renderExposition } from './metrics/exposition.js';
import { databaseLabels } from './metrics/labels.js';
import { MetricsRecorder } from './metrics/recorder.js';
import { addCollectors, type MetricsRegistration, type PrometheusRegistry } from './metrics/registry.js';
import { releaseDatabases, useDatabases, usedByAnother } from './process/database-users.js';
import { releaseClaim } from './process/pidfile.js';
import { type BackupStatus, backupStatus as inspectBackups } from './replication/backup-status.js';
import { disabledSync, idleStatus, NOTHING_TO_STOP } from './replication/idle.js';
import { replicate } from './replication/replicate.js';
import type {
  Replication,
  ReplicationStatus,
  StopOptions,
  StopResult,
  SyncOptions,
  SyncResult,
} from './replication/types.js';
import { type VerificationReport, type VerifyOptions, verify as verifyBackup } from './replication/verify.js';
import {
  type EnsureRestoredOptions,
  type RestoreHoldings,
  type RestoreResult,
  RestoresInFlight,
  ensureRestored as restoreDatabases,
} from './restore/ensure-restored.js';
import { API_NAMES, type PointInTimeResult, type RestoreOptions, restoreNamed } from './restore/point-in-time.js';

/**
 * What one instance holds from its boot's restore to its stop: its replica leases, what it
 * found current, its restores under way, its replications and their metrics. The
 * {@link Litestream} class has one; the module functions share one default (`byDefault`).
 */
class Holdings implements RestoreHoldings {
  readonly leases = new LeaseKeeper();
  readonly lineage = new LineageMemo(this.leases);
  readonly restores = new RestoresInFlight();
  readonly metrics = new MetricsRecorder();
  readonly #replications = new Map<string, { readonly config: LitestreamConfig; readonly replication: Replication }>();
  /** The config of the last restore or replication, for `startReplication()` and the metrics. */
  lastConfig: LitestreamConfig | undefined;
  /** The replication started last and its config, for the metrics. */
  lastReplication: { readonly config: LitestreamConfig; readonly replication: Replication } | undefined;

  replicates(database: string): boolean {
    return this.#replications.has(database);
  }

  replicationOf(database: string): Replication | undefined {
    return this.#replications.get(database)?.replication;
  }

  /** Restores missing databases, and records how it went in the metrics. */
  async ensureRestored(config: LitestreamConfig, options: EnsureRestoredOptions | undefined): Promise<RestoreResult[]> {
    this.lastConfig = config;
    const paths = config.databases.map((db) => db.path);
    if (config.enabled) useDatabases(paths, this);
    const startedAt = Date.now();
    try {
      const results = await restoreDatabases(config, options ?? {}, this);
      this.metrics.recordRestore(results);
      return results;
    } catch (error) {
      const database = error instanceof LitestreamError ? error.database : undefined;
      this.metrics.recordRestoreFailure(database ? [database] : paths, Date.now() - startedAt);
      throw error;
    } finally {
      // Kept while a lease taken here waits for the replication that follows.
      this.#releaseIdle(config);
    }
  }

  /**
   * Starts a supervised replicator for `config`, or returns the one running for it; a
   * config that shares a database with a running one is refused, so there are never two
   * replicators on one database.
   */
  startReplication(config: LitestreamConfig): Replication {
    this.lastConfig = config;
    for (const db of config.databases) {
      const existing = this.#replications.get(db.path);
      if (!existing) continue;
      if (existing.config === config) return existing.replication;
      throw new ReplicationError(
        `${db.path} is already being replicated by this process with another config: stop that replication first, or reuse its handle.`,
        { database: db.path },
      );
    }
    if (!config.enabled)
      return this.#watched(
        config,
        replicate(config, this, () => {}),
      );
    useDatabases(
      config.databases.map((db) => db.path),
      this,
    );
    const replication = replicate(config, this, () => {
      for (const db of config.databases) {
        if (this.#replications.get(db.path)?.replication === replication) this.#replications.delete(db.path);
      }
      // Other instances may use the files at once; the leases of a start given up before it
      // took the boot's over follow (stop() awaits the same; this covers a handle stopped on
      // its own, as the module functions' users do).
      this.#releaseIdle(config);
      void this.#giveBack(config).catch(() => {});
    });
    for (const db of config.databases) this.#replications.set(db.path, { config, replication });
    if (config.alerts) {
      const alerts = new HealthAlerts(config.alerts, { status: () => replication.status(), logger: config.logger });
      alerts.start();
      replication.once('stopped', () => {
        alerts.stop().catch(() => {});
      });
    }
    return this.#watched(config, replication);
  }

  #watched(config: LitestreamConfig, replication: Replication): Replication {
    this.metrics.watch(replication);
    this.lastReplication = { config, replication };
    return replication;
  }

  /**
   * Stops `config`'s replication after its final sync, or, when none runs, releases the
   * leases and claims an {@link ensureRestored} took for a replication that never followed.
   */
  async stop(
    config: LitestreamConfig,
    options: StopOptions | undefined,
    replication?: Replication,
  ): Promise<StopResult> {
    const running = new Set<Replication>(replication ? [replication] : []);
    for (const db of config.databases) {
      const one = this.replicationOf(db.path);
      if (one) running.add(one);
    }
    const results = await Promise.all([...running].map((one) => one.stop(options)));
    // What no replication holds now — a restore no replication followed, or a start given up
    // before it took the boot's leases over — is given back all the same; never what another
    // instance of this process uses.
    await this.#giveBack(config);
    return results[0] ?? NOTHING_TO_STOP;
  }

  /**
   * Gives back the leases and claims of `config`'s databases that no replication of this
   * instance holds (never those another instance of this process uses), then lets other
   * instances use them.
   */
  async #giveBack(config: LitestreamConfig): Promise<void> {
    const idle = config.databases.filter((db) => !this.replicates(db.path) && !usedByAnother(db.path, this));
    await Promise.all([this.leases.release(idle), ...idle.map((db) => releaseClaim(db.path))]);
    this.#releaseIdle(config);
  }

  /** Lets other instances use the databases of `config` this one neither replicates nor holds a lease of. */
  #releaseIdle(config: LitestreamConfig): void {
    const idle = config.databases
      .filter((db) => !this.replicates(db.path) && !this.leases.holds(db.path) && !this.restores.get(db.path))
      .map((db) => db.path);
    releaseDatabases(idle, this);
  }

  /** The metrics of `config`'s replication (idle when there is none) and of the restores. */
  families(config: LitestreamConfig, replication: Replication | undefined, options: MetricsOptions): MetricFamily[] {
    const status = replication?.status() ?? idleStatus(config, config.enabled ? 'stopped' : 'disabled');
    const label =
      options.databaseLabel === 'path'
        ? (database: string) => database
        : databaseLabels(config.databases.map((db) => db.path));
    return this.metrics.families(status, label);
  }
}

/** What the module functions hold: one default instance, made on first use. */
let byDefault: Holdings | undefined;
const defaults = (): Holdings => {
  byDefault ??= new Holdings();
  return byDefault;
};

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
  return defaults().ensureRestored(config, options);
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
export function startReplication(config?: LitestreamConfig | undefined): Replication {
  const holdings = defaults();
  const chosen = config ?? holdings.lastConfig;
  if (chosen === undefined) {
    throw new ReplicationError(
      'startReplication() has no config: call ensureRestored(config) first, or pass the config to startReplication(config).',
    );
  }
  return holdings.startReplication(chosen);
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
  const holdings = defaults();
  return addCollectors(registry, () => {
    const config = holdings.lastReplication?.config ?? holdings.lastConfig;
    if (config === undefined) return [];
    return holdings.families(config, holdings.lastReplication?.replication, options);
  });
}

/**
 * Point-in-time recovery: restores `database` as it was at `timestamp`, or at a
 * `generation` (and `index`), into `output`. The result goes through a temp file and an
 * integrity check, and never replaces an existing file.
 *
 * @throws {@link LitestreamError} naming the bad option (a timestamp that is not a date or
 * lies in the future, an index that is not hex, a generation the replica does not have,
 * an existing output file).
 * @throws {@link RestoreError} when no backup matches, or the result fails its integrity check.
 */
export function restore(config: LitestreamConfig, options: RestoreOptions): Promise<PointInTimeResult> {
  return restoreNamed(config, options, API_NAMES, defaults().lineage);
}

/**
 * The backup state of every database: whether it is being replicated (by the module
 * functions' replication, or by another live process), its newest backup and lag from the
 * replica listing, and — when the module functions replicate it — its last sync, restarts
 * and last error. For a {@link Litestream} instance, use its own {@link Litestream.backupStatus}.
 *
 * @throws {@link ReplicaUnreachableError} when the replica cannot be read.
 */
export function backupStatus(config: LitestreamConfig): Promise<BackupStatus[]> {
  const holdings = defaults();
  return inspectBackups(config, (database) => holdings.replicationOf(database));
}

/**
 * Proves the backup of `database` works end to end: writes a sentinel row, waits until
 * the replicator has synced it (restoring the replica after each reported sync until the
 * row is there — no fixed sleep), checks the restored copy with `PRAGMA integrity_check`,
 * then removes the sentinel and every temp file. Needs replication running: `replication`,
 * else the module functions' ({@link startReplication}), else another live process's (then
 * the replica is polled).
 *
 * @throws {@link VerificationError} whose `step` says what failed: `replicating`,
 * `write-sentinel`, `sync`, `restore` or `integrity`.
 */
export function verify(
  config: LitestreamConfig,
  database: string,
  options: VerifyOptions = {},
  replication: Replication | undefined = undefined,
): Promise<VerificationReport> {
  const path = findDatabase(config, database).path;
  return verifyBackup(config, database, options, replication ?? defaults().replicationOf(path));
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
  readonly #holdings = new Holdings();

  /** @throws {@link LitestreamConfigError} when the options are invalid. */
  constructor(options: LitestreamOptions | LitestreamConfig) {
    this.config = isLitestreamConfig(options) ? options : defineConfig(options);
  }

  /** Restores missing databases; see {@link ensureRestored}. Its outcome shows in {@link Litestream.metrics}. */
  ensureRestored(options?: EnsureRestoredOptions): Promise<RestoreResult[]> {
    return this.#holdings.ensureRestored(this.config, options);
  }

  /** Starts replication, or returns the running handle. */
  startReplication(): Replication {
    const current = this.#replication;
    if (current && current.status().state !== 'stopped') return current;
    this.#replication = this.#holdings.startReplication(this.config);
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
    return this.#holdings.families(this.config, this.#replication, options);
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

  /**
   * Resolves once every transaction committed before the call is in the replica; see
   * {@link Replication.sync}. With litestream disabled it resolves at once; before
   * `startReplication()` (or after `stop()`) it rejects with a `SyncError`.
   */
  sync(options?: SyncOptions): Promise<SyncResult> {
    if (this.#replication) return this.#replication.sync(options);
    if (!this.config.enabled) return Promise.resolve(disabledSync(this.config, options));
    const databases = this.config.databases.map((db) => db.path);
    return Promise.reject(
      new SyncError(
        'sync() was called before startReplication(): nothing replicates these databases yet. Start replication first (the adapters start it before the server listens).',
        databases,
        false,
      ),
    );
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
    return inspectBackups(this.config, (database) => this.#holdings.replicationOf(database));
  }

  /** Proves the backup of `database` works end to end; see {@link verify}. */
  verify(database: string, options?: VerifyOptions): Promise<VerificationReport> {
    return verifyBackup(this.config, database, options ?? {}, this.#replication);
  }

  /** Point-in-time recovery; see {@link restore}. */
  restore(options: RestoreOptions): Promise<PointInTimeResult> {
    return restoreNamed(this.config, options, API_NAMES, this.#holdings.lineage);
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
    // A stopped replication answers with how its stop went.
    return this.#holdings.stop(this.config, options, this.#replication);
  }
}
