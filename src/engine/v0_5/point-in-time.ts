import type { DatabaseConfig, LitestreamConfig } from '../../config/types.js';
import { LitestreamError, LitestreamVersionError, RestoreError } from '../../errors.js';
import type { PointInTimeRequest, RestoreNames, RestoreTarget, Runtime } from '../engine.js';
import { formatTxid } from '../positions.js';
import { refuseFuture } from '../timestamp-bounds.js';
import { listLtx } from './ltx.js';

/**
 * Litestream 0.5's point-in-time restore: a transaction id or a timestamp, checked against
 * the replica's LTX files before litestream runs.
 */
export async function planTarget(
  config: LitestreamConfig,
  runtime: Runtime,
  db: DatabaseConfig,
  request: PointInTimeRequest,
  names: RestoreNames,
): Promise<RestoreTarget> {
  const { timestamp, txid } = request;
  if (request.generation !== undefined || request.index !== undefined) {
    throw new LitestreamVersionError(
      request.generation !== undefined ? names.generation : names.index,
      '0.3',
      await runtime.verified(),
      `restore a position with ${names.txid} (a transaction id listed by ${names.listing['0.5']}), or a time with ${names.timestamp}`,
      { database: db.path },
    );
  }
  if (txid !== undefined && timestamp !== undefined) {
    throw new LitestreamError(`${names.timestamp} and ${names.txid} exclude each other: pass one of them.`);
  }
  if (txid === undefined && timestamp === undefined) return {};
  const files = await listLtx(config, runtime, db);
  const times = files.map((file) => file.createdAt.getTime());
  // Files are stamped in whole seconds: the newest holds changes up to the end of its second.
  const newestEnd = files.length === 0 ? undefined : Math.max(...times) + 1_000;
  if (timestamp !== undefined)
    refuseFuture(timestamp, newestEnd === undefined ? undefined : new Date(newestEnd - 1), names.timestamp);
  if (files.length === 0) return txid === undefined ? { timestamp } : { txid };
  if (txid !== undefined) {
    const last = Math.max(...files.map((file) => file.maxTxid));
    if (txid > last) {
      throw new LitestreamError(
        `${names.txid} ${formatTxid(txid)} is past the last transaction in the replica of ${db.path} (${formatTxid(last)}).`,
        { database: db.path },
      );
    }
    return { txid };
  }
  const when = timestamp as Date;
  const oldest = Math.min(...times);
  // Litestream refuses a time outside its files' seconds, even "now": the state at a time
  // after the newest file is the latest state.
  if (when.getTime() >= (newestEnd as number)) return {};
  if (when.getTime() < oldest) {
    throw new RestoreError(
      `${names.timestamp} ${when.toISOString()} is before the first backup of ${db.path} (${new Date(oldest).toISOString()}): choose a later time.`,
      { database: db.path },
    );
  }
  return { timestamp: when };
}
