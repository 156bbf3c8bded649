import { existsSync } from 'node:fs';
import path from 'node:path';
import { throwIfAborted } from './abort.js';
import { findDatabase, generations, wal } from './commands.js';
import { describeReplica, type LitestreamConfig } from './config.js';
import { LitestreamError, RestoreError } from './errors.js';
import { childLogger } from './logger.js';
import { writeConfigFile } from './render.js';
import { restoreInto } from './restore.js';

/** What to restore, and to when. */
export interface RestoreOptions {
  /** The configured database to restore (its path). */
  database: string;
  /**
   * Where to write the restored database. Defaults to the database's own path, which
   * must then not exist: stop the app and move the file away first.
   */
  output?: string;
  /** Restore the state at this time (a `Date` or an RFC 3339 string such as `2024-01-01T12:00:00Z`). */
  timestamp?: Date | string;
  /** Restore from this generation (see `generations()`); the latest one by default. */
  generation?: string;
  /** With `generation`: restore up to this WAL index (a number, or hex as litestream prints it). */
  index?: number | string;
  /** Gives the restore up: litestream is killed, its temp files removed, nothing is written to `output`. */
  signal?: AbortSignal;
}

/** What {@link restore} restored. */
export interface PointInTimeResult {
  /** The file written. */
  readonly path: string;
  /** The generation restored from, when litestream named it. */
  readonly generation: string | undefined;
  /** Size of the restored database in bytes. */
  readonly size: number;
  readonly durationMs: number;
}

/**
 * How messages name the options of {@link restore}: the API's keys, or the CLI's flags, so
 * that each caller is told what to change in its own words. @internal
 */
export interface RestoreNames {
  readonly output: string;
  readonly timestamp: string;
  readonly generation: string;
  readonly index: string;
  /** How to list the generations. */
  readonly generations: string;
}

const API_NAMES: RestoreNames = {
  output: 'output',
  timestamp: 'timestamp',
  generation: 'generation',
  index: 'index',
  generations: 'generations()',
};

/**
 * Point-in-time recovery: restores `database` as it was at `timestamp`, or at a
 * `generation` (and `index`), into `output`. The result goes through a temp file and an
 * integrity check, and never replaces an existing file.
 *
 * @throws {@link LitestreamError} naming the bad option (a timestamp that is not a date or
 * lies in the future, an index that is not hex, a generation the replica does not have,
 * an existing output file).
 * @throws {@link RestoreError} when no backup matches, or the result fails its integrity check.
 */
export function restore(config: LitestreamConfig, options: RestoreOptions): Promise<PointInTimeResult> {
  return restoreNamed(config, options, API_NAMES);
}

