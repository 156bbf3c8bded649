import path from 'node:path';
import type { DatabaseConfig, LitestreamConfig } from '../config/types.js';
import type { BackupRow, ListingNamer, VersionedListing, VersionedListings } from '../engine/engine.js';
import type { GenerationRow, LtxRow, SnapshotRow, WalRow } from '../engine/listing-rows.js';
import type { ListingOptions } from '../engine/run-listing.js';
import { familyWithListing, resolveRuntime } from '../engine/select.js';
import { LitestreamError, LitestreamVersionError } from '../errors.js';

export type { BackupRow, GenerationRow, ListingNamer, ListingOptions, LtxRow, SnapshotRow, WalRow };

/** One database of the config (`litestream databases`). */
export interface DatabaseRow {
  readonly path: string;
  readonly replicas: readonly string[];
}

/**
 * Every point the replica of `database` can restore to, oldest first, on either Litestream
 * version: each snapshot and each later change, with when it reached the replica. A row
 * names its position as `restore()` takes it — `generation` and `index` on Litestream 0.3,
 * `txid` on 0.5 — so `restore(config, { database, ...row })` restores up to it.
 *
 * @throws {@link ReplicaUnreachableError} when the replica cannot be read.
 */
export async function backups(
  config: LitestreamConfig,
  database: string,
  options: ListingOptions = {},
): Promise<BackupRow[]> {
  const db = findDatabase(config, database);
  const runtime = await resolveRuntime(config);
  return runtime.engine.listBackups(config, runtime, db, options);
}

/**
 * The generations of `database` in its replica, oldest first (by start, then end; litestream
 * itself sorts them by their random id). Litestream 0.3 only: 0.5 has no generations (see
 * {@link ltx}).
 *
 * @throws {@link ReplicaUnreachableError} when the replica cannot be read: litestream itself
 * only logs that and prints an empty table, but an empty list here always means "no backups".
 * @throws {@link LitestreamVersionError} on Litestream 0.5.
 */
export async function generations(
  config: LitestreamConfig,
  database: string,
  options: ListingOptions = {},
): Promise<GenerationRow[]> {
  return listNamed('generations', config, database, options, apiName);
}

/**
 * The snapshots of `database` in its replica, oldest first: generations in the order they
 * began, then by index. Litestream 0.3 only (see {@link ltx} for 0.5). Throws when the
 * replica cannot be read.
 */
export async function snapshots(
  config: LitestreamConfig,
  database: string,
  options: ListingOptions = {},
): Promise<SnapshotRow[]> {
  return listNamed('snapshots', config, database, options, apiName);
}

/**
 * The WAL segments of `database` in its replica, oldest first: generations in the order
 * they began, then by index and offset. Litestream 0.3 only (see {@link ltx} for 0.5).
 * Throws when the replica cannot be read.
 */
export async function wal(config: LitestreamConfig, database: string, options: ListingOptions = {}): Promise<WalRow[]> {
  return listNamed('wal', config, database, options, apiName);
}

/**
 * The LTX files of `database` in its replica, at every compaction level, oldest first.
 * Litestream 0.5 only (see {@link generations}, {@link snapshots} and {@link wal} for 0.3).
 * Throws when the replica cannot be read.
 *
 * @throws {@link LitestreamVersionError} on Litestream 0.3.
 */
export async function ltx(config: LitestreamConfig, database: string, options: ListingOptions = {}): Promise<LtxRow[]> {
  return listNamed('ltx', config, database, options, apiName);
}

const apiName: ListingNamer = (listing) => `${listing}()`;

/**
 * A listing that exists for one release line: run when the config's executable is of that
 * line; otherwise a {@link LitestreamVersionError} names, as `name` spells them, the
 * listings that do the job on the line in use. @internal
 */
export async function listNamed<K extends VersionedListing>(
  listing: K,
  config: LitestreamConfig,
  database: string,
  options: ListingOptions,
  name: ListingNamer,
): Promise<VersionedListings[K][]> {
  const db = findDatabase(config, database);
  const runtime = await resolveRuntime(config);
  const list = runtime.engine.listings.own[listing];
  if (list === undefined) {
    const either = `${name('backups')} lists the points it can restore to on either version`;
    const instead = `${runtime.engine.listings.instead(listing, name)}; ${either}`;
    throw new LitestreamVersionError(
      name(listing),
      await familyWithListing(listing),
      await runtime.verified(),
      instead,
    );
  }
  return list(config, runtime, db, options);
}

/** The databases litestream would replicate with this config, and their replicas. */
export async function databases(config: LitestreamConfig, options: ListingOptions = {}): Promise<DatabaseRow[]> {
  const runtime = await resolveRuntime(config);
  return runtime.engine.listDatabases(config, runtime, options);
}

/** The config's entry for `database` (a path, resolved against the current directory). */
export function findDatabase(config: LitestreamConfig, database: string): DatabaseConfig {
  const absolute = path.resolve(database);
  const found = config.databases.find((db) => db.path === absolute);
  if (!found) {
    const known = config.databases.map((db) => db.path).join(', ');
    throw new LitestreamError(`${absolute} is not one of the configured databases (${known}): pass one of those.`, {
      database: absolute,
    });
  }
  return found;
}
