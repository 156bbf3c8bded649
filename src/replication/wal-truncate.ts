import { createRequire } from 'node:module';
import type { Logger } from '../logging/logger.js';
import { spawnChild } from '../process/spawn.js';
import { companionFiles, fileSize } from '../sqlite/database-files.js';

/** How long the checkpoint may wait for the app's own readers and writers to finish. */
const BUSY_TIMEOUT_MS = 5_000;

// Run in a Node child process of its own, never in the app's: SQLite's POSIX locks belong to
// the process, and closing a second connection opened by another copy of SQLite (the app may
// use node:sqlite or its own better-sqlite3) would drop the app's locks on the file.
const CHILD_SOURCE = `
const [sqlite, busyMs, ...files] = process.argv.slice(1);
const Database = require(sqlite);
const results = files.map((file) => {
  let db;
  try {
    db = new Database(file, { fileMustExist: true, timeout: Number(busyMs) });
    const [row] = db.pragma('wal_checkpoint(TRUNCATE)');
    return { file, busy: row.busy === 1 };
  } catch (error) {
    return { file, error: String((error && error.message) || error) };
  } finally {
    if (db) db.close();
  }
});
process.stdout.write(JSON.stringify(results));
`;

interface Outcome {
  readonly file: string;
  readonly busy?: boolean;
  readonly error?: string;
}

/**
 * Checkpoints each database's WAL into the database file and truncates the WAL to nothing
 * (`PRAGMA wal_checkpoint(TRUNCATE)`), from a child process, waiting up to 5 s for the app's
 * own transactions. Databases without a WAL are left alone. Never throws: a database it could
 * not truncate is logged as a warning, with what that risks.
 */
export async function truncateWals(
  paths: readonly string[],
  options: { readonly logger: Logger; readonly signal?: AbortSignal | undefined },
): Promise<void> {
  const files = paths.filter((file) => fileSize(companionFiles(file).wal) > 0);
  if (files.length === 0 || options.signal?.aborted) return;
  const sqlite = createRequire(import.meta.url).resolve('better-sqlite3');
  // Nothing of the app's environment (its keys) reaches a process that needs none of it.
  const child = spawnChild(process.execPath, ['-e', CHILD_SOURCE, sqlite, String(BUSY_TIMEOUT_MS), ...files], {
    PATH: process.env.PATH,
  });
  const kill = () => child.kill('SIGKILL');
  options.signal?.addEventListener('abort', kill, { once: true });
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.resume();
  const exit = await child.exited;
  options.signal?.removeEventListener('abort', kill);
  let outcomes: Outcome[];
  try {
    outcomes = JSON.parse(stdout) as Outcome[];
  } catch {
    const how = exit.error?.message ?? `exit ${exit.exitCode ?? exit.signal}`;
    outcomes = files.map((file) => ({ file, error: `the checkpoint process ended without an answer (${how})` }));
  }
  for (const outcome of outcomes) {
    if (outcome.busy === false) {
      options.logger.debug({ db: outcome.file }, 'WAL checkpointed and truncated');
      continue;
    }
    const reason = outcome.error ?? `a transaction of the app held the database for ${BUSY_TIMEOUT_MS} ms`;
    options.logger.warn(
      { db: outcome.file, error: reason },
      'could not truncate the WAL before litestream runs again: commits the app checkpointed while litestream was not running may be missing from the replica until its next snapshot',
    );
  }
}
