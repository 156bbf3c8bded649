/**
 * A minimal signed S3 client for the Node process itself: AWS Signature V4 and
 * ListObjectsV2, over `node:http`/`node:https`. Litestream does every upload and restore;
 * this exists so the library can look at a replica without starting litestream (to tell
 * which Litestream formats it holds). It is deliberately small: no SDK, no retries.
 *
 * `node:https` rather than `fetch`: `skipVerify` needs `rejectUnauthorized: false`, and
 * `AWS_CA_BUNDLE` needs a custom `ca`, neither of which global `fetch` takes.
 *
 * @packageDocumentation
 */
import { readFileSync } from 'node:fs';
import type http from 'node:http';
import type https from 'node:https';
import type { FailureKind } from '../classify.js';
import { LitestreamAbortError, LitestreamError, ReplicaUnreachableError } from '../errors.js';
import { loadCrypto, loadHttp } from '../load-on-use.js';
import { redact } from '../secret.js';
import { isCredentialSource, type S3CredentialSource, type S3Credentials } from './credentials.js';

export type { S3Credentials } from './credentials.js';

/** A bucket and how to reach it. */
export interface S3Bucket {
  readonly bucket: string;
  readonly region: string;
  /** An S3-compatible endpoint (`http://127.0.0.1:9000`); none means AWS. */
  readonly endpoint?: string | undefined;
  /** Path-style URLs. Defaults to true with an endpoint (as Litestream does), false for AWS. */
  readonly forcePathStyle?: boolean | undefined;
  /** Accept any TLS certificate (self-signed MinIO). */
  readonly skipVerify?: boolean | undefined;
  /** Keys, or where to fetch them (the AWS default chain), each request asking it for current ones. */
  readonly credentials: S3Credentials | S3CredentialSource;
}

/** A bucket with the keys one request is signed with. */
type SignedBucket = S3Bucket & { readonly credentials: S3Credentials };

/** Per-request options. */
export interface S3CallOptions {
  signal?: AbortSignal | undefined;
  /** Give up on one request (connect to last byte) after this long. Default 10 000. */
  timeoutMs?: number | undefined;
  /** Where `AWS_CA_BUNDLE` is read from. Default `process.env`. */
  env?: Readonly<Record<string, string | undefined>> | undefined;
}

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

/** One object of a listing. */
export interface S3Object {
  readonly key: string;
  readonly size: number;
  readonly lastModified: Date;
}

/** A listing of one prefix. */
export interface S3Listing {
  /** Common prefixes (with their trailing delimiter), when listed with a delimiter. */
  readonly prefixes: readonly string[];
  readonly objects: readonly S3Object[];
  /** False when the listing stopped before its end (`maxPages`, or a page that is not the last). */
  readonly complete: boolean;
}

/** What to list. */
export interface ListOptions extends S3CallOptions {
  /** Key prefix, usually ending in `/`. */
  prefix: string;
  /** Default `/`; `null` lists every key below the prefix. */
  delimiter?: string | null;
  /** Stop after this many pages (requests). Default: follow every continuation token. */
  maxPages?: number;
  /** Keys per page (the server may return fewer). Default 1000, the S3 maximum. */
  maxKeys?: number;
}

/**
 * A precondition on a write or a delete. Only these two forms: servers disagree on the
 * others (versitygw answers `If-None-Match: <etag>` with 501 and `If-Match: *` wrongly).
 */
export type S3Precondition =
  /** Only if the key does not exist (`If-None-Match: *`). */
  | { readonly ifAbsent: true }
  /** Only if the object is still the one with this ETag (`If-Match`). */
  | { readonly ifMatch: string };

/** An object as a GET read it. */
export interface S3ObjectRead {
  readonly body: string;
  readonly etag: string;
}

/** What a conditional write came to. */
export type S3WriteOutcome =
  | { readonly written: true; readonly etag: string }
  /**
   * The precondition failed: the key exists (`ifAbsent`), or holds another object or none
   * (`ifMatch`: 412, or 404 on servers that say so for a missing key).
   */
  | { readonly written: false; readonly status: number };

