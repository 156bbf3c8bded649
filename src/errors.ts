/**
 * Every error this library throws is a {@link LitestreamError}. Messages name the
 * database and the fix; they never contain a secret. Litestream's own output, when
 * there is any, is attached as {@link LitestreamError.detail}.
 *
 * @packageDocumentation
 */

/** The Litestream release lines this library drives, each by an engine of its own (see engine/). */
export type LitestreamFamily = '0.3' | '0.5';

/** Options shared by every error class. */
export interface LitestreamErrorOptions {
  /** The underlying error, if any. */
  cause?: unknown;
  /** Litestream's own log or stderr lines that explain the failure (already redacted). */
  detail?: string;
  /** Absolute path of the database the error concerns, if any. */
  database?: string;
}

/** Base class of every error thrown by litestream-node. */
export class LitestreamError extends Error {
  /** Litestream's own log or stderr lines that explain the failure (already redacted). */
  readonly detail: string | undefined;
  /** Absolute path of the database the error concerns, if any. */
  readonly database: string | undefined;

  constructor(message: string, options: LitestreamErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.detail = options.detail;
    this.database = options.database;
  }
}

/** One invalid configuration field. */
export interface ConfigIssue {
  /** The option path (`replica.bucket`) or environment variable (`LITESTREAM_S3_BUCKET`). */
  field: string;
  /** What is wrong and how to fix it. */
  message: string;
}

/** The options passed to `defineConfig` or `configFromEnv` are invalid. Lists every bad field. */
export class LitestreamConfigError extends LitestreamError {
  /** Every invalid field, in the order found. */
  readonly issues: readonly ConfigIssue[];

  constructor(issues: readonly ConfigIssue[]) {
    const lines = issues.map((issue) => `  - ${issue.field}: ${issue.message}`);
    super(`Invalid litestream configuration:\n${lines.join('\n')}`);
    this.issues = Object.freeze([...issues]);
  }
}

/** The litestream executable is missing, not runnable, or the wrong version. */
export class LitestreamBinaryError extends LitestreamError {}

/**
 * The replica could not be reached, or it rejected the credentials. Raised instead of
 * starting on an empty database, which would fork the backup history.
 */
export class ReplicaUnreachableError extends LitestreamError {}

/**
 * The Node process has no AWS credentials for its own S3 requests (the replica lease, the
 * replica format check), or the credential source it found failed. Static keys are looked
 * for first (options, `LITESTREAM_*`, `AWS_*`), then the AWS default chain; {@link sources}
 * names what was tried. Raised instead of skipping the checks those requests make.
 */
export class CredentialsError extends ReplicaUnreachableError {
  /** The credential sources tried, in order. */
  readonly sources: readonly string[];
  /**
   * True when a configured source failed in a way that may pass (an endpoint that did not
   * answer, or answered 5xx, or handed out expired keys): retried like an unreachable replica.
   * False when there are no credentials to be had.
   */
  readonly transient: boolean;

  constructor(message: string, sources: readonly string[], transient: boolean, options: LitestreamErrorOptions = {}) {
    super(message, options);
    this.sources = Object.freeze([...sources]);
    this.transient = transient;
  }
}

/**
 * `sync()` could not confirm in time that the replica holds what was committed before the
 * call: the replica did not answer (or refused), replication is not running, or this
 * instance does not hold the replica lease. The writes themselves stay committed in the
 * local database, and reach the replica with a later sync once it answers; they are only not
 * known to be durable yet. {@link databases} lists the databases not confirmed.
 */
export class SyncError extends ReplicaUnreachableError {
  /** The databases whose sync was not confirmed (absolute paths). */
  readonly databases: readonly string[];
  /** True when the call's `timeoutMs` ran out (false: it failed for the reason the message gives). */
  readonly timedOut: boolean;

