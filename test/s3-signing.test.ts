// The SigV4 signing of the Node process's own S3 requests (the lease, the format check, the
// damaged-object checks), on the suite's real S3 servers: object names and prefixes with
// spaces, `+`, `=`, `%` and unicode, a secret with `+`, `/` and `=`, session tokens, and
// requests signed at a second's and a day's edge. A server that verifies signatures refuses
// every request whose canonical form we got wrong, so these are tests of the signer.
import { randomUUID } from 'node:crypto';
import { HttpResponse, http } from 'msw';
import { setupServer } from 'msw/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Secret } from '../src/config/secret.js';
import { ReplicaUnreachableError } from '../src/index.js';
import { type S3Bucket, s3Address } from '../src/replica/s3/bucket.js';
import { s3FailureOf } from '../src/replica/s3/failures.js';
import { deleteS3Object, getS3Object, listS3Prefix, putS3Object } from '../src/replica/s3/operations.js';
import { sha256Hex, signS3Request } from '../src/replica/s3/signing.js';
import { closedPort, s3Bucket } from './support/fixtures.js';
import type { S3Target } from './support/s3-client.js';
import { startS3Server, testS3 } from './support/s3-per-file.js';

/** Names a signer gets wrong when it encodes too little, too much, or twice. */
const DIRECTORY = 'p q+r=s%t ü 日本/';
const NAMES = ['a b.txt', 'c+d.txt', 'e=f.txt', '100%.txt', '%2B.txt', 'ü 日本.txt', "q!'()*~.txt"];

/** Writes each key (its body names it, so a mix-up shows); the ETags by key. */
async function putAll(bucket: S3Bucket, keys: readonly string[]): Promise<Map<string, string>> {
  const etags = new Map<string, string>();
  for (const key of keys) {
    const outcome = await putS3Object(bucket, key, `body of ${key}`, { ifAbsent: true });
    if (!outcome.written) throw new Error(`${key}: not written (${outcome.status})`);
    etags.set(key, outcome.etag);
  }
  return etags;
}

async function roundTrip(bucket: S3Bucket): Promise<void> {
  const base = `signing-${randomUUID()}/`;
  const keys = NAMES.map((name) => `${base}${DIRECTORY}${name}`);
  const etags = await putAll(bucket, keys);

  for (const key of keys) expect((await getS3Object(bucket, key))?.body, key).toBe(`body of ${key}`);

  // Two keys a page: every page after the first is asked for with the server's continuation
  // token, which is signed as a query parameter like the prefix.
  const paged = await listS3Prefix(bucket, { prefix: `${base}${DIRECTORY}`, delimiter: null, maxKeys: 2 });
  expect(paged.complete).toBe(true);
  expect(paged.objects.map((object) => object.key).sort()).toEqual([...keys].sort());
  // A prefix that ends inside a name, after a `+` and a space.
  const partial = await listS3Prefix(bucket, { prefix: `${base}p q+r=s%t ü 日`, delimiter: null });
  expect(partial.objects).toHaveLength(keys.length);
  // Listed with the delimiter: the directory is one common prefix, named exactly.
  const top = await listS3Prefix(bucket, { prefix: base });
  expect(top).toMatchObject({ prefixes: [`${base}${DIRECTORY}`], objects: [], complete: true });

  for (const key of keys) expect(await deleteS3Object(bucket, key, etags.get(key) ?? ''), key).toBe(true);
  for (const key of keys) expect(await getS3Object(bucket, key), key).toBeUndefined();
  expect((await listS3Prefix(bucket, { prefix: base, delimiter: null })).objects).toEqual([]);
}