const DEFAULT_TIMEOUT_MS = 10_000;
// A listing page of 1000 keys is a few hundred KiB; anything far larger is not S3 talking.
const MAX_RESPONSE_BYTES = 16 * 1024 * 1024;
const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/**
 * Lists `prefix` with ListObjectsV2, following continuation tokens. Throws a
 * {@link LitestreamError} (see {@link s3FailureOf}) when the server refuses or cannot be
 * reached, and a {@link LitestreamAbortError} when `signal` aborts.
 */
export async function listS3Prefix(bucket: S3Bucket, options: ListOptions): Promise<S3Listing> {
  const prefixes: string[] = [];
  const objects: S3Object[] = [];
  let pages = 0;
  for await (const page of listS3Pages(bucket, options)) {
    prefixes.push(...page.prefixes);
    objects.push(...page.objects);
    pages++;
    if (page.complete) return { prefixes, objects, complete: true };
    if (options.maxPages !== undefined && pages >= options.maxPages) break;
  }
  return { prefixes, objects, complete: false };
}

/**
 * The same listing one page (one request) at a time, for callers that can stop early;
 * `complete` is true on the last page. Stopping the iteration sends no further request.
 */
export async function* listS3Pages(bucket: S3Bucket, options: ListOptions): AsyncGenerator<S3Listing> {
  const delimiter = options.delimiter === undefined ? '/' : options.delimiter;
  let token: string | undefined;
  for (;;) {
    const query: Record<string, string> = {
      'list-type': '2',
      prefix: options.prefix,
      'max-keys': String(options.maxKeys ?? 1000),
    };
    if (delimiter !== null) query.delimiter = delimiter;
    if (token !== undefined) query['continuation-token'] = token;
    const response = await s3Call(bucket, { method: 'GET', query }, options);
    // An answer that is not a listing (a proxy's or a website's page) must not read as "empty".
    if (!/<ListBucketResult[\s>]/.test(response.body)) {
      throw failureError(bucket, {
        kind: 'other',
        status: response.status,
        code: 'NotAListing',
        message: `the answer is not an S3 listing (it starts with ${JSON.stringify(response.body.slice(0, 60))}): check the endpoint`,
        bucketRegion: undefined,
      });
    }
    const page = parseListing(response.body);
    const complete = !page.truncated;
    // A truncated page without a token would loop forever; such a server is broken.
    if (!complete && !page.nextToken) {
      throw failureError(bucket, {
        kind: 'other',
        status: response.status,
        code: 'MissingContinuationToken',
        message: 'the listing is truncated but has no NextContinuationToken',
        bucketRegion: undefined,
      });
    }
    yield { prefixes: page.prefixes, objects: page.objects, complete };
    if (complete) return;
    token = page.nextToken;
  }
}

/** The {@link S3Failure} behind an error thrown by this module, if it is one. */
export function s3FailureOf(error: unknown): S3Failure | undefined {
  if (!(error instanceof LitestreamError)) return undefined;
  return FAILURES.get(error);
}

const FAILURES = new WeakMap<LitestreamError, S3Failure>();

interface S3Response {
  status: number;
  headers: http.IncomingHttpHeaders;
  readonly bytes: Buffer;
  /** `bytes` as text. */
  readonly body: string;
}

interface CallRequest {
  method: string;
  /** Object key; none for a bucket request. */
  key?: string;
  query?: Record<string, string>;
  /** Further headers (lower-case names), signed with the rest. */
  headers?: Record<string, string>;
  body?: string;
  /** Statuses that are answers, not failures (a failed precondition, a missing key). */
  answers?: readonly number[];
  /** The largest answer taken. Default 16 MiB. */
  maxBytes?: number;
}

/**
 * One signed request. A wrong region named by the server (`x-amz-bucket-region`, as AWS
 * sends with a 301 or a 400 AuthorizationHeaderMalformed) is retried once with that region,
 * which is how the AWS SDKs find a bucket's region when none is configured.
 */
