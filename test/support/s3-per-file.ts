// Every test file gets a real S3 server of its own (the kind its vitest project names),
// started before the file's tests and stopped after them. `testS3()` is that server;
// `startS3Server()` starts another, for a test that crashes or freezes it.
import { afterAll, inject, onTestFinished } from 'vitest';
import { type S3Keys, S3Server } from './s3-server.js';

// The project decides which Litestream runs: 0.3 is the bundled one, 0.5 the test tools'.
if (inject('litestreamFamily') === '0.5') process.env.LITESTREAM_BINARY_PATH = inject('litestream05Binary');
else delete process.env.LITESTREAM_BINARY_PATH;

// Without keys, the AWS default chain (the Node process's, and litestream's) ends at EC2
// instance metadata, 169.254.169.254: no test may send anything there.
process.env.AWS_EC2_METADATA_DISABLED = 'true';

const kind = inject('s3Kind');
const start = (keys?: S3Keys) => S3Server.start(kind, inject('s3Tools')[kind], inject('s3RunDir'), keys);
const server = await start();
afterAll(() => server.stop());

/** This test file's S3 server. */
export function testS3(): S3Server {
  return server;
}

/** A server of the same kind for the current test alone (with `keys`, if given), stopped when the test ends. */
export async function startS3Server(keys?: S3Keys): Promise<S3Server> {
  const own = await start(keys);
  onTestFinished(() => own.stop());
  return own;
}
