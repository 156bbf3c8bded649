import { randomBytes } from 'node:crypto';
import { link, mkdir, rm, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { resolveBinary } from './binary.js';
import { classifyFailure } from './classify.js';
import { type DatabaseConfig, type LitestreamConfig, secretsOf } from './config.js';
import { RestoreError } from './errors.js';
import type { LitestreamLogLine } from './log-lines.js';
import { childLogger, type Logger } from './logger.js';
import { companionFiles } from './paths.js';
import { type ConfigFile, childEnv, writeConfigFile } from './render.js';
import { replicaError } from './replica-errors.js';
import { errorOutput, runCommand } from './run.js';
import { redact } from './secret.js';
import { checkIntegrity } from './sqlite.js';

/** What happened to one database in {@link ensureRestored}. */
export type RestoreOutcome =
  /** The file was already there; nothing was run. */
  | 'exists'
  /** It was missing and is now restored from the replica. */
  | 'restored'
  /** It was missing and the replica has no backup: the app starts a new database. */
  | 'no-backup'
  /** Litestream is disabled; nothing was done. */
  | 'disabled';

/** The result for one database. */
export interface RestoreResult {
  /** Absolute path of the database. */
  readonly path: string;
  readonly outcome: RestoreOutcome;
  /** The generation restored from, for `restored`. */
  readonly generation?: string;
  readonly durationMs: number;
}

const inFlight = new Map<string, Promise<RestoreResult>>();

/**
 * Makes sure every database is in place before the app opens it, concurrently:
 * present → `exists` (no process started); missing → restored from the replica, checked
 * with `PRAGMA integrity_check`, then moved into place atomically; no backup anywhere →
 * `no-backup`, nothing created. Concurrent calls for the same database share one restore.
 *
 * @throws {@link ReplicaUnreachableError} when the replica cannot be reached or rejects
 * the credentials (after retrying for `restore.retryForMs`). No database file is created:
 * starting empty during an outage would fork the backup history.
 * @throws {@link RestoreError} when the restored file fails the integrity check.
 */
export async function ensureRestored(config: LitestreamConfig): Promise<RestoreResult[]> {
  const logger = childLogger(config.logger, { component: 'restore' });
  if (!config.enabled) {
    logger.info({ databases: config.databases.length }, 'litestream is disabled; not restoring');
    return config.databases.map((db) => ({ path: db.path, outcome: 'disabled', durationMs: 0 }));
  }
  let configFile: Promise<ConfigFile> | undefined;
  const sharedConfigFile = () => {
    configFile ??= writeConfigFile(config);
    return configFile;
  };
  try {
    const settled = await Promise.allSettled(
      config.databases.map((db) => restoreShared(config, db, logger, sharedConfigFile)),
    );
    const failure = settled.find((result) => result.status === 'rejected');
    if (failure) throw failure.reason;
    return settled.map((result) => (result as PromiseFulfilledResult<RestoreResult>).value);
  } finally {
    if (configFile) await (await configFile.catch(() => undefined))?.dispose();
  }
}

function restoreShared(
  config: LitestreamConfig,
  db: DatabaseConfig,
  logger: Logger,
  configFile: () => Promise<ConfigFile>,
): Promise<RestoreResult> {
  const running = inFlight.get(db.path);
  if (running) return running;
  const started = restoreOne(config, db, logger, configFile).finally(() => inFlight.delete(db.path));
  inFlight.set(db.path, started);
  return started;
}

async function restoreOne(
  config: LitestreamConfig,
  db: DatabaseConfig,
  logger: Logger,
  configFile: () => Promise<ConfigFile>,
): Promise<RestoreResult> {
  const startedAt = performance.now();
  const elapsed = () => Math.round(performance.now() - startedAt);
  if (await isPresent(db.path)) {
    logger.debug({ db: db.path }, 'database exists; no restore needed');
    return { path: db.path, outcome: 'exists', durationMs: elapsed() };
  }

  const binary = await resolveBinary(config.binaryPath);
  const file = await configFile();
  const createdDir = await mkdir(path.dirname(db.path), { recursive: true });
  const temp = path.join(path.dirname(db.path), `.${path.basename(db.path)}.restore-${randomBytes(6).toString('hex')}`);
  let placed = false;
  try {
    logger.info({ db: db.path }, 'database missing; restoring from replica');
    const generation = await downloadWithRetry(config, db, binary.path, file.path, temp, logger);
    if (generation === undefined) {
      await removeStaleCompanions(db.path);
      logger.info({ db: db.path }, 'no backup in the replica; a new database will be created');
      return { path: db.path, outcome: 'no-backup', durationMs: elapsed() };
    }

    if (config.restore.integrityCheck !== 'off') {
      const integrity = checkIntegrity(temp, config.restore.integrityCheck);
      if (!integrity.ok) {
        throw new RestoreError(
          `The backup of ${db.path} (generation ${generation}) failed the SQLite integrity check, so it was not put in place. Restore an earlier point in time with the CLI, or investigate the replica.`,
          { database: db.path, detail: integrity.problems.join('\n') },
        );
      }
    }

    await removeStaleCompanions(db.path);
    // An empty file (opened before the restore, never written) holds nothing: replace it.
    if ((await fileSize(db.path)) === 0) await removeFile(db.path);
    try {
      // link() refuses to replace an existing file, unlike rename(): if another process
      // put the database in place meanwhile, its copy wins and ours is discarded.
      await link(temp, db.path);
      placed = true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
        logger.warn({ db: db.path }, 'database appeared during the restore; keeping the existing file');
        return { path: db.path, outcome: 'exists', durationMs: elapsed() };
      }
      throw error;
    }
    logger.info({ db: db.path, generation, durationMs: elapsed() }, 'database restored');
    return { path: db.path, outcome: 'restored', generation, durationMs: elapsed() };
  } finally {
    await Promise.all(
      [temp, `${temp}.tmp`, `${temp}.tmp-wal`, `${temp}.tmp-shm`, `${temp}-wal`, `${temp}-shm`].map(removeFile),
    );
    if (!placed && createdDir !== undefined) await rm(createdDir, { recursive: true, force: true }).catch(() => {});
  }
}