/** {@link restore}, with its messages naming the options as `names` says. @internal */
export async function restoreNamed(
  config: LitestreamConfig,
  options: RestoreOptions,
  names: RestoreNames,
): Promise<PointInTimeResult> {
  const startedAt = performance.now();
  if (!config.enabled) {
    throw new LitestreamError('litestream is disabled (LITESTREAM_ENABLED / enabled: false): enable it to restore.');
  }
  throwIfAborted(options.signal, 'restore');
  const db = findDatabase(config, options.database);
  const output = path.resolve(options.output ?? db.path);
  if (existsSync(output)) {
    throw new LitestreamError(
      output === db.path
        ? `${output} exists, and restore never overwrites a database: pass ${names.output} with a new path, or stop the app and move the file away first.`
        : `${names.output} ${output} exists: choose a path that does not exist.`,
      { database: db.path },
    );
  }
  const timestamp = options.timestamp === undefined ? undefined : parseTimestamp(options.timestamp, names.timestamp);
  const index = options.index === undefined ? undefined : parseIndex(options.index, names.index);
  if (index !== undefined && options.generation === undefined) {
    throw new LitestreamError(
      `${names.index} needs a generation: pass ${names.generation} (see ${names.generations}) with ${names.index}.`,
    );
  }
  if (index !== undefined && timestamp !== undefined) {
    throw new LitestreamError(`${names.timestamp} and ${names.index} exclude each other: pass one of them.`);
  }

  // The listing is only needed to check a generation or place a timestamp.
  const known = options.generation !== undefined || timestamp !== undefined ? await generations(config, db.path) : [];
  if (options.generation !== undefined && !known.some((row) => row.generation === options.generation)) {
    const list = known.map((row) => row.generation).join(', ') || 'none';
    throw new LitestreamError(
      `${names.generation} ${JSON.stringify(options.generation)} is not in the replica of ${db.path} (it has: ${list}).`,
      { database: db.path },
    );
  }
  if (index !== undefined) {
    const indexes = (await wal(config, db.path))
      .filter((row) => row.generation === options.generation)
      .map((row) => row.index);
    const highest = Math.max(-1, ...indexes);
    if (index > highest) {
      throw new LitestreamError(
        `${names.index} ${index.toString(16)} is past the last WAL index of generation ${options.generation} (${highest < 0 ? 'none' : highest.toString(16)}).`,
        { database: db.path },
      );
    }
  }
  if (timestamp !== undefined) {
    const earliest = known.reduce<Date | undefined>(
      (min, row) => (min && min < row.start ? min : row.start),
      undefined,
    );
    if (earliest && timestamp < earliest) {
      throw new RestoreError(
        `${names.timestamp} ${timestamp.toISOString()} is before the first backup of ${db.path} (${earliest.toISOString()}): choose a later time.`,
        { database: db.path },
      );
    }
  }

  // Litestream only restores a timestamp that falls inside a generation. Between two
  // generations (the app restarted on a fresh copy), the state at that time is all of the
  // generation that ended before it.
  let generation = options.generation;
  let useTimestamp = timestamp !== undefined;
  if (timestamp !== undefined && generation === undefined) {
    const inside = known.some((row) => row.start <= timestamp && timestamp <= row.end);
    const before = known.filter((row) => row.end <= timestamp).sort((a, b) => b.end.getTime() - a.end.getTime())[0];
    if (!inside && before) {
      generation = before.generation;
      useTimestamp = false;
    }
  }
  const flags = [
    ...(timestamp && useTimestamp ? ['-timestamp', timestamp.toISOString()] : []),
    ...(generation ? ['-generation', generation] : []),
    ...(index !== undefined ? ['-index', index.toString(16)] : []),
  ];
  const file = await writeConfigFile(config);
  try {
    const result = await restoreInto(config, db, {
      output,
      flags,
      configFile: file.path,
      logger: childLogger(config.logger, { component: 'restore' }),
      signal: options.signal,
    });
    if (!result) {
      const target = describe(options, names);
      throw new RestoreError(
        target === undefined
          ? `There is no backup of ${db.path} in ${describeReplica(config, db)} yet: nothing was restored.`
          : `No backup of ${db.path} matches ${target}: list them with ${names.generations}.`,
        { database: db.path },
      );
    }
    if (!result.placed) {
      throw new LitestreamError(`${names.output} ${output} appeared during the restore; it was left alone.`);
    }
    return Object.freeze({
      path: output,
      generation: result.generation,
      size: result.size,
      durationMs: Math.round(performance.now() - startedAt),
    });
  } finally {
    await file.dispose();
  }
}

/** The requested point, or undefined for the latest state. */
function describe(options: RestoreOptions, names: RestoreNames): string | undefined {
  const parts = [
    options.timestamp === undefined ? '' : `${names.timestamp} ${String(options.timestamp)}`,
    options.generation === undefined ? '' : `${names.generation} ${options.generation}`,
    options.index === undefined ? '' : `${names.index} ${String(options.index)}`,
  ].filter(Boolean);
  return parts.length > 0 ? parts.join(', ') : undefined;
}

/** A `Date`, or an RFC 3339 string with a time zone. Not in the future. */
export function parseTimestamp(value: Date | string, name = API_NAMES.timestamp): Date {
  const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i;
  const date = typeof value === 'string' && RFC3339.test(value) ? new Date(value) : value;
  if (!(date instanceof Date) || Number.isNaN(date.getTime())) {
    throw new LitestreamError(
      `${name} ${JSON.stringify(String(value))} is not a valid time: use RFC 3339 with a zone, e.g. "2024-01-01T12:00:00Z".`,
    );
  }
  if (date.getTime() > Date.now()) {
    throw new LitestreamError(`${name} ${date.toISOString()} is in the future: choose a time that has passed.`);
  }
  return date;
}

/** A WAL index: a non-negative integer, or hex as litestream prints it (`0000002a`). */
export function parseIndex(value: number | string, name = API_NAMES.index): number {
  const parsed =
    typeof value === 'number'
      ? value
      : /^(0x)?[0-9a-f]{1,8}$/i.test(value)
        ? Number.parseInt(value.replace(/^0x/i, ''), 16)
        : Number.NaN;
  if (!Number.isInteger(parsed) || parsed < 0 || parsed > 0x7fffffff) {
    throw new LitestreamError(
      `${name} ${JSON.stringify(value)} is not a WAL index: use hex as litestream prints it (e.g. "0000001f") or a non-negative number.`,
    );
  }
  return parsed;
}
