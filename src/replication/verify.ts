import { rm } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type Database from 'better-sqlite3';
import type { LitestreamConfig } from '../config/types.js';
import { resolveRuntime } from '../engine/select.js';
import { LitestreamAbortError, VerificationError } from '../errors.js';
import { findDatabase } from '../inspect/listings.js';
import { childLogger } from '../logging/logger.js';
import { privateTempDir, writeConfigFile } from '../process/child-config.js';
import { liveReplicator } from '../process/pidfile.js';
import { positionFields, restoreInto } from '../restore/ensure-restored.js';
import { IntegrityChecker } from '../sqlite/integrity-check.js';
import { throwIfAborted } from '../support/abort.js';
import { loadSqlite } from '../support/load-on-use.js';
import type { Replication } from './types.js';

/** Options for {@link verify}. */
export interface VerifyOptions {
  /** How long the whole check may take. Default 60 000. */
  timeoutMs?: number;
  /**
   * Gives the check up: the restore in flight is killed, the sentinel row and every temp
   * file removed, and the call rejects with a `LitestreamAbortError`.
   */
  signal?: AbortSignal;
}

/** What a successful {@link verify} proved. */
export interface VerificationReport {
  readonly database: string;
  /** Litestream 0.3: the generation the sentinel was restored from, when litestream named it. */
  readonly generation?: string;
  /** Litestream 0.5: the transaction id the sentinel was restored up to. */
  readonly txid?: number;
  /** Size in bytes of the database restored from the replica. */
  readonly restoredSize: number;
  readonly durationMs: number;
}

const SENTINEL_TABLE = '_litestream_node_verify';

/**
 * Proves the backup of `database` works end to end: writes a sentinel row, waits until
 * the replicator has synced it (restoring the replica after each reported sync until the
 * row is there — no fixed sleep), checks the restored copy with `PRAGMA integrity_check`,
 * then removes the sentinel and every temp file. Needs replication running in this
 * process.
 *
 * @throws {@link VerificationError} whose `step` says what failed: `replicating`,
 * `write-sentinel`, `sync`, `restore` or `integrity`.
 */
export async function verify(
  config: LitestreamConfig,
  database: string,
  options: VerifyOptions,
  replication: Replication | undefined,
): Promise<VerificationReport> {
  const startedAt = Date.now();
  const deadline = startedAt + (options.timeoutMs ?? 60_000);
  const db = findDatabase(config, database);
  const candidate = replication;
  const state = candidate?.status().state;
  const running =
    state === 'running' || state === 'restarting' || state === 'paused' || state === 'starting' ? candidate : undefined;
  // Another live app may be the one replicating (the CLI's case): then poll the replica.
  const external = running ? undefined : await liveReplicator(db.path);
  if (!running && !external) {
    throw new VerificationError(
      'replicating',
      `${db.path} is not being replicated by this process (${state ?? 'not started'}) nor by another: start replication before verifying.`,
      { database: db.path },
    );
  }

  const sentinel = crypto.randomUUID();
  const { signal } = options;
  throwIfAborted(signal, 'verify');
  const runtime = await resolveRuntime(config);
  const dir = await privateTempDir('verify');
  const file = await writeConfigFile(config, runtime.engine).catch(async (error: unknown) => {
    await rm(dir, { recursive: true, force: true });
    throw error;
  });
  const logger = childLogger(config.logger, { component: 'verify' });
  let wroteSentinel = false;
  // Listen before writing, so no sync that carries the sentinel can be missed.
  const syncs = running
    ? syncSignal(running, db.path)
    : pollSignal(Math.min(2_000, Math.max(250, config.syncIntervalMs)));
  try {
    try {
      writeSentinel(db.path, sentinel);
      wroteSentinel = true;
    } catch (cause) {
      throw new VerificationError('write-sentinel', `could not write a sentinel row to ${db.path}: ${String(cause)}`, {
        database: db.path,
        cause,
      });
    }

    for (let attempt = 1; ; attempt++) {
      if (!(await syncs.next(deadline, signal))) {
        throwIfAborted(signal, 'verify');
        const lastError = running?.status().databases.find((row) => row.path === db.path)?.lastError;
        throw new VerificationError(
          'sync',
          `the replicator did not sync the sentinel of ${db.path} to the replica within ${options.timeoutMs ?? 60_000} ms${lastError ? ` (last error: ${lastError.message})` : ''}: check that replication is healthy.`,
          { database: db.path, detail: lastError?.message },
        );
      }
      const output = path.join(dir, `attempt-${attempt}.db`);
      let restored: Awaited<ReturnType<typeof restoreInto>>;
      try {
        // Checked below, once the sentinel is there, as this verification's own step.
        restored = await restoreInto(config, runtime, db, {
          output,
          configFile: file.path,
          logger,
          integrityCheck: 'off',
          signal,
        });
      } catch (cause) {
        if (cause instanceof LitestreamAbortError) throw new LitestreamAbortError('verify', signal?.reason);
        throw new VerificationError(
          'restore',
          `restoring ${db.path} from the replica failed: ${(cause as Error).message}`,
          {
            database: db.path,
            cause,
            detail: (cause as { detail?: string }).detail,
          },
        );
      }
      if (!restored) continue;
      if (!hasSentinel(output, sentinel)) continue;
      const integrity = await checkOnce(output);
      if (!integrity.ok) {
        throw new VerificationError('integrity', `the copy of ${db.path} restored from the replica is corrupt.`, {
          database: db.path,
          detail: integrity.problems.join('\n'),
        });
      }
      const report = Object.freeze({
        database: db.path,
        ...positionFields(restored.position),
        restoredSize: restored.size,
        durationMs: Date.now() - startedAt,
      });
      logger.info({ ...report }, 'backup verified end to end');
      return report;
    }
  } finally {
    syncs.stop();
    if (wroteSentinel) {
      try {
        removeSentinel(db.path, sentinel);
      } catch (error) {
        logger.error(
          { db: db.path, error: String(error) },
          `could not remove the verification row from ${SENTINEL_TABLE}`,
        );
      }
    }
    await file.dispose();
    await rm(dir, { recursive: true, force: true });
  }
}

