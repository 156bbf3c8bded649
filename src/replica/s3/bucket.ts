/**
 * A bucket as the Node process's own S3 requests see it, and where a request for it goes
 * (path-style or virtual-host URLs, a custom endpoint or AWS).
 *
 * @packageDocumentation
 */
import type { S3CredentialSource, S3Credentials } from '../credentials.js';
import { encodeRfc3986 } from './signing.js';

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
export type SignedBucket = S3Bucket & { readonly credentials: S3Credentials };

/** Per-request options. */
export interface S3CallOptions {
  signal?: AbortSignal | undefined;
  /** Give up on one request (connect to last byte) after this long. Default 10 000. */
  timeoutMs?: number | undefined;
  /** Where `AWS_CA_BUNDLE` is read from. Default `process.env`. */
  env?: Readonly<Record<string, string | undefined>> | undefined;
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
