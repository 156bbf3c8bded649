/**
 * AWS Signature Version 4 for the S3 requests the Node process makes, by `aws4` (no
 * dependencies of its own; loaded with the first request, not with the library). This is the
 * only place that reads the secret access key and the session token.
 *
 * @packageDocumentation
 */
import { loadAws4, loadCrypto } from '../../support/load-on-use.js';
import type { S3Credentials } from '../credentials.js';

/** A request to sign: where it goes and what it carries. */
export interface S3SigningRequest {
  method: string;
  /** The Host header: `host` or `host:port`. */
  host: string;
  /** The path, already percent-encoded segment by segment ({@link encodeRfc3986}). */
  encodedPath: string;
  /** Query parameters, not encoded. */
  query?: Readonly<Record<string, string>>;
  /** Hex SHA-256 of the body. Default: that of an empty body. */
  payloadHash?: string;
  /** Further headers to send and sign, lower-case names (`if-match`, `content-length`). */
  headers?: Readonly<Record<string, string>>;
}

/** What to send: the headers (Host included) and the encoded query string. */
export interface SignedS3Request {
  headers: Record<string, string>;
  queryString: string;
}

const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/**
 * Signs one S3 request (header auth; the body hash is always sent, never `UNSIGNED-PAYLOAD`).
 * `now` is the signing time: `x-amz-date` and the credential scope's day both come from it.
 */
export function signS3Request(
  request: S3SigningRequest,
  signing: { region: string; credentials: S3Credentials; now?: Date },
): SignedS3Request {
  const { credentials } = signing;
  const amzDate = (signing.now ?? new Date()).toISOString().replace(/[-:]|\.\d{3}/g, '');
  const query = encodeQuery(request.query ?? {});
  // aws4 takes the scope's day from the x-amz-date it is given, so one clock reading sets both.
  const signed = loadAws4().sign(
    {
      service: 's3',
      region: signing.region,
      method: request.method,
      host: request.host,
      // Encoded here: aws4 reads `+` in a path or query as a space, `%2B` as `+`.
      path: query ? `${request.encodedPath}?${query}` : request.encodedPath,
      headers: {
        ...request.headers,
        host: request.host,
        'x-amz-content-sha256': request.payloadHash ?? EMPTY_SHA256,
        'x-amz-date': amzDate,
      },
    },
    {
      accessKeyId: credentials.accessKeyId.reveal(),
      secretAccessKey: credentials.secretAccessKey.reveal(),
      sessionToken: credentials.sessionToken?.reveal(),
    },
  );
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(signed.headers ?? {})) {
    if (value !== undefined) headers[name] = String(value);
  }
  const path = signed.path ?? '';
  const mark = path.indexOf('?');
  return { headers, queryString: mark === -1 ? '' : path.slice(mark + 1) };
}

/** Hex SHA-256, for {@link S3SigningRequest.payloadHash}. */
export function sha256Hex(data: string | Uint8Array): string {
  return loadCrypto().createHash('sha256').update(data).digest('hex');
}

/** RFC 3986 percent-encoding, as SigV4 wants it (`encodeURIComponent` leaves `!'()*` alone). */
export function encodeRfc3986(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function encodeQuery(query: Readonly<Record<string, string>>): string {
  return Object.entries(query)
    .map(([name, value]) => `${encodeRfc3986(name)}=${encodeRfc3986(value)}`)
    .join('&');
}
