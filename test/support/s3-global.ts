// Installs the test S3 servers (pinned, cached; see test/tools/install.mjs) before any
// worker starts, and gives the workers their binaries and one directory for the run.
// Every test file starts its own server there (s3-per-file.ts); the teardown kills any a
// dead worker left running and removes the directory, so a run leaves nothing behind.
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { ensureTools, ToolInstallError } from '../tools/install.mjs';
import { type S3ServerKind, type S3Tool, sweepServers } from './s3-server.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The server this project's files run against (set per project in vitest.config.ts). */
    s3Kind: S3ServerKind;
    s3Tools: Record<S3ServerKind, S3Tool>;
    s3RunDir: string;
    /** The Litestream release line this project's files run against (set per project). */
    litestreamFamily: '0.3' | '0.5';
    /** The Litestream 0.5 executable the test tools installed. */
    litestream05Binary: string;
  }
}

export default async function setup(project: TestProject) {
  const tools = await ensureTools().catch((error: unknown) => {
    // One line that says what to install, not a stack trace through vitest.
    if (!(error instanceof ToolInstallError)) throw error;
    process.stderr.write(`\n${error.message}\n`);
    process.exit(1);
  });
  const byName = Object.fromEntries(tools.map((tool) => [tool.name, tool])) as unknown as Record<
    S3ServerKind | 'litestream05',
    S3Tool
  >;
  const runDir = await mkdtemp(path.join(os.tmpdir(), 'lsnode-s3-run-'));
  project.provide('s3Tools', byName);
  project.provide('s3RunDir', runDir);
  // Another 0.5 release can be tried in its place, e.g. one built with Go from the proxy.
  project.provide('litestream05Binary', process.env.LITESTREAM_NODE_TEST_LITESTREAM_05 || byName.litestream05.binary);
  return () => sweepServers(runDir);
}