async function s3Call(bucket: S3Bucket, request: CallRequest, options: S3CallOptions): Promise<S3Response> {
  const source = isCredentialSource(bucket.credentials) ? bucket.credentials : undefined;
  let target: SignedBucket = source
    ? { ...bucket, credentials: await source.get({ signal: options.signal }) }
    : (bucket as SignedBucket);
  let refreshed = false;
  for (let attempt = 0; ; attempt++) {
    const response = await send(target, request, options);
    if ((response.status >= 200 && response.status < 300) || isAnswer(request, response)) return response;
    const failure = responseFailure(target, response);
    if (attempt === 0 && failure.bucketRegion && failure.bucketRegion !== target.region) {
      target = { ...target, region: failure.bucketRegion };
      continue;
    }
    // Fetched keys the server calls expired (its clock, or a revoked session): fetch new ones once.
    if (source && !refreshed && EXPIRED_KEYS.test(failure.code ?? '')) {
      refreshed = true;
      target = { ...target, credentials: await source.get({ signal: options.signal, forceRefresh: true }) };
      continue;
    }
    throw failureError(target, failure);
  }
}

/** S3 error codes for temporary keys that are no longer good. */
const EXPIRED_KEYS = /^(ExpiredToken|TokenRefreshRequired)$/;

/**
 * A status the caller takes as an answer. A 404 is one only for a missing key: a missing
 * bucket is not, nor versitygw's 404 for an unknown access key (`XAdminUserNotFound`).
 */
function isAnswer(request: CallRequest, response: S3Response): boolean {
  if (!request.answers?.includes(response.status)) return false;
  if (response.status !== 404) return true;
  const code = xmlText(response.body, 'Code');
  return code === undefined || code === 'NoSuchKey';
}

/** Where a request for `bucket` goes: host, and the canonical (already encoded) path. */
export function s3Address(bucket: S3Bucket, key = ''): { url: URL; host: string; encodedPath: string } {
  const keySegments = key === '' ? [] : key.split('/');
  const endpoint = bucket.endpoint === undefined ? undefined : parseEndpoint(bucket.endpoint);
  // Virtual-host style needs the bucket name to be a valid DNS label for TLS: names with dots are not.
  const pathStyle = bucket.forcePathStyle ?? (endpoint !== undefined || bucket.bucket.includes('.'));
  const base = endpoint ?? new URL(`https://${pathStyle ? '' : `${bucket.bucket}.`}s3.${bucket.region}.amazonaws.com`);
  if (endpoint && !pathStyle) base.hostname = `${bucket.bucket}.${endpoint.hostname}`;
  const basePath = base.pathname.replace(/\/+$/, '');
  const segments = pathStyle ? [bucket.bucket, ...keySegments] : keySegments;
  const encodedPath = `${basePath}/${segments.map(encodeRfc3986).join('/')}`;
  return { url: base, host: base.host, encodedPath };
}

function parseEndpoint(endpoint: string): URL {
  // Litestream accepts an endpoint without a scheme and uses https then.
  return new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(endpoint) ? endpoint : `https://${endpoint}`);
}

