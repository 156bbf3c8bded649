import type { DatabaseConfig, LitestreamConfig } from '../../config/types.js';
import { LitestreamError, LitestreamVersionError, RestoreError } from '../../errors.js';
import type { PointInTimeRequest, RestoreNames, RestoreTarget, Runtime } from '../engine.js';
import { refuseFuture } from '../timestamp-bounds.js';
import { listGenerations, listWal } from './listings.js';

/**
 * Litestream 0.3's point-in-time restore: a generation (and WAL index) or a timestamp,
 * checked against the replica's generations before litestream runs.
 */
export async function planTarget(
  config: LitestreamConfig,
  runtime: Runtime,
  db: DatabaseConfig,
  request: PointInTimeRequest,
  names: RestoreNames,
): Promise<RestoreTarget> {
  const { timestamp, generation, index } = request;
  if (request.txid !== undefined) {
    throw new LitestreamVersionError(
      names.txid,
      '0.5',
      await runtime.verified(),
      `restore a position with ${names.generation} (and ${names.index}), listed by ${names.listing['0.3']}`,
      { database: db.path },
    );
  }
  if (index !== undefined && generation === undefined) {
    throw new LitestreamError(
      `${names.index} needs a generation: pass ${names.generation} (see ${names.listing['0.3']}) with ${names.index}.`,
    );
  }
  if (index !== undefined && timestamp !== undefined) {
    throw new LitestreamError(`${names.timestamp} and ${names.index} exclude each other: pass one of them.`);
  }
  // The listing is only needed to check a generation or place a timestamp.
  const known = generation !== undefined || timestamp !== undefined ? await listGenerations(config, runtime, db) : [];
  if (generation !== undefined && !known.some((row) => row.generation === generation)) {
    const list = known.map((row) => row.generation).join(', ') || 'none';
    throw new LitestreamError(
      `${names.generation} ${JSON.stringify(generation)} is not in the replica of ${db.path} (it has: ${list}).`,
      { database: db.path },
    );
  }
  if (index !== undefined) {
    const indexes = (await listWal(config, runtime, db))
      .filter((row) => row.generation === generation)
      .map((row) => row.index);
    const highest = Math.max(-1, ...indexes);
    if (index > highest) {
      throw new LitestreamError(
        `${names.index} ${index.toString(16)} is past the last WAL index of generation ${generation} (${highest < 0 ? 'none' : highest.toString(16)}).`,
        { database: db.path },
      );
    }
  }
  if (timestamp !== undefined) {
    const newest = known.reduce<Date | undefined>((max, row) => (max && max > row.end ? max : row.end), undefined);
    refuseFuture(timestamp, newest, names.timestamp);
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
    // Litestream only restores a timestamp that falls inside a generation. Between two
    // generations (the app restarted on a fresh copy), the state at that time is all of the
    // generation that ended before it.
    if (generation === undefined) {
      const inside = known.some((row) => row.start <= timestamp && timestamp <= row.end);
      const before = known.filter((row) => row.end <= timestamp).sort((a, b) => b.end.getTime() - a.end.getTime())[0];
      if (!inside && before) return { generation: before.generation };
    }
  }
  return {
    ...(timestamp === undefined ? {} : { timestamp }),
    ...(generation === undefined ? {} : { generation }),
    ...(index === undefined ? {} : { index }),
  };
}
