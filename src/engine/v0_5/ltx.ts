import type { DatabaseConfig, LitestreamConfig } from '../../config/types.js';
import { LitestreamError } from '../../errors.js';
import type { BackupRow, Runtime } from '../engine.js';
import type { LtxRow } from '../listing-rows.js';
import { parseTxid } from '../positions.js';
import { type ListingOptions, runListing } from '../run-listing.js';

/** The LTX files of `db` at every level, oldest first (then by level and transaction id). */
export async function listLtx(
  config: LitestreamConfig,
  runtime: Runtime,
  db: DatabaseConfig,
  options: ListingOptions = {},
): Promise<LtxRow[]> {
  const result = await runListing(
    config,
    runtime,
    db,
    { args: ['ltx', '-level', 'all', '-json'], doing: 'list the LTX files of' },
    options,
  );
  return parseLtxJson(result.stdout).sort(
    (a, b) => a.createdAt.getTime() - b.createdAt.getTime() || a.level - b.level || a.minTxid - b.minTxid,
  );
}

/**
 * Parses `ltx -json`: a JSON array (printed over several lines), possibly after JSON log
 * lines, each of which is one line.
 */
export function parseLtxJson(stdout: string): LtxRow[] {
  const start = stdout.search(/^\[/m);
  if (start === -1) throw new LitestreamError('litestream ltx printed no JSON list: is it v0.5.x?');
  let rows: unknown;
  try {
    rows = JSON.parse(stdout.slice(start));
  } catch (cause) {
    throw new LitestreamError('litestream ltx printed unreadable JSON.', {
      cause,
      detail: stdout.slice(start, start + 500),
    });
  }
  if (!Array.isArray(rows)) throw new LitestreamError('litestream ltx printed no JSON list.');
  return rows.map((row: Record<string, unknown>) => {
    const minTxid = parseTxid(row.min_txid);
    const maxTxid = parseTxid(row.max_txid);
    const createdAt = typeof row.timestamp === 'string' ? new Date(row.timestamp) : undefined;
    if (
      typeof row.level !== 'number' ||
      minTxid === undefined ||
      maxTxid === undefined ||
      typeof row.size !== 'number' ||
      createdAt === undefined ||
      Number.isNaN(createdAt.getTime())
    ) {
      throw new LitestreamError(`litestream ltx printed an unreadable row: ${JSON.stringify(row)}`);
    }
    return Object.freeze({ level: row.level, minTxid, maxTxid, size: row.size, createdAt });
  });
}

/**
 * Every point the replica can restore to: one per last transaction id, from the finest level
 * that has it (level 0 keeps each sync for a few minutes, higher levels merge them), in time
 * order. A file that starts at transaction 1, or one of the snapshot level (9), is a full copy.
 * `restore({ txid })` restores up to one.
 */
export async function listLtxBackups(
  config: LitestreamConfig,
  runtime: Runtime,
  db: DatabaseConfig,
  options: ListingOptions = {},
): Promise<BackupRow[]> {
  const finest = new Map<number, LtxRow>();
  for (const file of await listLtx(config, runtime, db, options)) {
    const known = finest.get(file.maxTxid);
    if (!known || file.level < known.level) finest.set(file.maxTxid, file);
  }
  return [...finest.values()]
    .map((file) =>
      Object.freeze({
        createdAt: file.createdAt,
        kind: file.level === SNAPSHOT_LEVEL || file.minTxid === 1 ? ('snapshot' as const) : ('changes' as const),
        size: file.size,
        txid: file.maxTxid,
      }),
    )
    .sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime() || a.txid - b.txid);
}

/** The compaction level that holds full snapshots. */
const SNAPSHOT_LEVEL = 9;
