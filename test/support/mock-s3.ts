// A bucket of small objects behind msw (it intercepts this process's node:http), honouring
// If-None-Match: * and If-Match as S3 does, with the faults a test switches on: for the
// answers real servers rarely give.
import { createHash } from 'node:crypto';
import { HttpResponse, http } from 'msw';

export const MOCK_ENDPOINT = 'http://mock-s3.test';
export const MOCK_BUCKET = 'mock-bucket';
export const MOCK_ACCESS_KEY_ID = 'AKIAMOCKMOCKMOCK';
export const MOCK_SECRET = 'mock-sEcReT-5e2b9c1d-dont-leak';

/** An S3 error answer, as S3 writes them. */
export function s3Error(status: number, code: string): Response {
  return new HttpResponse(
    `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${code}</Message></Error>`,
    { status, headers: { 'content-type': 'application/xml' } },
  );
}

/** What the next requests get instead of the store's answer; undefined: the store answers. */
export type Fault = (method: string, key: string) => Response | undefined | Promise<Response | undefined>;

export interface MockBucket {
  /** The msw handlers: pass to `setupServer(...)` or `server.use(...)`. */
  readonly handlers: ReturnType<typeof http.all>[];
  readonly objects: Map<string, { body: string; etag: string }>;
  /** Every request, as `METHOD key`. */
  readonly requests: string[];
  fault: Fault | undefined;
  /** Writes ignore If-None-Match and If-Match, as a server without conditional writes does. */
  ignoresPreconditions: boolean;
}

export function mockBucket(): MockBucket {
  const objects = new Map<string, { body: string; etag: string }>();
  const requests: string[] = [];
  const bucket: MockBucket = {
    objects,
    requests,
    fault: undefined,
    ignoresPreconditions: false,
    handlers: [
      http.all(`${MOCK_ENDPOINT}/${MOCK_BUCKET}/*`, async ({ request }) => {
        const key = decodeURIComponent(new URL(request.url).pathname.slice(`/${MOCK_BUCKET}/`.length));
        requests.push(`${request.method} ${key}`);
        const faulty = await bucket.fault?.(request.method, key);
        if (faulty) return faulty;
        const current = objects.get(key);
        const checks = !bucket.ignoresPreconditions;
        const ifMatch = request.headers.get('if-match');
        const ifNoneMatch = request.headers.get('if-none-match');
        if (checks && ifMatch !== null && current?.etag !== ifMatch) {
          return current === undefined ? s3Error(404, 'NoSuchKey') : s3Error(412, 'PreconditionFailed');
        }
        if (checks && ifNoneMatch === '*' && current !== undefined) return s3Error(412, 'PreconditionFailed');
        switch (request.method) {
          case 'GET':
            if (!current) return s3Error(404, 'NoSuchKey');
            return new HttpResponse(current.body, { headers: { etag: current.etag } });
          case 'PUT': {
            const body = await request.text();
            const etag = `"${createHash('md5').update(body).digest('hex')}"`;
            objects.set(key, { body, etag });
            return new HttpResponse(null, { headers: { etag } });
          }
          case 'DELETE':
            objects.delete(key);
            return new HttpResponse(null, { status: 204 });
          default:
            return s3Error(405, 'MethodNotAllowed');
        }
      }),
    ],
  };
  return bucket;
}
