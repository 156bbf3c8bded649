/**
 * The S3 operations the Node process makes itself: ListObjectsV2, and get, conditional put
 * and conditional delete of small objects. Litestream does every upload and restore; these
 * let the library look at a replica (which Litestream formats it holds, which objects are
 * damaged) and hold its lease without starting litestream. Deliberately small: no SDK, no
 * retries beyond a wrong region and expired keys (see `transport.ts`).
 *
 * @packageDocumentation
 */
import type { S3Bucket, S3CallOptions } from './bucket.js';
import { failureError } from './failures.js';
import { header, type S3Response, s3Call } from './transport.js';
import { isListing, parseListing, type S3Object } from './xml.js';

export type { S3Object } from './xml.js';

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

/**
 * Lists `prefix` with ListObjectsV2, following continuation tokens. Throws a
 * `LitestreamError` (see `s3FailureOf`) when the server refuses or cannot be reached, and a
 * `LitestreamAbortError` when `signal` aborts.
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
    if (!isListing(response.body)) {
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