  constructor(
    message: string,
    databases: readonly string[],
    timedOut: boolean,
    options: Omit<LitestreamErrorOptions, 'database'> = {},
  ) {
    super(message, { ...options, ...(databases.length === 1 ? { database: databases[0] } : {}) });
    this.databases = Object.freeze([...databases]);
    this.timedOut = timedOut;
  }
}

/**
 * A call or option that exists for one Litestream release line only was used with the other
 * (e.g. `generations()` with Litestream 0.5, which has no generations). The message names
 * the equivalent for the running version.
 */
export class LitestreamVersionError extends LitestreamError {
  /** The release line the call needs: `'0.3'` or `'0.5'`. */
  readonly requires: LitestreamFamily;
  /** The version of the litestream executable in use, as it printed it. */
  readonly running: string;

  constructor(
    call: string,
    requires: LitestreamFamily,
    running: { readonly version: string; readonly path: string },
    equivalent: string,
    options: LitestreamErrorOptions = {},
  ) {
    super(
      `${call} needs Litestream ${requires}, but ${running.path} is litestream ${running.version}: with that version, ${equivalent}.`,
      options,
    );
    this.requires = requires;
    this.running = running.version;
  }
}

/** A restore ran but did not produce a usable database (nothing was put in place). */
export class RestoreError extends LitestreamError {}

/**
 * The replica holds backups written by a Litestream version that the running one cannot
 * read (Litestream 0.3 reports a replica that 0.5 wrote as "no backup"). Raised instead of
 * starting an empty database, or restoring the older format's stale history, either of which
 * would fork the backup history. Nothing was put in place.
 */
export class ReplicaFormatError extends RestoreError {
  /** The release line that wrote the backups in the way, e.g. `'0.5'`. */
  readonly writtenBy: LitestreamFamily;

  constructor(message: string, writtenBy: LitestreamFamily, options: LitestreamErrorOptions = {}) {
    super(message, options);
    this.writtenBy = writtenBy;
  }
}

/**
 * A database already on disk does not hold its replica's newest backup: the replica has
 * writes this copy lacks (`behind`), each has writes the other lacks (`diverged`), nothing
 * shows which is newer (`unknown`), or the replica could not be compared (`unverifiable`).
 * Replicating it would put its older state over the newer backup, so nothing was replicated,
 * and nothing was changed on disk.
 */
export class StaleDatabaseError extends LitestreamError {
  readonly kind: 'behind' | 'diverged' | 'unknown' | 'unverifiable';
  /** This copy's position, in the Litestream version's terms. */
  readonly local: string | undefined;
  /** The replica's newest backup, in the Litestream version's terms. */
  readonly replica: string | undefined;

  constructor(details: {
    database: string;
    kind: StaleDatabaseError['kind'];
    /** Why, one sentence without a full stop. */
    why: string;
    local?: string | undefined;
    replica?: string | undefined;
    /** How the message names `restore.onStale`: the option, or the variable that set it. */
    setting?: string | undefined;
    cause?: unknown;
  }) {
    const { database, kind, why, local, replica } = details;
    const setting = details.setting ?? 'restore.onStale';
    const what = {
      behind: `${database} is behind its replica: ${why}`,
      diverged: `${database} and its replica have diverged: ${why}`,
      unknown: `${database} may be behind its replica: ${why}`,
      unverifiable: `${database} could not be compared with its replica's newest backup: ${why}`,
    }[kind];
    const positions = local === undefined ? '' : ` This copy: ${local}; the replica's newest: ${replica ?? 'unknown'}.`;
    const fixes =
      kind === 'unverifiable'
        ? ` Give the Node process access to the replica (the same credentials litestream uses), or set ${setting} to "keep-local" to replicate this copy without the comparison.`
        : ` If the replica holds the writes to keep (a persistent volume or a machine that came back with an old copy), set ${setting} to "restore": this copy is moved aside (kept, never deleted) and the newest backup restored in its place. If this copy is the one to keep (a deliberate rollback), set it to "keep-local" for one boot; the replica's newer writes stay restorable by point in time.`;
    super(
      `${what}.${positions} Replicating it would put this copy's state over writes the replica holds, so nothing was replicated and nothing on disk was changed.${fixes}`,
      { database, ...(details.cause === undefined ? {} : { cause: details.cause }) },
    );
    this.kind = kind;
    this.local = local;
    this.replica = replica;
  }
}

