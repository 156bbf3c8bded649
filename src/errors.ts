/**
 * Every error this library throws is a {@link LitestreamError}. Messages name the
 * database and the fix; they never contain a secret. Litestream's own output, when
 * there is any, is attached as {@link LitestreamError.detail}.
 *
 * @packageDocumentation
 */

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

/** A restore ran but did not produce a usable database (nothing was put in place). */
export class RestoreError extends LitestreamError {}

/** The replicator is already running, or could not be started or stopped. */
export class ReplicationError extends LitestreamError {}

/** An end-to-end backup verification failed; `step` names the step. */
export class VerificationError extends LitestreamError {
  /** The verification step that failed. */
  readonly step: string;

  constructor(step: string, message: string, options: LitestreamErrorOptions = {}) {
    super(message, options);
    this.step = step;
  }
}