describe('signed requests (the real server)', () => {
  it('put, get, list in pages and by prefix, and delete objects named with spaces, +, =, % and unicode', async () => {
    await roundTrip(s3Bucket());
  });

  it('a secret access key with +, / and = signs like any other, and a wrong one is still refused', async () => {
    const keys = { accessKeyId: 'LSNODESIGNINGKEY', secretAccessKey: 'sIgN+iNg/sEcReT=lsnode+/=dont-leak==' };
    const server = await startS3Server(keys);
    const bucket: S3Bucket = {
      bucket: server.bucket,
      region: server.region,
      endpoint: server.endpoint,
      credentials: { accessKeyId: new Secret(keys.accessKeyId), secretAccessKey: new Secret(keys.secretAccessKey) },
    };
    await roundTrip(bucket);

    const wrong = { ...bucket, credentials: { ...bucket.credentials, secretAccessKey: new Secret('sIgN iNg/sEcReT') } };
    const refused = await getS3Object(wrong, 'any').catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(ReplicaUnreachableError);
    expect(s3FailureOf(refused)).toMatchObject({ kind: 'credentials' });
    expect(String(refused)).not.toContain(keys.secretAccessKey);
  });

  it('a session token reaches the server: one it never issued is refused as a credentials failure', async () => {
    const bucket = s3Bucket();
    const token = 'FwoGZXIvYXdzE+/not-issued-here=token==';
    const withToken: S3Bucket = { ...bucket, credentials: { ...bucket.credentials, sessionToken: new Secret(token) } };
    expect(await listS3Prefix(bucket, { prefix: 'any/' })).toMatchObject({ complete: true });
    const refused = await listS3Prefix(withToken, { prefix: 'any/' }).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(ReplicaUnreachableError);
    // versitygw says InvalidToken; SeaweedFS looks the keys up as a session's and finds none.
    expect(s3FailureOf(refused)).toMatchObject({
      kind: 'credentials',
      code: expect.stringMatching(/^(InvalidToken|InvalidAccessKeyId)$/),
    });
    expect(String(refused)).not.toContain(token);
  });

  it('requests signed in the last millisecond of a second and in its first are both accepted', async () => {
    const s3 = testS3();
    const second = Math.floor(Date.now() / 1000) * 1000;
    for (const now of [new Date(second - 1), new Date(second)]) {
      const response = await signedFetch(s3, `signing-${randomUUID()}/`, now);
      expect(response.status, now.toISOString()).toBe(200);
      expect(await response.text()).toMatch(/<ListBucketResult[\s>]/);
    }
  });
});

/** A ListObjectsV2 request signed at `now`, sent with fetch. */
function signedFetch(s3: S3Target, prefix: string, now: Date): Promise<Response> {
  const credentials = { accessKeyId: new Secret(s3.accessKeyId), secretAccessKey: new Secret(s3.secretAccessKey) };
  const { url, host, encodedPath } = s3Address({ ...s3, credentials });
  const { headers, queryString } = signS3Request(
    { method: 'GET', host, encodedPath, query: { 'list-type': '2', prefix } },
    { region: s3.region, credentials, now },
  );
  const { host: _host, ...sent } = headers;
  return fetch(`${url.origin}${encodedPath}?${queryString}`, { headers: sent });
}

// ---------------------------------------------------------------------------------------
// What only the signer decides: the clock, the session token, AWS's own examples.

const EXAMPLE_KEYS = {
  accessKeyId: new Secret('AKIAIOSFODNN7EXAMPLE'),
  secretAccessKey: new Secret('wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'),
};
const EXAMPLE_HOST = 'examplebucket.s3.amazonaws.com';

function parts(headers: Record<string, string>) {
  const authorization = headers.authorization ?? headers.Authorization ?? '';
  const match =
    /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/s3\/aws4_request, SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$/.exec(
      authorization,
    );
  if (!match) throw new Error(`not a SigV4 authorization: ${authorization}`);
  const [, accessKeyId, day, region, signedHeaders = '', signature] = match;
  return {
    accessKeyId,
    day,
    region,
    signedHeaders: signedHeaders.split(';'),
    signature,
    amzDate: headers['x-amz-date'],
  };
}

