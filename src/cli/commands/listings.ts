/** \`backups\`, \`generations\`, \`snapshots\`, \`wal\`, \`ltx\` and \`databases\`: what the replica holds, as tables. */

import { formatGoDuration } from '../../config/duration.js';
import { formatTxid, formatWalIndex } from '../../engine/positions.js';
import {
  type ListingNamer,
  backups as listBackups,
  databases as listDatabases,
  listNamed,
} from '../../inspect/listings.js';
import type { Command } from '../command.js';
import { database, selected } from '../config.js';
import { show } from '../output.js';

/** A listing as this CLI runs it, for its error messages. */
export const cliName: ListingNamer = (listing) => `"litestream-node ${listing}"`;

export const generations: Command = async ({ config, positionals, json }) =>
  show(await listNamed('generations', config, database(config, positionals), {}, cliName), json, {
    replica: 'replica',
    generation: 'generation',
    lag: (row) => formatGoDuration(row.lagMs),
    start: (row) => row.start.toISOString(),
    end: (row) => row.end.toISOString(),
  });

export const snapshots: Command = async ({ config, positionals, json }) =>
  show(await listNamed('snapshots', config, database(config, positionals), {}, cliName), json, {
    replica: 'replica',
    generation: 'generation',
    index: (row) => formatWalIndex(row.index),
    size: 'size',
    created: (row) => row.createdAt.toISOString(),
  });

export const wal: Command = async ({ config, positionals, json }) =>
  show(await listNamed('wal', config, database(config, positionals), {}, cliName), json, {
    replica: 'replica',
    generation: 'generation',
    index: (row) => formatWalIndex(row.index),
    offset: 'offset',
    size: 'size',
    created: (row) => row.createdAt.toISOString(),
  });

export const backups: Command = async ({ config, positionals, json }) =>
  show(await listBackups(config, database(config, positionals)), json, {
    created: (row) => row.createdAt.toISOString(),
    kind: 'kind',
    size: 'size',
    position: (row) =>
      row.txid === undefined
        ? `--generation ${row.generation} --index ${formatWalIndex(row.index ?? 0)}`
        : `--txid ${formatTxid(row.txid)}`,
  });

export const ltx: Command = async ({ config, positionals, json }) =>
  show(await listNamed('ltx', config, database(config, positionals), {}, cliName), json, {
    level: 'level',
    min_txid: (row) => formatTxid(row.minTxid),
    max_txid: (row) => formatTxid(row.maxTxid),
    size: 'size',
    created: (row) => row.createdAt.toISOString(),
  });

export const databases: Command = async ({ config, positionals, json }) =>
  show(await listDatabases(selected(config, positionals)), json, {
    path: 'path',
    replicas: (row) => row.replicas.join(','),
  });
