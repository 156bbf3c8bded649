/**
 * Why a request to the replica failed, from an error's text: litestream's (0.3.13's
 * aws-sdk-go v1, 0.5's aws-sdk-go v2, its file and decoding errors), an error of this
 * library's own S3 requests, or a lease error's text. One table of patterns, read in one
 * order, gives the {@link FailureCause}; the restore and the outage watch each see it at the
 * grain they act on:
 *
 * - {@link classifyFailure}: the restore's {@link FailureKind} — retry (`transient`,
 *   `ended-early`), or stop and say what to fix;
 * - {@link failureKindOfText}: the outage watch's {@link ReplicaFailureKind} — what an operator
 *   looks at (a server down, a name that does not resolve, a key to rotate).
 *
 * @packageDocumentation
 */

/** Why a litestream command failed, as the restore acts on it. */
export type FailureKind =
  /** Credentials rejected or missing: retrying will not help. */
  | 'credentials'
  /** The request was signed for another region than the bucket's: a config error. */
  | 'wrong-region'
  /** The bucket does not exist. */
  | 'no-bucket'
  /** Network or server trouble that may pass: retry with backoff. */
  | 'transient'
  /** The local disk is full: retrying will not help until space is freed. */
  | 'disk-full'
  /** An object of the replica failed its checksum, or the chain of objects has a gap. */
  | 'damaged'
  /**
   * A download ended before its object did: a connection dropped mid-download (retried
   * first, as `transient` is), or an object cut short on the server.
   */
  | 'ended-early'
  /** Anything else (bad data, bad arguments). */
  | 'other';

/**
 * What failed, as the outage watch reports it:
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

/** The finest cause an error text shows; both kinds above are read from it. */
export type FailureCause =
  | 'disk-full'
  | 'ended-early'
  | 'damaged'
  | 'wrong-region'
  | 'credentials'
  | 'no-bucket'
  | 'dns'
  | 'refused'
  | 'server-error'
  | 'timeout'
  | 'reset'
  /** The network failed in a way none of the above names (unreachable network, TLS, a request not sent). */
  | 'network'
  | 'other';

/**
 * Each cause's pattern, in the order they are tried: the first that matches wins. Local
 * trouble and a damaged backup first (their texts can also hold "EOF"); then what the server
 * named (a credential chain's text can also mention a refused connection: the keys are what
 * to fix); then the network, DNS before `refused` (with no resolver answering, a DNS failure
 * ends in "connection refused").
 */
