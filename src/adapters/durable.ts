/**
 * Durable routes: a successful answer is held until the replica has every write committed
 * before it (`Litestream#sync()`), or replaced by a `503` when the replica cannot confirm
 * them. One wording and one check for the Fastify plugin's route option and the Express
 * middleware.
 *
 * @packageDocumentation
 */
import path from 'node:path';
import { LitestreamConfigError } from '../errors.js';
import type { Litestream } from '../litestream.js';
import { MAX_SYNC_TIMEOUT_MS } from '../replication/durable-sync.js';
import type { SyncOptions } from '../replication/types.js';

/** Options of a durable route (Fastify's `config.litestream.durable`, Express's `durable()`). */
export interface DurableRouteOptions {
  /**
   * How long the answer waits for the replica before it becomes a `503`. Default: the one of
   * `sync()` (10 s on Litestream 0.5.9+; the sync interval plus 10 s on 0.3, where a sync
   * waits for litestream's regular one: a value you set should stay above that wait).
   */
  timeoutMs?: number;
  /**
   * The databases whose writes must be in the replica (paths as configured; relative ones
   * are resolved against the working directory, as the config does). Default: every one.
   */
  databases?: readonly string[];
}

/** The status of an answer whose writes the replica did not confirm. */
export const NOT_DURABLE_STATUS = 503;

/**
 * Its body: fixed words, never a path or an error's text (the route may be public; the
 * reason goes to the log). The write itself was applied and stays in the local database.
 */
export const NOT_DURABLE_BODY: Readonly<{ error: string; message: string }> = Object.freeze({
  error: 'not durable',
  message:
    'the change was applied and saved on this server, but its replica did not confirm it: it is not confirmed durable yet',
});

/** Headers that describe the held answer's body, not the 503 that replaces it (lower case). */
export const BODY_HEADERS = new Set([
  'content-type',
  'content-length',
  'content-encoding',
  'content-language',
  'content-disposition',
  'content-range',
  'etag',
  'last-modified',
  'transfer-encoding',
]);

/** Only a successful answer waits for the replica; an error passes as it is. */
export function isSuccess(statusCode: number): boolean {
  return statusCode >= 200 && statusCode < 300;
}

/**
 * The `sync()` options a durable route's setting stands for; undefined when the route is
 * not durable. Throws a `LitestreamConfigError` naming `field` for a setting it cannot use.
 */
export function durableSyncOptions(setting: unknown, field: string): SyncOptions | undefined {
  if (setting === undefined || setting === false) return undefined;
  if (setting === true) return {};
  if (typeof setting !== 'object' || setting === null || Array.isArray(setting)) {
    throw new LitestreamConfigError([{ field, message: 'must be true, false or { timeoutMs?, databases? }' }]);
  }
  const { timeoutMs, databases, ...rest } = setting as Record<string, unknown>;
  const issues: { field: string; message: string }[] = Object.keys(rest).map((key) => ({
    field: `${field}.${key}`,
    message: 'is not an option of a durable route: it takes only timeoutMs and databases',
  }));
  if (
    timeoutMs !== undefined &&
    !(typeof timeoutMs === 'number' && Number.isFinite(timeoutMs) && timeoutMs > 0 && timeoutMs <= MAX_SYNC_TIMEOUT_MS)
  ) {
    issues.push({
      field: `${field}.timeoutMs`,
      message: `must be a positive number of milliseconds, at most ${MAX_SYNC_TIMEOUT_MS}`,
    });
  }
  if (
    databases !== undefined &&
    !(Array.isArray(databases) && databases.every((db) => typeof db === 'string' && db !== ''))
  ) {
    issues.push({ field: `${field}.databases`, message: 'must be a list of database paths' });
  }
  if (issues.length > 0) throw new LitestreamConfigError(issues);
  return {
    ...(timeoutMs === undefined ? {} : { timeoutMs: timeoutMs as number }),
    ...(databases === undefined ? {} : { databases: (databases as string[]).map((db) => path.resolve(db)) }),
  };
}

/**
 * Waits for the replica to hold every write committed before the call. Resolves to true once
 * it does (or litestream is disabled), to false when it cannot confirm them; the reason is
 * logged, with the databases it names.
 */
export async function confirmDurable(litestream: Litestream, options: SyncOptions): Promise<boolean> {
  try {
    await litestream.sync(options);
    return true;
  } catch (error) {
    litestream.config.logger.warn(
      { error: error instanceof Error ? error.message : String(error) },
      'a durable route answered 503: the replica did not confirm its writes (they stay in the local database)',
    );
    return false;
  }
}
