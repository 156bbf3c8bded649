// Conditional writes of small objects from Node (what a lease in the bucket stands on):
// against the suite's real S3 servers, and through msw for the answers they rarely give.
import { randomUUID } from 'node:crypto';
import { HttpResponse, http } from 'msw';
import { setupServer } from 'msw/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Secret } from '../src/config/secret.js';
import { LitestreamError, ReplicaUnreachableError } from '../src/index.js';
import type { S3Bucket } from '../src/replica/s3/bucket.js';
import { s3FailureOf } from '../src/replica/s3/failures.js';
import { deleteS3Object, getS3Object, putS3Object } from '../src/replica/s3/operations.js';
import { closedPort, s3Bucket } from './support/fixtures.js';

describe('conditional object writes (the real server)', () => {
  it('create only if absent, replace and delete only if unchanged: a stale ETag changes nothing', async () => {
    const bucket = s3Bucket();
    const key = `objects-${randomUUID()}/lease.json`;
    expect(await getS3Object(bucket, key)).toBeUndefined();

    const created = await putS3Object(bucket, key, '{"holder":"a"}', { ifAbsent: true });
    expect(created).toMatchObject({ written: true, etag: expect.any(String) });
    if (!created.written) throw new Error('not created');
    // Someone else's create fails, and leaves the first one's content.
    expect(await putS3Object(bucket, key, '{"holder":"b"}', { ifAbsent: true })).toMatchObject({
      written: false,
      status: 412,
    });
    const read = await getS3Object(bucket, key);
    expect(read).toMatchObject({ body: '{"holder":"a"}', etag: created.etag });

    const renewed = await putS3Object(bucket, key, '{"holder":"a","n":2}', { ifMatch: created.etag });
    if (!renewed.written) throw new Error('not renewed');
    expect(renewed.etag).not.toBe(created.etag);
    // The old ETag no longer matches: neither a write nor a delete goes through.
    expect(await putS3Object(bucket, key, '{"holder":"b"}', { ifMatch: created.etag })).toMatchObject({
      written: false,
    });
    expect(await deleteS3Object(bucket, key, created.etag)).toBe(false);
    expect((await getS3Object(bucket, key))?.body).toBe('{"holder":"a","n":2}');

    expect(await deleteS3Object(bucket, key, renewed.etag)).toBe(true);
    expect(await getS3Object(bucket, key)).toBeUndefined();
    // A replace of what is gone fails (404 on versitygw, 412 on SeaweedFS) and creates nothing.
    expect(await putS3Object(bucket, key, '{"holder":"a"}', { ifMatch: renewed.etag })).toMatchObject({
      written: false,
    });
    expect(await getS3Object(bucket, key)).toBeUndefined();
  });

  it('of ten processes creating one key at once, exactly one succeeds', async () => {
    const bucket = s3Bucket();
    for (let round = 0; round < 2; round++) {
      const key = `objects-${randomUUID()}/lease.json`;
      const outcomes = await Promise.all(
        Array.from({ length: 10 }, (_, i) => putS3Object(bucket, key, `{"holder":${i}}`, { ifAbsent: true })),
      );
      const winners = outcomes.flatMap((outcome, i) => (outcome.written ? [i] : []));
      expect(winners).toHaveLength(1);
      expect((await getS3Object(bucket, key))?.body).toBe(`{"holder":${winners[0]}}`);
    }
  });
});

const ACCESS_KEY_ID = 'AKIAMSWOBJECTS';
const SECRET = 'msw-objects-sEcReT-dont-leak';
// Loopback, and a closed port: should interception ever fail, nothing else is reached.
const MOCK_ENDPOINT = `http://127.0.0.1:${await closedPort()}`;
const BUCKET: S3Bucket = {
  bucket: 'mock-bucket',
  region: 'us-east-1',
  endpoint: MOCK_ENDPOINT,
  credentials: { accessKeyId: new Secret(ACCESS_KEY_ID), secretAccessKey: new Secret(SECRET) },
};
const KEY_URL = `${MOCK_ENDPOINT}/mock-bucket/app/lease.json`;

