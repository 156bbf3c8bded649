// Every test file gets a real S3 server of its own (the kind its vitest project names),
// started before the file's tests and stopped after them. `testS3()` is that server.
import { afterAll, inject } from 'vitest';
import { S3Server } from './s3-server.js';

const kind = inject('s3Kind');
const server = await S3Server.start(kind, inject('s3Tools')[kind], inject('s3RunDir'));
afterAll(() => server.stop());

/** This test file's S3 server. */
export function testS3(): S3Server {
  return server;
}