/**
 * Runs `litestream restore -if-replica-exists` into `temp`, retrying transient failures
 * with exponential backoff until `restore.retryForMs` is spent. Resolves to the restored
 * generation, or undefined when the replica holds no backup.
 */
async function downloadWithRetry(
  config: LitestreamConfig,
  db: DatabaseConfig,
  binary: string,
  configPath: string,
  temp: string,
  logger: Logger,
): Promise<string | undefined> {
  const deadline = Date.now() + config.restore.retryForMs;
  const secrets = secretsOf(config);
  const args = ['restore', '-config', configPath, '-no-expand-env', '-if-replica-exists', '-o', temp, db.path];
  for (let attempt = 1; ; attempt++) {
    let generation: string | undefined;
    const onLine = (line: LitestreamLogLine) => {
      if (typeof line.fields.generation === 'string') generation = line.fields.generation;
      logger.debug({ db: db.path, ...line.fields }, redact(line.msg, secrets));
    };
    const result = await runCommand(binary, args, {
      env: childEnv(config),
      stallTimeoutMs: config.restore.stallTimeoutMs,
      progress: () => fileSize(`${temp}.tmp`),
      onLine,
    });
    if (result.exitCode === 0 && !result.stalled) {
      if (await isPresent(temp)) return generation ?? 'unknown';
      if (result.lines.some((line) => line.msg === 'no matching backups found')) return undefined;
      throw new RestoreError(`litestream restore of ${db.path} exited 0 but wrote no database.`, {
        database: db.path,
        detail: redact(errorOutput(result), secrets),
      });
    }

    const detail = redact(result.stalled ? 'no progress' : errorOutput(result), secrets);
    const kind = result.stalled ? 'transient' : classifyFailure(detail);
    await Promise.all([temp, `${temp}.tmp`, `${temp}.tmp-wal`, `${temp}.tmp-shm`].map(removeFile));
    const delay = Math.min(8_000, 250 * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2);
    if (kind === 'transient' && Date.now() + delay < deadline) {
      logger.warn(
        { db: db.path, attempt, retryInMs: Math.round(delay), error: detail },
        'replica unreachable; retrying',
      );
      await sleep(delay);
      continue;
    }
    throw replicaError(config, db, kind, detail, {
      doing: 'restore',
      attempts: attempt,
      retryForMs: config.restore.retryForMs,
      consequence:
        kind === 'transient'
          ? 'No database was created, so the app does not start on an empty database.'
          : 'No database was created.',
      otherError: RestoreError,
    });
  }
}

/** A database is present when its file has content, or a WAL that holds it. */
async function isPresent(file: string): Promise<boolean> {
  const size = await fileSize(file);
  if (size > 0) return true;
  if (size < 0) return false;
  // An empty main file (opened before the restore, never written) holds nothing unless its WAL does.
  return (await fileSize(`${file}-wal`)) > 0;
}

async function fileSize(file: string): Promise<number> {
  try {
    return (await stat(file)).size;
  } catch {
    return -1;
  }
}

/** A missing database's leftover WAL, shared memory and litestream state belong to an old copy. */
async function removeStaleCompanions(database: string): Promise<void> {
  const companions = companionFiles(database);
  await Promise.all([removeFile(companions.wal), removeFile(companions.shm)]);
  await rm(companions.metaDir, { recursive: true, force: true });
}

async function removeFile(file: string): Promise<void> {
  await unlink(file).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOENT') throw error;
  });
}
