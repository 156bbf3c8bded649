/**
 * What failed when the replica could not be written or read: told apart finely enough for an
 * operator to act on (a refused connection is a server down, a DNS failure a name or network
 * problem, rejected credentials a key to rotate), from litestream's error text, an error of
 * this library's own S3 requests, or a lease error's text.
 *
 * @packageDocumentation
 */
import type { S3Failure } from './s3/failures.js';

/**
 * What failed:
 * - `refused`: nothing accepts connections at the endpoint (the server is down);
 * - `timeout`: the server accepted the connection, or was being connected to, and did not answer in time;
 * - `dns`: the endpoint's host name did not resolve;
 * - `credentials`: the server rejected the credentials (or the key lacks permissions);
 * - `server-error`: the server answered with a 5xx (or asked to slow down);
 * - `reset`: an open connection was cut;
 * - `wrong-region`, `no-bucket`: configuration the server named;
 * - `other`: anything else (its message says what).
 */
export type ReplicaFailureKind =
  | 'refused'
  | 'timeout'
  | 'dns'
  | 'credentials'
  | 'server-error'
  | 'reset'
  | 'wrong-region'
  | 'no-bucket'
  | 'other';

// Go: "dial tcp: lookup s3.example.invalid: no such host", or "lookup … on 10.0.0.53:53: …"
// when no resolver answers (checked before `refused`: that text can end in "connection refused").
const DNS = /\blookup [^\s:]+(?::| on )|no such host|server misbehaving|\bENOTFOUND\b|\bEAI_AGAIN\b|getaddrinfo/i;
const REFUSED = /connection refused|\bECONNREFUSED\b/i;
// versitygw answers an unknown key with 404 XAdminUserNotFound.
const CREDENTIALS =
  /InvalidAccessKeyId|XAdminUserNotFound|SignatureDoesNotMatch|AccessDenied|ExpiredToken|InvalidToken|NoCredentialProviders|no valid providers|status ?code: 40[13]\b/i;
const WRONG_REGION = /AuthorizationHeaderMalformed|IllegalLocationConstraintException|region '?"?[\w-]+'?"? is wrong/;
const NO_BUCKET = /NoSuchBucket/;
// aws-sdk-go v1 (0.3): "status code: 503"; v2 (0.5): "StatusCode: 503".
const SERVER_ERROR = /status ?code: 5\d\d|ServiceUnavailable|InternalError|SlowDown|BadGateway|GatewayTimeout/i;
const TIMEOUT =
  /timeout|timed out|deadline exceeded|\bETIMEDOUT\b|no complete answer within|awaiting headers|RequestCanceled/i;
const RESET = /connection reset|\bECONNRESET\b|broken pipe|\bEPIPE\b|\bEOF\b|socket hang up|ERR_SOCKET/i;

/** What failed, from an error's text (litestream's log, a lease error, an S3 error message). */
export function failureKindOfText(text: string): ReplicaFailureKind {
  if (DNS.test(text)) return 'dns';
  if (REFUSED.test(text)) return 'refused';
  if (WRONG_REGION.test(text)) return 'wrong-region';
  if (CREDENTIALS.test(text)) return 'credentials';
  if (NO_BUCKET.test(text)) return 'no-bucket';
  if (SERVER_ERROR.test(text)) return 'server-error';
  if (TIMEOUT.test(text)) return 'timeout';
  if (RESET.test(text)) return 'reset';
  return 'other';
}

/** What failed, from one of this library's own S3 requests. */
export function failureKindOfS3(failure: S3Failure): ReplicaFailureKind {
  if (failure.kind === 'credentials') return 'credentials';
  if (failure.kind === 'wrong-region') return 'wrong-region';
  if (failure.kind === 'no-bucket') return 'no-bucket';
  if (failure.status !== undefined && (failure.status >= 500 || failure.status === 429)) return 'server-error';
  if (failure.status !== undefined) return 'other';
  return failureKindOfText(`${failure.code ?? ''} ${failure.message}`);
}

const DESCRIPTIONS: Readonly<Record<ReplicaFailureKind, string>> = {
  refused: 'the replica refused the connection (nothing listens at the endpoint: is S3 down?)',
  timeout: 'the replica did not answer in time (S3 hangs, or the network drops packets)',
  dns: "the replica's host name does not resolve (DNS)",
  credentials: 'the replica rejected the credentials',
  'server-error': 'the replica answered with a server error (5xx)',
  reset: 'the connection to the replica was cut',
  'wrong-region': 'the replica refused a request signed for the wrong region',
  'no-bucket': "the replica's bucket does not exist",
  other: 'a request to the replica failed',
};

/** One sentence naming what failed, for status, logs and alerts. */
export function describeFailureKind(kind: ReplicaFailureKind): string {
  return DESCRIPTIONS[kind];
}
