import { existsSync } from 'node:fs';
import path from 'node:path';
import { describeReplica } from '../config/derived.js';
import type { LitestreamConfig } from '../config/types.js';
import type { RestoreNames } from '../engine/engine.js';
import { resolveRuntime } from '../engine/select.js';
import { LitestreamError, RestoreError } from '../errors.js';
import { findDatabase } from '../inspect/listings.js';
import { type LineageMemo, recordRestored } from '../lineage/check.js';
import { childLogger } from '../logging/logger.js';
import { writeConfigFile } from '../process/child-config.js';
import { throwIfAborted } from '../support/abort.js';
import { positionFields, restoreInto } from './ensure-restored.js';

export type { RestoreNames };

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
  /** Litestream 0.3: restore from this generation (see `generations()`); the latest one by default. */
  generation?: string;
  /** Litestream 0.3, with `generation`: restore up to this WAL index (a number, or hex as litestream prints it). */
  index?: number | string;
  /**
   * Litestream 0.5: restore the state as of this transaction id (see `ltx()`): a number, or
   * hex as litestream prints it (`000000000000002a`).
   */
  txid?: number | string;
  /** Gives the restore up: litestream is killed, its temp files removed, nothing is written to `output`. */
  signal?: AbortSignal;
}

/** What {@link restore} restored. */
export interface PointInTimeResult {
  /** The file written. */
  readonly path: string;
  /** Litestream 0.3: the generation restored from, when litestream named it. */
  readonly generation?: string;
  /** Litestream 0.5: the transaction id restored up to. */
  readonly txid?: number;
  /** Size of the restored database in bytes. */
  readonly size: number;
  readonly durationMs: number;
}

export const API_NAMES: RestoreNames = {
  output: 'output',
  timestamp: 'timestamp',
  generation: 'generation',
  index: 'index',
  txid: 'txid',
  listing: { '0.3': 'generations()', '0.5': 'ltx()' },
};

/**
 * Point-in-time recovery (the public `restore` in litestream.ts), with its messages naming
 * the options as `names` says; a copy put in place of the database is recorded in `lineage`
 * (the instance's, when it has one). @internal
 */
export async function restoreNamed(
  config: LitestreamConfig,
  options: RestoreOptions,
  names: RestoreNames,
  lineage?: LineageMemo,
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
  const runtime = await resolveRuntime(config);
  const target = await runtime.engine.planTarget(
    config,
    runtime,
    db,
    {
      timestamp: options.timestamp === undefined ? undefined : parseTimestamp(options.timestamp, names.timestamp),
      generation: options.generation,
      index: options.index === undefined ? undefined : parseIndex(options.index, names.index),
      txid: options.txid === undefined ? undefined : parseTxid(options.txid, names.txid),
    },
    names,
  );
  const file = await writeConfigFile(config, runtime.engine);
  const logger = childLogger(config.logger, { component: 'restore' });
  try {
    const result = await restoreInto(config, runtime, db, {
      output,
      target,
      configFile: file.path,
      logger,
      signal: options.signal,
      ifReplicaExists: true,
    });
    if (!result) {
      const asked = describe(options, names);
      throw new RestoreError(
        asked === undefined
          ? `There is no backup of ${db.path} in ${describeReplica(config, db)} yet: nothing was restored.`
          : `No backup of ${db.path} matches ${asked}: list them with ${names.listing[runtime.engine.family]}.`,
        { database: db.path },
      );
    }
    if (!result.placed) {
      throw new LitestreamError(`${names.output} ${output} appeared during the restore; it was left alone.`);
    }
    // Put in place: the next boot compares the copy by what was restored (a point in time
    // before the newest is a rollback, which the boot refuses unless told to keep it).
    if (output === db.path)
      await recordRestored(lineage, db.path, runtime.engine.lineage.markOf(result.position), logger);
    return Object.freeze({
      path: output,
      ...positionFields(result.position),
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
    options.txid === undefined ? '' : `${names.txid} ${String(options.txid)}`,
  ].filter(Boolean);
  return parts.length > 0 ? parts.join(', ') : undefined;
}

/** A `Date`, or an RFC 3339 string with a time zone. */
export function parseTimestamp(value: Date | string, name = API_NAMES.timestamp): Date {
  const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i;
  const date = typeof value === 'string' && RFC3339.test(value) ? new Date(value) : value;
  if (!(date instanceof Date) || Number.isNaN(date.getTime())) {
    throw new LitestreamError(
      `${name} ${JSON.stringify(String(value))} is not a valid time: use RFC 3339 with a zone, e.g. "2024-01-01T12:00:00Z".`,
    );
  }
  // Whether it is in the future is for the replica's clock to say (see refuseFuture).
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

/** A transaction id: a positive safe integer, or hex as litestream prints it (`000000000000002a`). */
export function parseTxid(value: number | string, name = API_NAMES.txid): number {
  const parsed =
    typeof value === 'number'
      ? value
      : /^(0x)?[0-9a-f]{1,16}$/i.test(value)
        ? Number.parseInt(value.replace(/^0x/i, ''), 16)
        : Number.NaN;
  if (!Number.isSafeInteger(parsed) || parsed < 1) {
    throw new LitestreamError(
      `${name} ${JSON.stringify(value)} is not a transaction id: use hex as litestream prints it (e.g. "000000000000002a") or a positive number.`,
    );
  }
  return parsed;
}
