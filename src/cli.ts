#!/usr/bin/env node
/**
 * `litestream-node`: list backups, restore to a point in time, verify and check replication,
 * from the same environment variables as the app (or an existing litestream.yml with
 * `--config`), with no hand-written YAML.
 *
 * Exit codes: 0 success, 1 failure (one line on stderr), 2 usage error, 130/143 interrupted
 * by SIGINT/SIGTERM (what the command started is cleaned up first).
 *
 * @packageDocumentation
 */
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { main } from './cli/main.js';

export { main };

// Run when executed (the bin, possibly through a symlink), not when imported.
if (process.argv[1] && import.meta.url === pathToFileURL(realPath(process.argv[1])).href) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}

function realPath(file: string): string {
  try {
    return realpathSync(file);
  } catch {
    return file;
  }
}
