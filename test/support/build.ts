// Tests that run the library in a separate Node process import it from dist/, so build
// it first, as `npm run build` does (bundled entries, tsc's declarations): a stale dist/
// would test old code. tsc's unbundled modules go to .cache/dist-modules, for the test
// that swaps one internal module for a wrapper (test/support/claim-gates). At the end,
// the suite boots once more, as an app restarted after a crash would: tests that SIGKILL
// apps leave their private temp directories behind, and this sweep removes them (the
// next boot's job, tested in test/cleanup.test.ts), so a run leaves the machine as it
// found it.
import { readdirSync } from 'node:fs';
import os from 'node:os';
import { execa } from 'execa';
import { silentLogger } from '../../src/logging/logger.js';
import { sweepTempDirs } from '../../src/process/child-config.js';

export default async function setup() {
  await execa(process.execPath, ['esbuild.config.mjs', '--modules', '.cache/dist-modules'], { stdio: 'inherit' });
  return async () => {
    await sweepTempDirs(silentLogger);
    const left = readdirSync(os.tmpdir()).filter((name) => /^litestream-node-\d+-/.test(name));
    if (left.length > 0) throw new Error(`litestream-node temp directories outlived the suite: ${left.join(', ')}`);
  };
}
