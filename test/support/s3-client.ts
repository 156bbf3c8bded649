// A minimal S3 client for the test harness: AWS Signature V4 over fetch, enough to create
// the test bucket, wait for a server to answer, and look at (or damage) what litestream
// wrote. The library itself never talks to S3; litestream does.
import { createHash, createHmac } from 'node:crypto';

/** Where and as whom to talk to a test server. */
export interface S3Target {
  endpoint: string;
  bucket: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
}

const sha256 = (data: string | Uint8Array) => createHash('sha256').update(data).digest('hex');
const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data).digest();
// RFC 3986, as SigV4 wants.
const encode = (value: string) =>
  encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

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
  const bucket = options.bucket ?? target.bucket;
  const url = new URL(target.endpoint);
  const segments = [bucket, ...(options.key ? options.key.split('/') : [])].filter((part) => part !== '');
  const canonicalPath = `/${segments.map(encode).join('/')}`;
  const query = Object.entries(options.query ?? {})
    .map(([name, value]) => [encode(name), encode(value)])
    .sort(([a = ''], [b = '']) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, value]) => `${name}=${value}`)
    .join('&');
  const now = new Date().toISOString().replace(/[-:]|\.\d{3}/g, '');
  const day = now.slice(0, 8);
  const payloadHash = sha256(options.body ?? '');
  const headers: Record<string, string> = {
    host: url.host,
    'x-amz-content-sha256': payloadHash,
    'x-amz-date': now,
  };
  const signedHeaders = Object.keys(headers).sort().join(';');
  const canonicalRequest = [
    method,
    canonicalPath,
    query,
    ...Object.keys(headers)
      .sort()
      .map((name) => `${name}:${headers[name]}`),
    '',
    signedHeaders,
    payloadHash,
  ].join('\n');
  const scope = `${day}/${target.region}/s3/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', now, scope, sha256(canonicalRequest)].join('\n');
  const signingKey = ['s3', 'aws4_request'].reduce(
    (key, part) => hmac(key, part),
    hmac(hmac(`AWS4${target.secretAccessKey}`, day), target.region),
  );
  const signature = createHmac('sha256', signingKey).update(stringToSign).digest('hex');
  const { host: _host, ...sent } = headers;
  return fetch(`${url.origin}${canonicalPath}${query ? `?${query}` : ''}`, {
    method,
    headers: {
      ...sent,
      authorization: `AWS4-HMAC-SHA256 Credential=${target.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`,
    },
    ...(options.body ? { body: options.body } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
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
