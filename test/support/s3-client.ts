// A minimal S3 client for the test harness: create the test bucket, wait for a server to
// answer, and look at (or damage) what litestream wrote. It signs with the library's own
// SigV4 signing (src/replica/s3/signing.ts), so there is one signer, and sends with fetch.

import { Secret } from '../../src/config/secret.js';
import { s3Address } from '../../src/replica/s3/bucket.js';
import { sha256Hex, signS3Request } from '../../src/replica/s3/signing.js';

/** Where and as whom to talk to a test server. */
export interface S3Target {
  endpoint: string;
  bucket: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
}

/** The library's S3 replica options for `target`, at `path` in its bucket. */
export function s3ReplicaOptions(target: S3Target, path: string) {
  return {
    type: 's3' as const,
    bucket: target.bucket,
    endpoint: target.endpoint,
    region: target.region,
    accessKeyId: target.accessKeyId,
    secretAccessKey: target.secretAccessKey,
    path,
  };
}

export interface S3RequestOptions {
  method?: string;
  /** Object key, or none for a bucket request; `bucket: ''` for a service request. */
  key?: string;
  bucket?: string;
  query?: Record<string, string>;
  body?: Uint8Array;
  signal?: AbortSignal;
}

/** One signed path-style request. */
export function s3Request(target: S3Target, options: S3RequestOptions = {}): Promise<Response> {
  const method = options.method ?? 'GET';
  const credentials = {
    accessKeyId: new Secret(target.accessKeyId),
    secretAccessKey: new Secret(target.secretAccessKey),
  };
  const bucket = options.bucket ?? target.bucket;
  const { url, host, encodedPath } = bucket
    ? s3Address(
        { bucket, region: target.region, endpoint: target.endpoint, forcePathStyle: true, credentials },
        options.key,
      )
    : serviceAddress(target.endpoint);
  const { headers, queryString } = signS3Request(
    { method, host, encodedPath, query: options.query ?? {}, payloadHash: sha256Hex(options.body ?? '') },
    { region: target.region, credentials },
  );
  // fetch sets Host itself (and refuses to be given one).
  const { host: _host, ...sent } = headers;
  return fetch(`${url.origin}${encodedPath}${queryString ? `?${queryString}` : ''}`, {
    method,
    headers: sent,
    ...(options.body ? { body: options.body } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
}

/** The service root (ListBuckets): no bucket in the path. */
function serviceAddress(endpoint: string) {
  const url = new URL(endpoint);
  return { url, host: url.host, encodedPath: `${url.pathname.replace(/\/+$/, '')}/` };
}

/** The request, which must succeed; the error names the S3 code the server answered. */
export async function s3Ok(target: S3Target, options: S3RequestOptions = {}): Promise<Response> {
  const response = await s3Request(target, options);
  if (!response.ok) {
    const body = await response.text();
    const code = /<Code>([^<]+)<\/Code>/.exec(body)?.[1] ?? body.slice(0, 200);
    throw new Error(
      `S3 ${options.method ?? 'GET'} /${options.bucket ?? target.bucket}/${options.key ?? ''}: ${response.status} ${code}`,
    );
  }
  return response;
}

/** Every key under `prefix`, following continuation tokens. */
export async function listKeys(target: S3Target, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const query: Record<string, string> = { 'list-type': '2', prefix };
    if (token) query['continuation-token'] = token;
    const xml = await (await s3Ok(target, { query })).text();
    for (const match of xml.matchAll(/<Key>([^<]+)<\/Key>/g)) keys.push(decodeXml(match[1] ?? ''));
    token = /<IsTruncated>true<\/IsTruncated>/.test(xml)
      ? decodeXml(/<NextContinuationToken>([^<]+)<\/NextContinuationToken>/.exec(xml)?.[1] ?? '')
      : undefined;
  } while (token);
  return keys;
}

function decodeXml(text: string): string {
  return text
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&');
}