function send(bucket: SignedBucket, request: CallRequest, options: S3CallOptions): Promise<S3Response> {
  const what = `S3 ${request.method} s3://${bucket.bucket}/${request.query?.prefix ?? request.key ?? ''}`;
  if (options.signal?.aborted) return Promise.reject(new LitestreamAbortError(what, options.signal.reason));
  const { url, host, encodedPath } = s3Address(bucket, request.key);
  const body = request.body === undefined ? undefined : Buffer.from(request.body, 'utf8');
  const signed = signS3Request(
    {
      method: request.method,
      host,
      encodedPath,
      query: request.query ?? {},
      headers: {
        ...request.headers,
        ...(body === undefined ? {} : { 'content-length': String(body.length) }),
      },
      ...(body === undefined ? {} : { payloadHash: sha256Hex(body) }),
    },
    { region: bucket.region, credentials: bucket.credentials },
  );
  const secure = url.protocol === 'https:';
  const ca = secure ? caBundle(options.env ?? process.env) : undefined;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;

  return new Promise<S3Response>((resolve, reject) => {
    let settled = false;
    const finish = (error: unknown, response?: S3Response) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      if (response) resolve(response);
      else reject(error);
    };
    const fail = (failure: S3Failure) => finish(failureError(bucket, failure));
    const requestOptions: https.RequestOptions = {
      method: request.method,
      protocol: url.protocol,
      hostname: url.hostname.replace(/^\[|\]$/g, ''),
      port: url.port || undefined,
      path: `${encodedPath}${signed.queryString ? `?${signed.queryString}` : ''}`,
      headers: signed.headers,
      ...(secure ? { rejectUnauthorized: !bucket.skipVerify, ...(ca ? { ca } : {}) } : {}),
    };
    const req = loadHttp(secure).request(requestOptions, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const maxBytes = request.maxBytes ?? MAX_RESPONSE_BYTES;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > maxBytes) {
          req.destroy();
          fail(transportFailure('EMSGSIZE', `the response is larger than ${maxBytes} bytes`, 'other'));
          return;
        }
        chunks.push(chunk);
      });
      res.on('end', () => {
        const bytes = Buffer.concat(chunks);
        finish(undefined, {
          status: res.statusCode ?? 0,
          headers: res.headers,
          bytes,
          get body() {
            return bytes.toString('utf8');
          },
        });
      });
      res.on('error', (error: NodeJS.ErrnoException) => fail(socketFailure(error)));
    });
    req.on('error', (error: NodeJS.ErrnoException) => fail(socketFailure(error)));
    const onAbort = () => {
      req.destroy();
      finish(new LitestreamAbortError(what, options.signal?.reason));
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });
    // One deadline for the whole exchange: a server that accepts and then stalls (half-open)
    // must not hold the caller forever, which socket idle timeouts alone would allow.
    const timer = setTimeout(() => {
      req.destroy();
      fail(transportFailure('ETIMEDOUT', `no complete answer within ${timeoutMs} ms`, 'transient'));
    }, timeoutMs);
    req.end(body);
  });
}