/** The replicator is already running, or could not be started or stopped. */
export class ReplicationError extends LitestreamError {}

/** The instance that holds a replica path, as its lease object names it. */
export interface LeaseHolderInfo {
  readonly host: string;
  readonly pid: number;
  /** When its process started (ISO 8601). */
  readonly startedAt: string;
  /** The litestream-node version it runs. */
  readonly version: string;
}

/**
 * Another instance holds the replica path of a database (one writer per replica): raised by
 * `ensureRestored`/`startReplication` when it is held and `lease.whenHeld` is `'refuse'`, or
 * `'wait'` ran out, or the lease is off here (`lease.mode: 'off'`) and another live instance
 * holds it; reported in `status()` when this instance lost its lease while running (or, with
 * the lease off, another instance took it).
 * Nothing was restored or replicated past that point.
 */
export class ReplicaLeaseError extends LitestreamError {
  /** Who holds it; undefined when the lease object is not one litestream-node wrote. */
  readonly holder: LeaseHolderInfo | undefined;
  /** The replica path, e.g. `s3://bucket/app/production.sqlite3`. */
  readonly replica: string;

  constructor(
    message: string,
    replica: string,
    holder: LeaseHolderInfo | undefined,
    options: LitestreamErrorOptions = {},
  ) {
    super(message, options);
    this.replica = replica;
    this.holder = holder;
  }
}

/** An end-to-end backup verification failed; `step` names the step. */
export class VerificationError extends LitestreamError {
  /** The verification step that failed. */
  readonly step: string;

  constructor(step: string, message: string, options: LitestreamErrorOptions = {}) {
    super(message, options);
    this.step = step;
  }
}

/**
 * An operation was given up on through its `AbortSignal`. Like Node's own, its `name` is
 * `'AbortError'` and its `code` is `'ABORT_ERR'`; `cause` is the signal's reason. Whatever
 * the operation had started is cleaned up before it rejects.
 */
export class LitestreamAbortError extends LitestreamError {
  readonly code = 'ABORT_ERR';

  constructor(what: string, reason: unknown, options: Omit<LitestreamErrorOptions, 'cause'> = {}) {
    super(`${what} was aborted${describeReason(reason)}; everything it had started was cleaned up.`, {
      ...options,
      cause: reason,
    });
    this.name = 'AbortError';
  }
}

function describeReason(reason: unknown): string {
  if (reason instanceof Error && reason.name !== 'AbortError') return ` (${reason.message})`;
  if (typeof reason === 'string') return ` (${reason})`;
  return '';
}

/**
 * A file or directory the library must write (beside a database, or in the temp
 * directory) could not be written: the message names the path, the cause and the fix.
 */
export class FileSystemError extends LitestreamError {
  /** The path that could not be written. */
  readonly path: string;
  /** The system error code, e.g. `EACCES`, `EROFS`, `ENOSPC`. */
  readonly code: string | undefined;

  constructor(doing: string, file: string, cause: unknown, options: Omit<LitestreamErrorOptions, 'cause'> = {}) {
    const code = (cause as NodeJS.ErrnoException | undefined)?.code;
    super(`${doing} ${file} failed: ${explainCode(code, cause)}. ${fixFor(code, file)}`, { ...options, cause });
    this.path = file;
    this.code = code;
  }
}

