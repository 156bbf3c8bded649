import path from 'node:path';
import type { LitestreamFamily } from './binary.js';
import type { DatabaseConfig, LitestreamConfig } from './config.js';
import type { BackupRow, Runtime } from './engine/engine.js';
import { resolveRuntime } from './engine/select.js';
import {
  type GenerationRow,
  listGenerations,
  listSnapshots,
  listWal,
  type SnapshotRow,
  type WalRow,
} from './engine/v0_3/listings.js';
import { type LtxRow, listLtx } from './engine/v0_5/ltx.js';
import { LitestreamError, LitestreamVersionError } from './errors.js';
import type { ListingOptions } from './listing.js';

export type { BackupRow, GenerationRow, ListingOptions, LtxRow, SnapshotRow, WalRow };

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

/** The listings that exist for one release line only, and the rows each gives. */
interface VersionedListings {
  generations: GenerationRow;
  snapshots: SnapshotRow;
  wal: WalRow;
  ltx: LtxRow;
}

/** A listing's name as a message shows it: `ltx()` to the API's users, `"litestream-node ltx"` to the CLI's. @internal */
export type ListingNamer = (listing: keyof VersionedListings | 'backups') => string;

const apiName: ListingNamer = (listing) => `${listing}()`;

/** Each listing: the release line it needs, what it runs, and what does its job on the other line. */
const LISTINGS: {
  readonly [K in keyof VersionedListings]: {
    readonly family: LitestreamFamily;
    readonly list: (
      config: LitestreamConfig,
      runtime: Runtime,
      db: DatabaseConfig,
      options: ListingOptions,
    ) => Promise<VersionedListings[K][]>;
    readonly equivalent: (name: ListingNamer) => string;
  };
} = {
  generations: {
    family: '0.3',
    list: listGenerations,
    equivalent: (name) => `${name('ltx')} lists its LTX files, with their TXIDs and times`,
  },
  snapshots: {
    family: '0.3',
    list: listSnapshots,
    equivalent: (name) => `${name('ltx')} lists its snapshots as the files of the highest level`,
  },
  wal: {
    family: '0.3',
    list: listWal,
    equivalent: (name) => `${name('ltx')} lists its LTX files (level 0 holds the recent changes)`,
  },
  ltx: {
    family: '0.5',
    list: listLtx,
    equivalent: (name) =>
      `${name('generations')} lists its backups, ${name('snapshots')} and ${name('wal')} what each holds`,
  },
};

/**
 * A listing that exists for one release line: run when the config's executable is of that
 * line; otherwise a {@link LitestreamVersionError} names, as `name` spells them, the
 * listings that do the job on the line in use. @internal
 */
export async function listNamed<K extends keyof VersionedListings>(
  listing: K,
  config: LitestreamConfig,
  database: string,
  options: ListingOptions,
  name: ListingNamer,
): Promise<VersionedListings[K][]> {
  const db = findDatabase(config, database);
  const runtime = await resolveRuntime(config);
  const { family, list, equivalent } = LISTINGS[listing];
  if (runtime.engine.family !== family) {
    const either = `${name('backups')} lists the points it can restore to on either version`;
    throw new LitestreamVersionError(name(listing), family, await runtime.verified(), `${equivalent(name)}; ${either}`);
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
