/** Why a litestream command failed, judged from its output. */
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

// versitygw answers an unknown key with 404 XAdminUserNotFound.
const CREDENTIALS =
  /InvalidAccessKeyId|XAdminUserNotFound|SignatureDoesNotMatch|AccessDenied|ExpiredToken|InvalidToken|NoCredentialProviders|no valid providers|status code: 40[13]\b/i;
// AWS and versitygw: "AuthorizationHeaderMalformed … the region 'x' is wrong; expecting 'y'".
const WRONG_REGION = /AuthorizationHeaderMalformed|IllegalLocationConstraintException|region '?"?[\w-]+'?"? is wrong/;
const NO_BUCKET = /NoSuchBucket/;
const TRANSIENT =
  /connection refused|connection reset|broken pipe|i\/o timeout|timeout|deadline exceeded|no such host|server misbehaving|network is unreachable|TLS handshake|RequestError|send request failed|\bEOF\b|SlowDown|ServiceUnavailable|InternalError|RequestTimeout|status code: 5\d\d/i;

// lz4 frames (0.3) and LTX files (0.5) carry checksums; 0.5 checks its chain of transactions.
const DAMAGED =
  /invalid (frame |block )?checksum|checksum mismatch|non-contiguous|invalid ltx|corrupt|lz4: invalid|decompress block/i;
const ENDED_EARLY = /unexpected EOF/;
const DISK_FULL = /no space left on device|\bENOSPC\b|disk quota exceeded|\bEDQUOT\b/i;

/** Classifies a failure from litestream's error text. */
export function classifyFailure(text: string): FailureKind {
  if (DISK_FULL.test(text)) return 'disk-full';
  if (ENDED_EARLY.test(text)) return 'ended-early';
  if (DAMAGED.test(text)) return 'damaged';
  if (WRONG_REGION.test(text)) return 'wrong-region';
  if (CREDENTIALS.test(text)) return 'credentials';
  if (NO_BUCKET.test(text)) return 'no-bucket';
  if (TRANSIENT.test(text)) return 'transient';
  return 'other';
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