describe('signing', () => {
  // The examples of AWS's "Signature Calculations for the Authorization Header: Transferring
  // Payload in a Single Chunk" (S3 API reference), signed at 2013-05-24T00:00:00Z: midnight.
  it("matches AWS's published S3 examples", () => {
    const now = new Date('2013-05-24T00:00:00Z');
    const signing = { region: 'us-east-1', credentials: EXAMPLE_KEYS, now };
    const put = signS3Request(
      {
        method: 'PUT',
        host: EXAMPLE_HOST,
        encodedPath: '/test%24file.text',
        payloadHash: sha256Hex('Welcome to Amazon S3.'),
        headers: { date: 'Fri, 24 May 2013 00:00:00 GMT', 'x-amz-storage-class': 'REDUCED_REDUNDANCY' },
      },
      signing,
    );
    expect(parts(put.headers).signature).toBe('98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd');
    const lifecycle = signS3Request(
      { method: 'GET', host: EXAMPLE_HOST, encodedPath: '/', query: { lifecycle: '' } },
      signing,
    );
    expect(parts(lifecycle.headers).signature).toBe('fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543');
    const list = signS3Request(
      { method: 'GET', host: EXAMPLE_HOST, encodedPath: '/', query: { 'max-keys': '2', prefix: 'J' } },
      signing,
    );
    expect(parts(list.headers).signature).toBe('34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7');
    expect(list.queryString).toBe('max-keys=2&prefix=J');
  });

  it('x-amz-date and the credential scope come from one clock reading, across a second and midnight UTC', () => {
    const sign = (iso: string) =>
      parts(
        signS3Request(
          { method: 'GET', host: EXAMPLE_HOST, encodedPath: '/key' },
          { region: 'eu-west-1', credentials: EXAMPLE_KEYS, now: new Date(iso) },
        ).headers,
      );
    expect(sign('2026-12-07T23:59:59.999Z')).toMatchObject({ amzDate: '20261207T235959Z', day: '20261207' });
    expect(sign('2026-12-08T00:00:00.000Z')).toMatchObject({ amzDate: '20261208T000000Z', day: '20261208' });
    expect(sign('2026-12-08T00:00:00.000Z').region).toBe('eu-west-1');
    // Signatures of the same request a millisecond apart differ only when the second does.
    expect(sign('2026-12-08T00:00:00.000Z').signature).toBe(sign('2026-12-08T00:00:00.999Z').signature);
    expect(sign('2026-12-07T23:59:59.999Z').signature).not.toBe(sign('2026-12-08T00:00:00.000Z').signature);
  });

  it('a session token is sent, named in SignedHeaders and part of the signature', () => {
    const now = new Date('2026-12-07T12:00:00Z');
    const sign = (sessionToken?: string) =>
      signS3Request(
        { method: 'GET', host: EXAMPLE_HOST, encodedPath: '/key' },
        {
          region: 'us-east-1',
          credentials: { ...EXAMPLE_KEYS, sessionToken: sessionToken ? new Secret(sessionToken) : undefined },
          now,
        },
      ).headers;
    const token = 'FwoGZXIvYXdzE+/token=with+odd/chars==';
    const withToken = sign(token);
    const tokenHeader = Object.entries(withToken).find(([name]) => name.toLowerCase() === 'x-amz-security-token');
    expect(tokenHeader?.[1]).toBe(token);
    expect(parts(withToken).signedHeaders).toContain('x-amz-security-token');
    expect(parts(sign(`${token}x`)).signature).not.toBe(parts(withToken).signature);
    const without = sign();
    expect(Object.keys(without).map((name) => name.toLowerCase())).not.toContain('x-amz-security-token');
    expect(parts(without).signedHeaders).not.toContain('x-amz-security-token');
  });
});

const TOKEN = 'IQoJb3JpZ2luX2VjE+/msw-session=token==';
const MOCK_ENDPOINT = `http://127.0.0.1:${await closedPort()}`;

describe('session tokens on the wire (msw)', () => {
  const server = setupServer();
  beforeAll(() => server.listen({ onUnhandledRequest: 'error' }));
  afterAll(() => server.close());

  it('every request with temporary keys carries the token, signed', async () => {
    const seen: Headers[] = [];
    server.use(
      http.put(`${MOCK_ENDPOINT}/mock-bucket/*`, ({ request }) => {
        seen.push(request.headers);
        expect(new URL(request.url).pathname).toBe('/mock-bucket/a%20b%2Bc.json');
        return new HttpResponse(null, { status: 200, headers: { etag: '"e1"' } });
      }),
      http.get(`${MOCK_ENDPOINT}/mock-bucket`, ({ request }) => {
        seen.push(request.headers);
        expect(new URL(request.url).searchParams.get('prefix')).toBe('a b+c');
        return HttpResponse.xml(
          '<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>a b+c.json</Key><Size>2</Size></Contents></ListBucketResult>',
        );
      }),
    );
    const bucket: S3Bucket = {
      bucket: 'mock-bucket',
      region: 'us-east-1',
      endpoint: MOCK_ENDPOINT,
      credentials: { ...EXAMPLE_KEYS, sessionToken: new Secret(TOKEN) },
    };
    expect(await putS3Object(bucket, 'a b+c.json', '{}', { ifAbsent: true })).toMatchObject({ written: true });
    expect((await listS3Prefix(bucket, { prefix: 'a b+c' })).objects.map((object) => object.key)).toEqual([
      'a b+c.json',
    ]);
    expect(seen).toHaveLength(2);
    for (const headers of seen) {
      expect(headers.get('x-amz-security-token')).toBe(TOKEN);
      expect(headers.get('authorization')).toMatch(/SignedHeaders=[^,]*x-amz-security-token/);
    }
  });
});