const CAUSES: readonly (readonly [Exclude<FailureCause, 'other'>, RegExp])[] = [
  ['disk-full', /no space left on device|\bENOSPC\b|disk quota exceeded|\bEDQUOT\b/i],
  // Go's io.ErrUnexpectedEOF: a body shorter than its object.
  ['ended-early', /unexpected EOF/],
  // lz4 frames (0.3) and LTX files (0.5) carry checksums; 0.5 checks its chain of transactions.
  [
    'damaged',
    /invalid (frame |block )?checksum|checksum mismatch|non-contiguous|invalid ltx|corrupt|lz4: invalid|decompress block/i,
  ],
  // AWS and versitygw: "AuthorizationHeaderMalformed … the region 'x' is wrong; expecting 'y'".
  ['wrong-region', /AuthorizationHeaderMalformed|IllegalLocationConstraintException|region '?"?[\w-]+'?"? is wrong/],
  // versitygw answers an unknown key with 404 XAdminUserNotFound. aws-sdk-go v1 (0.3):
  // "status code: 403"; v2 (0.5): "StatusCode: 403".
  [
    'credentials',
    /InvalidAccessKeyId|XAdminUserNotFound|SignatureDoesNotMatch|AccessDenied|ExpiredToken|InvalidToken|NoCredentialProviders|no valid providers|status ?code: 40[13]\b/i,
  ],
  ['no-bucket', /NoSuchBucket/],
  // Go: "dial tcp: lookup s3.example.invalid: no such host", or "lookup … on 10.0.0.53:53: …"
  // when no resolver answers; Node: ENOTFOUND, EAI_AGAIN.
  ['dns', /\blookup [^\s:]+(?::| on )|no such host|server misbehaving|\bENOTFOUND\b|\bEAI_AGAIN\b|getaddrinfo/i],
  ['refused', /connection refused|\bECONNREFUSED\b/i],
  ['server-error', /status ?code: 5\d\d|ServiceUnavailable|InternalError|SlowDown|BadGateway|GatewayTimeout/i],
  [
    'timeout',
    /timeout|timed out|deadline exceeded|\bETIMEDOUT\b|no complete answer within|awaiting headers|RequestCanceled/i,
  ],
  ['reset', /connection reset|\bECONNRESET\b|broken pipe|\bEPIPE\b|\bEOF\b|socket hang up|ERR_SOCKET/i],
  ['network', /network is unreachable|TLS handshake|RequestError|send request failed/i],
];

/** The cause an error text shows (see {@link CAUSES} for the order). */
export function failureCauseOf(text: string): FailureCause {
  for (const [cause, pattern] of CAUSES) {
    if (pattern.test(text)) return cause;
  }
  return 'other';
}

const RESTORE_KINDS: Readonly<Record<FailureCause, FailureKind>> = {
  'disk-full': 'disk-full',
  'ended-early': 'ended-early',
  damaged: 'damaged',
  'wrong-region': 'wrong-region',
  credentials: 'credentials',
  'no-bucket': 'no-bucket',
  dns: 'transient',
  refused: 'transient',
  'server-error': 'transient',
  timeout: 'transient',
  reset: 'transient',
  network: 'transient',
  other: 'other',
};

const OUTAGE_KINDS: Readonly<Record<FailureCause, ReplicaFailureKind>> = {
  'disk-full': 'other',
  // A download cut short: the connection ended before the object did.
  'ended-early': 'reset',
  damaged: 'other',
  'wrong-region': 'wrong-region',
  credentials: 'credentials',
  'no-bucket': 'no-bucket',
  dns: 'dns',
  refused: 'refused',
  'server-error': 'server-error',
  timeout: 'timeout',
  reset: 'reset',
  network: 'other',
  other: 'other',
};

/** Classifies a failed litestream command from its error text, as the restore acts on it. */
export function classifyFailure(text: string): FailureKind {
  return RESTORE_KINDS[failureCauseOf(text)];
}

/** What failed, from an error's text (litestream's log, a lease error, an S3 error message). */
export function failureKindOfText(text: string): ReplicaFailureKind {
  return OUTAGE_KINDS[failureCauseOf(text)];
}

/** What {@link failureKindOfS3} reads of one of this library's own S3 failures. */
export interface S3FailureFacts {
  readonly kind: FailureKind;
  readonly status?: number | undefined;
  readonly code?: string | undefined;
  readonly message: string;
}

/** What failed, from one of this library's own S3 requests. */
export function failureKindOfS3(failure: S3FailureFacts): ReplicaFailureKind {
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

/** The region the server said it expects, from a `wrong-region` failure's text. */
export function expectedRegion(text: string): string | undefined {
  return /expecting ['"]([\w-]+)['"]/.exec(text)?.[1];
}

/** What the credential error codes S3 servers answer mean, for messages. */
const CREDENTIAL_CODES: Readonly<Record<string, string>> = {
  InvalidAccessKeyId: 'the server knows no such access key id',
  // versitygw's answer to an unknown key.
  XAdminUserNotFound: 'the server knows no such access key id',
  SignatureDoesNotMatch: 'the secret access key does not belong to the access key id',
  AccessDenied: 'the key may not do this, or the request was signed wrongly',
  InvalidToken: 'the session token is malformed or not valid',
  ExpiredToken: 'the session token has expired',
  NoCredentialProviders: 'no credentials were found',
};

/**
 * The error code the server answered, from litestream's or the Node side's error text:
 * `InvalidToken`, `SignatureDoesNotMatch`, …, else `HTTP 403` when only the status shows.
 */
export function serverCode(text: string): string | undefined {
  // aws-sdk-go v2 (Litestream 0.5): "… https response error StatusCode: 400, …, api error InvalidToken: …"
  const api = /\bapi error ([A-Za-z]+)\b/.exec(text)?.[1];
  if (api) return api;
  const known = new RegExp(`\\b(${Object.keys(CREDENTIAL_CODES).join('|')})\\b`).exec(text)?.[1];
  if (known) return known;
  // aws-sdk-go v1 (Litestream 0.3): "Code: message\n\tstatus code: 400, request id: …"
  const v1 = /\b([A-Z][A-Za-z]+): [^\n]*\n\s*status code: \d{3}/.exec(text)?.[1];
  if (v1) return v1;
  const status = /\bstatus ?code: (\d{3})\b/i.exec(text)?.[1];
  return status ? `HTTP ${status}` : undefined;
}

/** What a credential error code means, when it is one of the common ones. */
export function credentialCodeMeaning(code: string): string | undefined {
  return Object.hasOwn(CREDENTIAL_CODES, code) ? CREDENTIAL_CODES[code] : undefined;
}
