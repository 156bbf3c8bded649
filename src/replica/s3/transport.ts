/**
 * One signed S3 request over `node:http`/`node:https`: the deadline, the abort, the size
 * limit, the CA bundle, and the one retry a wrong region or expired keys earn. No SDK.
 *
 * `node:https` rather than `fetch`: `skipVerify` needs `rejectUnauthorized: false`, and
 * `AWS_CA_BUNDLE` needs a custom `ca`, neither of which global `fetch` takes.
 *
 * @packageDocumentation
 */
import { readFileSync } from 'node:fs';
import type http from 'node:http';
import type https from 'node:https';
import { LitestreamAbortError, ReplicaUnreachableError } from '../../errors.js';
import { loadHttp } from '../../support/load-on-use.js';
import { isCredentialSource } from '../credentials.js';
import { type S3Bucket, type S3CallOptions, type SignedBucket, s3Address } from './bucket.js';
import { failureError, responseFailure, type S3Failure, socketFailure, transportFailure } from './failures.js';
import { sha256Hex, signS3Request } from './signing.js';
import { xmlText } from './xml.js';

const DEFAULT_TIMEOUT_MS = 10_000;
// A listing page of 1000 keys is a few hundred KiB; anything far larger is not S3 talking.
const MAX_RESPONSE_BYTES = 16 * 1024 * 1024;

/** What the server answered. */
export interface S3Response {
  status: number;
  headers: http.IncomingHttpHeaders;
  readonly bytes: Buffer;
  /** `bytes` as text. */
  readonly body: string;
}

/** One request to make. */
export interface CallRequest {
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
export async function s3Call(bucket: S3Bucket, request: CallRequest, options: S3CallOptions): Promise<S3Response> {
  const source = isCredentialSource(bucket.credentials) ? bucket.credentials : undefined;
  let target: SignedBucket = source
    ? { ...bucket, credentials: await source.get({ signal: options.signal }) }
    : (bucket as SignedBucket);
  let refreshed = false;
  for (let attempt = 0; ; attempt++) {
    const response = await send(target, request, options);
    if ((response.status >= 200 && response.status < 300) || isAnswer(request, response)) return response;
    const failure = responseFailure(target.credentials, response);
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

/** The value of one response header. */
export function header(response: S3Response, name: string): string | undefined {
  const value = response.headers[name];
  return Array.isArray(value) ? value[0] : value;
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

// Each CA bundle file read once per process, by path.
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
