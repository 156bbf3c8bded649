/**
 * A lease object that could not be read or written, as taking the lease and reading it with
 * the lease off both treat it: retried with backoff while the replica may come back, and
 * otherwise an error that names the database, the replica and the fix.
 *
 * @packageDocumentation
 */
import type { DatabaseConfig, LitestreamConfig } from '../config/types.js';
import { CredentialsError, FileSystemError, LitestreamError } from '../errors.js';
import type { Logger } from '../logging/logger.js';
import { replicaError } from '../replica/failure-messages.js';
import { s3FailureOf } from '../replica/s3/failures.js';

/** Errors of a file lease that retrying does not mend. */
const UNWRITABLE = new Set(['EACCES', 'EPERM', 'EROFS', 'ENOSPC', 'ENOTDIR']);

/** What was being done with the lease object, for the error. */
export interface LeaseCall {
  /** For a file lease: `Writing the replica lease`. */
  readonly fileDoing: string;
  /** A verb phrase completed by the database path: `take the replica lease of`. */
  readonly doing: string;
  /** What the user can rely on afterwards. */
  readonly consequence: string;
}

/**
 * How long to wait before trying the lease object again after `error` (logged as a retry),
 * or throws the error to give up with: a failure retrying does not mend, or the end of
 * `restore.retryForMs` (from `deadline`, a `Date.now()` time).
 */
export function leaseRetryDelay(
  config: LitestreamConfig,
  db: DatabaseConfig,
  where: string,
  error: unknown,
  attempt: number,
  deadline: number,
  call: LeaseCall,
  logger: Logger,
): number {
  // No credentials for the Node process, or a source of them that keeps failing: that error
  // names the sources tried (issue 29), which a generic "unreachable" would hide.
  if (error instanceof CredentialsError && (!error.transient || Date.now() >= deadline)) throw error;
  const failure = s3FailureOf(error);
  const code = (error as NodeJS.ErrnoException).code;
  if (failure === undefined && code !== undefined && UNWRITABLE.has(code)) {
    throw new FileSystemError(call.fileDoing, where, error, { database: db.path });
  }
  // 409 ConditionalRequestConflict: another conditional write to it was under way; look again.
  const kind = failure?.status === 409 ? 'transient' : (failure?.kind ?? 'transient');
  if (kind !== 'transient' || Date.now() >= deadline) {
    throw replicaError(config, db, kind, errorText(error), {
      doing: call.doing,
      attempts: attempt,
      retryForMs: config.restore.retryForMs,
      consequence: call.consequence,
    });
  }
  const delayMs = Math.min(5_000, 250 * 2 ** attempt, Math.max(0, deadline - Date.now()));
  logger.warn({ db: db.path, attempt, retryInMs: delayMs, error: errorText(error) }, 'replica unreachable; retrying');
  return delayMs;
}

/** An error's message for a log line or another error. */
export function errorText(error: unknown): string {
  if (error instanceof LitestreamError) return error.message;
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