/** The value of one response header. */
function header(response: S3Response, name: string): string | undefined {
  const value = response.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function preconditionHeaders(precondition: S3Precondition): Record<string, string> {
  if ('ifAbsent' in precondition) return { 'if-none-match': '*' };
  // Quoted, as servers send it: both servers the suite runs accept either form.
  const etag = precondition.ifMatch.startsWith('"') ? precondition.ifMatch : `"${precondition.ifMatch}"`;
  return { 'if-match': etag };
}

function etagOf(response: S3Response, what: string, bucket: S3Bucket): string {
  const etag = header(response, 'etag');
  if (etag === undefined || etag === '') {
    throw failureError(bucket, {
      kind: 'other',
      status: response.status,
      code: 'MissingETag',
      message: `the answer to ${what} has no ETag: this server cannot hold a lease`,
      bucketRegion: undefined,
    });
  }
  return etag;
}

/**
 * Reads one object; undefined when there is none (404). Throws as {@link listS3Prefix}
 * does for any other failure.
 */
export async function getS3Object(
  bucket: S3Bucket,
  key: string,
  options: S3CallOptions = {},
): Promise<S3ObjectRead | undefined> {
  const response = await s3Call(bucket, { method: 'GET', key, answers: [404] }, options);
  if (response.status === 404) return undefined;
  return { body: response.body, etag: etagOf(response, `GET ${key}`, bucket) };
}

/**
 * Reads one object of up to `maxBytes` as bytes; undefined when there is none (404). Throws
 * as {@link listS3Prefix} does for any other failure.
 */
export async function getS3Bytes(
  bucket: S3Bucket,
  key: string,
  options: S3CallOptions & { maxBytes: number },
): Promise<Buffer | undefined> {
  const response = await s3Call(bucket, { method: 'GET', key, answers: [404], maxBytes: options.maxBytes }, options);
  return response.status === 404 ? undefined : response.bytes;
}

/**
 * The last `bytes` bytes of one object (a ranged GET), or undefined when it is gone. Throws
 * as {@link listS3Prefix} does.
 */
export async function getS3Tail(
  bucket: S3Bucket,
  key: string,
  bytes: number,
  options: S3CallOptions = {},
): Promise<Buffer | undefined> {
  const response = await s3Call(
    bucket,
    { method: 'GET', key, headers: { range: `bytes=-${bytes}` }, answers: [404], maxBytes: 1024 * 1024 },
    options,
  );
  if (response.status === 404) return undefined;
  // A server that ignores Range sends the whole object (200): its end is the same.
  return response.bytes.subarray(Math.max(0, response.bytes.length - bytes));
}

/**
 * Writes one small object, only if `precondition` holds: a failed precondition is an
 * outcome (`written: false`), not an error. Throws as {@link listS3Prefix} does for any
 * other failure.
 */
export async function putS3Object(
  bucket: S3Bucket,
  key: string,
  body: string,
  precondition: S3Precondition,
  options: S3CallOptions = {},
): Promise<S3WriteOutcome> {
  const response = await s3Call(
    bucket,
    { method: 'PUT', key, body, headers: preconditionHeaders(precondition), answers: [404, 412] },
    options,
  );
  if (response.status === 404 || response.status === 412) return { written: false, status: response.status };
  return { written: true, etag: etagOf(response, `PUT ${key}`, bucket) };
}

/**
 * Deletes one object, only if it is still the one with `etag`. Resolves to false when the
 * precondition failed (412). A success is no proof the object was there: some servers
 * (versitygw) answer 204 for a missing key too.
 */
export async function deleteS3Object(
  bucket: S3Bucket,
  key: string,
  etag: string,
  options: S3CallOptions = {},
): Promise<boolean> {
  const response = await s3Call(
    bucket,
    { method: 'DELETE', key, headers: preconditionHeaders({ ifMatch: etag }), answers: [404, 412] },
    options,
  );
  return response.status !== 412;
}

const caBundles = new Map<string, Buffer>();

/**
 * The CA bundle named by `AWS_CA_BUNDLE` (as the AWS SDKs and Litestream 0.3 read it), else
 * by `SSL_CERT_FILE` (as Go, so Litestream 0.5, reads it): it replaces the default roots.
 * Read once per path.
 */
function caBundle(env: Readonly<Record<string, string | undefined>>): Buffer | undefined {
  const variable = env.AWS_CA_BUNDLE ? 'AWS_CA_BUNDLE' : env.SSL_CERT_FILE ? 'SSL_CERT_FILE' : undefined;
  const file = variable && env[variable];
  if (!variable || !file) return undefined;
  let bundle = caBundles.get(file);
  if (!bundle) {
    try {
      bundle = readFileSync(file);
    } catch (error) {
      throw new ReplicaUnreachableError(
        `${variable} names ${file}, which cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'}): fix the path or unset ${variable}.`,
        { cause: error },
      );
    }
    caBundles.set(file, bundle);
  }
  return bundle;
}

function transportFailure(code: string, message: string, kind: FailureKind): S3Failure {
  return { kind, status: undefined, code, message, bucketRegion: undefined };
}

function socketFailure(error: NodeJS.ErrnoException): S3Failure {
  const code = error.code ?? 'ERR_SOCKET';
  // Certificate problems do not pass by retrying; everything else on the socket may.
  const tls = /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_VERIFY/.test(code);
  return transportFailure(code, error.message, tls ? 'other' : 'transient');
}

function responseFailure(bucket: SignedBucket, response: S3Response): S3Failure {
  const code = xmlText(response.body, 'Code');
  const serverMessage = xmlText(response.body, 'Message');
  const header = response.headers['x-amz-bucket-region'];
  const bucketRegion =
    (Array.isArray(header) ? header[0] : header) ??
    xmlText(response.body, 'Region') ??
    /expecting '([\w-]+)'/.exec(serverMessage ?? '')?.[1];
  const status = response.status;
  const message = redactCredentials(serverMessage ?? `HTTP ${status}`, bucket.credentials);
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

function redactCredentials(text: string, credentials: S3Credentials): string {
  return redact(text, [credentials.accessKeyId, credentials.secretAccessKey, credentials.sessionToken]);
}

function failureError(bucket: S3Bucket, failure: S3Failure): LitestreamError {
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

/** What the server said in `<Name>…</Name>`, first occurrence. */
function xmlText(xml: string, name: string): string | undefined {
  const match = new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml);
  return match ? decodeXml(match[1] ?? '') : undefined;
}

interface ListingPage {
  prefixes: string[];
  objects: S3Object[];
  truncated: boolean;
  nextToken: string | undefined;
}

/** A ListObjectsV2 result page (`<ListBucketResult>`). */
function parseListing(xml: string): ListingPage {
  const objects: S3Object[] = [];
  for (const [, contents = ''] of xml.matchAll(/<Contents>([\s\S]*?)<\/Contents>/g)) {
    const key = xmlText(contents, 'Key');
    if (key === undefined) continue;
    objects.push({
      key,
      size: Number(xmlText(contents, 'Size') ?? 0),
      lastModified: new Date(xmlText(contents, 'LastModified') ?? 0),
    });
  }
  const prefixes: string[] = [];
  for (const [, common = ''] of xml.matchAll(/<CommonPrefixes>([\s\S]*?)<\/CommonPrefixes>/g)) {
    const prefix = xmlText(common, 'Prefix');
    if (prefix !== undefined) prefixes.push(prefix);
  }
  return {
    prefixes,
    objects,
    truncated: xmlText(xml, 'IsTruncated') === 'true',
    nextToken: xmlText(xml, 'NextContinuationToken'),
  };
}

function decodeXml(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|lt|gt|quot|apos|amp);/gi, (_match, entity: string) => {
    if (entity[0] === '#') {
      const hex = entity[1] === 'x' || entity[1] === 'X';
      return String.fromCodePoint(Number.parseInt(entity.slice(hex ? 2 : 1), hex ? 16 : 10));
    }
    return { lt: '<', gt: '>', quot: '"', apos: "'", amp: '&' }[entity.toLowerCase()] ?? '';
  });
}