const s3Error = (status: number, code: string): Response =>
  new HttpResponse(
    `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${code}</Message></Error>`,
    {
      status,
      headers: { 'content-type': 'application/xml' },
    },
  );

describe('conditional object writes (msw)', () => {
  const server = setupServer();
  beforeAll(() => server.listen({ onUnhandledRequest: 'error' }));
  afterAll(() => server.close());

  it('signs the precondition and the body, and sends the ETag quoted', async () => {
    server.resetHandlers();
    const seen: { headers: Headers; body: string }[] = [];
    server.use(
      http.put(KEY_URL, async ({ request }) => {
        seen.push({ headers: request.headers, body: await request.text() });
        return new HttpResponse(null, { status: 200, headers: { etag: '"e2"' } });
      }),
    );
    expect(await putS3Object(BUCKET, 'app/lease.json', '{"a":1}', { ifAbsent: true })).toMatchObject({
      written: true,
      etag: '"e2"',
    });
    expect(await putS3Object(BUCKET, 'app/lease.json', '{"a":2}', { ifMatch: 'e1' })).toMatchObject({ written: true });
    const [create, replace] = seen;
    expect(create?.headers.get('if-none-match')).toBe('*');
    expect(create?.body).toBe('{"a":1}');
    expect(create?.headers.get('authorization')).toMatch(/SignedHeaders=[^,]*if-none-match/);
    expect(create?.headers.get('x-amz-content-sha256')).not.toBe(
      'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    );
    expect(replace?.headers.get('if-match')).toBe('"e1"');
    expect(replace?.headers.get('authorization')).toMatch(/SignedHeaders=[^,]*if-match/);
  });

  it('a failed precondition is an outcome; an outage or a refusal is a typed error without the secret', async () => {
    server.resetHandlers();
    let answer: () => Response = () => s3Error(412, 'PreconditionFailed');
    server.use(
      http.put(KEY_URL, () => answer()),
      http.delete(KEY_URL, () => answer()),
    );
    expect(await putS3Object(BUCKET, 'app/lease.json', '{}', { ifMatch: '"x"' })).toMatchObject({
      written: false,
      status: 412,
    });
    expect(await deleteS3Object(BUCKET, 'app/lease.json', '"x"')).toBe(false);

    answer = () => s3Error(503, 'SlowDown');
    const outage = await putS3Object(BUCKET, 'app/lease.json', '{}', { ifAbsent: true }).catch(
      (error: unknown) => error,
    );
    expect(outage).toBeInstanceOf(ReplicaUnreachableError);
    expect(s3FailureOf(outage)).toMatchObject({ kind: 'transient', status: 503 });

    answer = () => s3Error(403, 'AccessDenied');
    const refused = await deleteS3Object(BUCKET, 'app/lease.json', '"x"').catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(ReplicaUnreachableError);
    expect(s3FailureOf(refused)).toMatchObject({ kind: 'credentials' });

    // A server that takes the write but returns no ETag cannot hold a lease: said so.
    answer = () => new HttpResponse(null, { status: 200 });
    const noEtag = await putS3Object(BUCKET, 'app/lease.json', '{}', { ifAbsent: true }).catch(
      (error: unknown) => error,
    );
    expect(noEtag).toBeInstanceOf(LitestreamError);
    expect((noEtag as Error).message).toMatch(/no ETag/);

    for (const error of [outage, refused, noEtag]) {
      expect(String(error)).not.toContain(SECRET);
      expect(JSON.stringify(error)).not.toContain(SECRET);
    }
  });

  it('a server that accepts and never answers is given up on after the timeout', async () => {
    server.resetHandlers();
    server.use(http.get(KEY_URL, () => new Promise<never>(() => {})));
    const error = await getS3Object(BUCKET, 'app/lease.json', { timeoutMs: 200 }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ReplicaUnreachableError);
    expect(s3FailureOf(error)).toMatchObject({ kind: 'transient', code: 'ETIMEDOUT' });
  });
});