function open(file: string): Database.Database {
  const db = new (loadSqlite())(file, { fileMustExist: true });
  db.pragma('busy_timeout = 5000');
  return db;
}

function writeSentinel(file: string, sentinel: string): void {
  const db = open(file);
  try {
    db.exec(`CREATE TABLE IF NOT EXISTS ${SENTINEL_TABLE} (id TEXT PRIMARY KEY, at INTEGER NOT NULL)`);
    db.prepare(`INSERT INTO ${SENTINEL_TABLE} (id, at) VALUES (?, ?)`).run(sentinel, Date.now());
  } finally {
    db.close();
  }
}

function hasSentinel(file: string, sentinel: string): boolean {
  const db = new (loadSqlite())(file, { readonly: true, fileMustExist: true });
  try {
    return db.prepare(`SELECT 1 FROM ${SENTINEL_TABLE} WHERE id = ?`).get(sentinel) !== undefined;
  } catch {
    return false;
  } finally {
    db.close();
  }
}

/** Deletes the sentinel, and the table once it is empty, leaving the schema as it was. */
function removeSentinel(file: string, sentinel: string): void {
  const db = open(file);
  try {
    db.prepare(`DELETE FROM ${SENTINEL_TABLE} WHERE id = ?`).run(sentinel);
    const left = db.prepare(`SELECT count(*) AS n FROM ${SENTINEL_TABLE}`).get() as { n: number };
    if (left.n === 0) db.exec(`DROP TABLE ${SENTINEL_TABLE}`);
  } finally {
    db.close();
  }
}

/** For a replicator in another process: a signal every `intervalMs`. */
function pollSignal(intervalMs: number) {
  return {
    stop: () => {},
    async next(deadline: number, signal?: AbortSignal): Promise<boolean> {
      const wait = Math.min(intervalMs, deadline - Date.now());
      if (wait <= 0 || signal?.aborted) return false;
      return sleep(wait, true, { signal }).catch(() => false);
    },
  };
}

/** Counts `sync` events for one database; `next()` waits for one not yet consumed. */
function syncSignal(replication: Replication, database: string) {
  let pending = 0;
  let wake: (() => void) | undefined;
  const onSync = (event: { db: string }) => {
    if (event.db !== database) return;
    pending++;
    wake?.();
  };
  replication.on('sync', onSync);
  return {
    stop: () => replication.off('sync', onSync),
    async next(deadline: number, signal?: AbortSignal): Promise<boolean> {
      while (pending === 0) {
        const remaining = deadline - Date.now();
        if (remaining <= 0 || signal?.aborted) return false;
        await new Promise<void>((resolve) => {
          const done = () => {
            clearTimeout(timer);
            signal?.removeEventListener('abort', done);
            resolve();
          };
          const timer = setTimeout(done, remaining);
          signal?.addEventListener('abort', done, { once: true });
          wake = done;
        });
        wake = undefined;
      }
      pending--;
      return true;
    },
  };
}

/** A full integrity check of `file`, off the main thread. */
async function checkOnce(file: string) {
  const checker = new IntegrityChecker(1);
  try {
    return await checker.check(file, 'full');
  } finally {
    await checker.release();
  }
}
