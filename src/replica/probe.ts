/**
 * One cheap request to a database's replica from Node, to tell within a second or two
 * whether it answers, and if not, what failed. Litestream 0.5 retries a failing upload for
 * seconds without logging anything, and neither version bounds an upload that hangs: the
 * replication asks this instead while an upload is overdue.
 *
 * @packageDocumentation
 */

import type { ReplicaLocation } from '../config/replica-location.js';
import { LitestreamAbortError } from '../errors.js';
import { describeFailureKind, failureKindOfS3, failureKindOfText, type ReplicaFailureKind } from './failure-cause.js';
import { s3BucketOf } from './location-bucket.js';
import { s3FailureOf } from './s3/failures.js';
import { listS3Pages } from './s3/operations.js';

/** What one probe found. */
export type ProbeOutcome =
  | { readonly ok: true; readonly ms: number }
  | { readonly ok: false; readonly kind: ReplicaFailureKind; readonly message: string; readonly ms: number };

/** Options of {@link probeReplica}. */
export interface ProbeOptions {
  /** The request counts as failed (`timeout`) after this long. */
  readonly timeoutMs: number;
  readonly signal?: AbortSignal | undefined;
  /** Where S3 credentials and `AWS_CA_BUNDLE` come from when the location has none. Default `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>> | undefined;
}

/**
 * Whether Node can probe `location`: an S3 replica with credentials Node can sign with. (A
 * file replica has no outage of this kind; instance roles are not read by Node.)
 */
export function canProbe(
  location: ReplicaLocation | undefined,
  env: Readonly<Record<string, string | undefined>> = process.env,
): boolean {
  return location?.type === 's3' && s3BucketOf(location, env) !== undefined;
}

/**
 * Lists one key of the replica path (ListObjectsV2, `max-keys=1`): the smallest signed
 * request that shows the endpoint resolves, accepts connections, answers, and takes the
 * credentials. Never throws, except {@link LitestreamAbortError} when `signal` aborts.
 */
export async function probeReplica(location: ReplicaLocation, options: ProbeOptions): Promise<ProbeOutcome> {
  const started = performance.now();
  const ms = () => Math.round(performance.now() - started);
  if (location.type !== 's3') return { ok: true, ms: 0 };
  const bucket = s3BucketOf(location, options.env ?? process.env);
  if (!bucket) return { ok: true, ms: 0 };
  const prefix = location.prefix === '' ? '' : `${location.prefix}/`;
  try {
    const pages = listS3Pages(bucket, {
      prefix,
      maxKeys: 1,
      timeoutMs: options.timeoutMs,
      signal: options.signal,
      env: options.env,
    });
    // One page: one request.
    await pages.next();
    await pages.return(undefined);
    return { ok: true, ms: ms() };
  } catch (error) {
    if (error instanceof LitestreamAbortError) throw error;
    const failure = s3FailureOf(error);
    const message = error instanceof Error ? error.message : String(error);
    const kind = failure ? failureKindOfS3(failure) : failureKindOfText(message);
    return { ok: false, kind, message: `${describeFailureKind(kind)}: ${message}`, ms: ms() };
  }
}
