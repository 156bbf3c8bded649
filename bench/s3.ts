// The test suite's S3 server (s3rver with this project's fixes), in a process of its own so
// that serving litestream never competes with the event loop being measured.
// Loads vitest's types so the harness's `declare module 'vitest'` has something to augment.
import type {} from 'vitest';
import type { TestProject } from 'vitest/node';
import setup from '../test/support/s3-server.js';

let provided: unknown;
const project = {
  provide: (_key: string, value: unknown) => {
    provided = value;
  },
} as unknown as TestProject;
const teardown = await setup(project);
let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await teardown();
  process.exit(0);
};
process.on('SIGTERM', stop);
// The orchestrator went away: close and remove the store.
process.on('disconnect', stop);
process.send?.({ s3: provided });
