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