function explainCode(code: string | undefined, cause: unknown): string {
  switch (code) {
    case 'EACCES':
    case 'EPERM':
      return `permission denied (${code})`;
    case 'EROFS':
      return 'the file system is read-only (EROFS)';
    case 'ENOSPC':
      return 'the disk is full (ENOSPC)';
    case 'ENOENT':
      return 'a directory on the way does not exist (ENOENT)';
    case 'ENOTDIR':
      return 'a part of the path is a file, not a directory (ENOTDIR)';
    default:
      return cause instanceof Error ? cause.message : String(cause);
  }
}

function fixFor(code: string | undefined, file: string): string {
  const dir = file.endsWith('/') ? file : file.slice(0, file.lastIndexOf('/')) || '/';
  switch (code) {
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
      return `Make ${dir} writable by the user the app runs as (uid ${process.getuid?.() ?? '?'}): Litestream and litestream-node keep state files beside each database, and temp files in the system temp directory (TMPDIR).`;
    case 'ENOSPC':
      return `Free space on the disk that holds ${dir}.`;
    default:
      return `Check that ${dir} exists and is a writable directory.`;
  }
}

/**
 * `registerMetrics` (or an adapter's `metricsRegistry` option) was given something that is
 * not a prom-client `Registry`. Nothing was registered.
 */
export class MetricsRegistryError extends LitestreamError {
  /** What the registry was passed as, e.g. `registerMetrics(registry)` or the option `metricsRegistry`. */
  readonly setting: string;

  constructor(setting: string, given: unknown, options: LitestreamErrorOptions = {}) {
    super(
      `${setting} must be a prom-client Registry (prom-client's default \`register\`, or a \`new Registry()\`), but it is ${describeGiven(given)}. Install prom-client 15 in the app (\`npm install prom-client\`) and pass its registry, e.g. \`import { register } from 'prom-client'\`.`,
      options,
    );
    this.setting = setting;
  }
}

function describeGiven(given: unknown): string {
  if (given === null || given === undefined) return String(given);
  if (typeof given === 'function') return 'a function (a class? pass an instance: `new Registry()`)';
  if (typeof given === 'object') return 'an object without registerMetric, getSingleMetric and removeSingleMetric';
  return `a ${typeof given}`;
}

/** A metric name that a registry already holds, and whether litestream-node's own collector holds it. */
export interface MetricNameTaken {
  readonly name: string;
  /** True when it is litestream-node's own metric, from an earlier registration in the same registry. */
  readonly ours: boolean;
}

/**
 * The prom-client registry given to `registerMetrics` (or an adapter's `metricsRegistry`
 * option) already has a metric of the name of one of litestream-node's: an earlier
 * registration in the same registry, or a metric of the app's own. Nothing was registered.
 */
export class MetricNameClashError extends LitestreamError {
  /** The names the registry already had. */
  readonly names: readonly string[];

  constructor(taken: readonly MetricNameTaken[], options: LitestreamErrorOptions = {}) {
    const ours = taken.filter((metric) => metric.ours).map((metric) => metric.name);
    const theirs = taken.filter((metric) => !metric.ours).map((metric) => metric.name);
    const reasons: string[] = [];
    if (ours.length > 0) {
      reasons.push(
        `litestream-node's metrics are already registered there (${list(ours)}): register once per registry, or call unregister() on what the first registration returned before registering again; a second Litestream instance needs a registry of its own`,
      );
    }
    if (theirs.length > 0) {
      reasons.push(
        `the registry has metrics of its own named ${list(theirs)}: rename them (names starting with litestream_node_ are litestream-node's), or give litestream-node another Registry`,
      );
    }
    super(`litestream-node's metrics were not added to the prom-client registry: ${reasons.join('; and ')}.`, options);
    this.names = Object.freeze(taken.map((metric) => metric.name));
  }
}

function list(names: readonly string[]): string {
  return names.length <= 3 ? names.join(', ') : `${names.slice(0, 3).join(', ')} and ${names.length - 3} more`;
}