// ---------------------------------------------------------------------------------------
// AWS Signature Version 4, for S3 (unsigned-payload-free: the body hash is always sent).

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

/** What to send: the headers (Host included) and the canonical, encoded query string. */
export interface SignedS3Request {
  headers: Record<string, string>;
  queryString: string;
}

/**
 * Signs one S3 request with AWS Signature Version 4 (header auth). This is the only place
 * that reads the secret access key.
 */
export function signS3Request(
  request: S3SigningRequest,
  signing: { region: string; credentials: S3Credentials; now?: Date },
): SignedS3Request {
  const { region, credentials } = signing;
  const amzDate = (signing.now ?? new Date()).toISOString().replace(/[-:]|\.\d{3}/g, '');
  const day = amzDate.slice(0, 8);
  const payloadHash = request.payloadHash ?? EMPTY_SHA256;
  const queryString = Object.entries(request.query ?? {})
    .map(([name, value]) => [encodeRfc3986(name), encodeRfc3986(value)] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, value]) => `${name}=${value}`)
    .join('&');
  const headers: Record<string, string> = {
    ...request.headers,
    host: request.host,
    'x-amz-content-sha256': payloadHash,
    'x-amz-date': amzDate,
  };
  const token = credentials.sessionToken?.reveal();
  if (token) headers['x-amz-security-token'] = token;
  const names = Object.keys(headers).sort();
  const signedHeaders = names.join(';');
  const canonicalRequest = [
    request.method,
    request.encodedPath,
    queryString,
    ...names.map((name) => `${name}:${headers[name]}`),
    '',
    signedHeaders,
    payloadHash,
  ].join('\n');
  const scope = `${day}/${region}/s3/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256Hex(canonicalRequest)].join('\n');
  const signingKey = [region, 's3', 'aws4_request'].reduce<Buffer>(
    (key, part) => hmac(key, part),
    hmac(`AWS4${credentials.secretAccessKey.reveal()}`, day),
  );
  const signature = loadCrypto().createHmac('sha256', signingKey).update(stringToSign).digest('hex');
  headers.authorization = `AWS4-HMAC-SHA256 Credential=${credentials.accessKeyId.reveal()}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
  return { headers, queryString };
}

/** Hex SHA-256, for {@link S3SigningRequest.payloadHash}. */
export function sha256Hex(data: string | Uint8Array): string {
  return loadCrypto().createHash('sha256').update(data).digest('hex');
}

/** RFC 3986 percent-encoding, as SigV4 wants it (`encodeURIComponent` leaves `!'()*` alone). */
export function encodeRfc3986(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function hmac(key: Buffer | string, data: string): Buffer {
  return loadCrypto().createHmac('sha256', key).update(data).digest();
}
