/**
 * Why an S3 request of the Node process failed: the failure classes (the same kinds the
 * library gives litestream's own errors), and the typed error each one becomes.
 *
 * @packageDocumentation
 */
import type http from 'node:http';
import { redact } from '../../config/secret.js';
import { LitestreamError, ReplicaUnreachableError } from '../../errors.js';
import type { S3Credentials } from '../credentials.js';
import type { FailureKind } from '../failure-cause.js';
import type { S3Bucket } from './bucket.js';
import { xmlText } from './xml.js';

/**
 * Why an S3 request failed, in a form a caller can branch on. Never holds a secret: the
 * server's message is redacted of the access key id, the secret and the session token.
 */
export interface S3Failure {
  /** The same classification the library applies to litestream's own errors. */
  readonly kind: FailureKind;
  /** HTTP status, when the server answered. */
  readonly status: number | undefined;
  /** S3 error code (`SignatureDoesNotMatch`, `NoSuchBucket`, …), or a Node error code (`ECONNREFUSED`, `ETIMEDOUT`). */
  readonly code: string | undefined;
  /** The server's or the socket's message. */
  readonly message: string;
  /** The region the server said the bucket is in, when it said so. */
  readonly bucketRegion: string | undefined;
}

/** An answer as the failure classes read it. */
export interface S3Answer {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

/** The {@link S3Failure} behind an error thrown by the S3 requests, if it is one. */
export function s3FailureOf(error: unknown): S3Failure | undefined {
  if (!(error instanceof LitestreamError)) return undefined;
  return FAILURES.get(error);
}

// Which failure each thrown error stands for; weak, so errors are collected as usual.
const FAILURES = new WeakMap<LitestreamError, S3Failure>();

/** A failure before or without an answer. */
export function transportFailure(code: string, message: string, kind: FailureKind): S3Failure {
  return { kind, status: undefined, code, message, bucketRegion: undefined };
}

/** A failure of the socket (refused, reset, timed out, TLS). */
export function socketFailure(error: NodeJS.ErrnoException): S3Failure {
  const code = error.code ?? 'ERR_SOCKET';
  // Certificate problems do not pass by retrying; everything else on the socket may.
  const tls = /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_VERIFY/.test(code);
  return transportFailure(code, error.message, tls ? 'other' : 'transient');
}

/** A failure the server answered with, its message redacted of `credentials`. */
export function responseFailure(credentials: S3Credentials, response: S3Answer): S3Failure {
  const code = xmlText(response.body, 'Code');
  const serverMessage = xmlText(response.body, 'Message');
  const header = response.headers['x-amz-bucket-region'];
  const bucketRegion =
    (Array.isArray(header) ? header[0] : header) ??
    xmlText(response.body, 'Region') ??
    /expecting '([\w-]+)'/.exec(serverMessage ?? '')?.[1];
  const status = response.status;
  const message = redact(serverMessage ?? `HTTP ${status}`, [
    credentials.accessKeyId,
    credentials.secretAccessKey,
    credentials.sessionToken,
  ]);
  return { kind: classifyResponse(status, code), status, code, message, bucketRegion };
}

function classifyResponse(status: number, code: string | undefined): FailureKind {
  if (code === 'AuthorizationHeaderMalformed' || code === 'PermanentRedirect' || status === 301) return 'wrong-region';
  if (code === 'NoSuchBucket') return 'no-bucket';
  // versitygw answers an unknown key with 404 XAdminUserNotFound.
  if (
    status === 401 ||
    status === 403 ||
    /^(InvalidAccessKeyId|XAdminUserNotFound|SignatureDoesNotMatch|AccessDenied|ExpiredToken|InvalidToken)$/.test(
      code ?? '',
    )
  ) {
    return 'credentials';
  }
  if (status >= 500 || status === 429 || code === 'SlowDown' || code === 'RequestTimeout') return 'transient';
  return 'other';
}

/** The error to throw for `failure`: {@link ReplicaUnreachableError} when there is a fix to name. */
export function failureError(bucket: S3Bucket, failure: S3Failure): LitestreamError {
  const where = `s3://${bucket.bucket}${bucket.endpoint ? ` at ${bucket.endpoint}` : ''}`;
  const said = [failure.status, failure.code].filter((part) => part !== undefined).join(' ');
  const text = `${said ? `${said}: ` : ''}${failure.message}`;
  // Only the kinds about reaching the replica have a fix to name; the rest say what failed.
  const error = isReachKind(failure.kind)
    ? new ReplicaUnreachableError(`${HOW[failure.kind]} ${where} (${text}): ${FIX[failure.kind]}`, { detail: text })
    : new LitestreamError(`S3 request to ${where} failed: ${text}`, { detail: text });
  FAILURES.set(error, Object.freeze(failure));
  return error;
}

/** The failure kinds about reaching the replica. */
type ReachKind = 'credentials' | 'wrong-region' | 'no-bucket' | 'transient';

function isReachKind(kind: FailureKind): kind is ReachKind {
  return Object.hasOwn(HOW, kind);
}

const HOW: Record<ReachKind, string> = {
  credentials: 'The credentials were refused by',
  'wrong-region': 'Requests were signed for the wrong region for',
  'no-bucket': 'The bucket does not exist:',
  transient: 'Could not reach',
};

const FIX: Record<ReachKind, string> = {
  credentials: "check the access key id, the secret access key and the key's permissions.",
  'wrong-region': "set the replica's region to the bucket's region.",
  'no-bucket': 'create it, or fix the bucket name.',
  transient: 'check the endpoint and the network.',
};
