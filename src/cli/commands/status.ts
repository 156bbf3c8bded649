/** \`status\`: per database, who replicates it and the newest backup. */

import { formatGoDuration } from '../../config/duration.js';
import { formatTxid } from '../../engine/positions.js';
import { backupStatus } from '../../litestream.js';
import type { Command } from '../command.js';
import { selected } from '../config.js';
import { show } from '../output.js';

export const status: Command = async ({ config, positionals, json }) =>
  show(await backupStatus(selected(config, positionals)), json, {
    database: 'path',
    local: (row) => (row.localExists ? 'yes' : 'missing'),
    replicating: (row) =>
      row.replicating ? (row.replicatedBy === 'this process' ? 'yes' : `yes (pid ${row.replicatedBy})`) : 'no',
    position: (row) => row.generation ?? (row.txid === undefined ? '-' : formatTxid(row.txid)),
    'last backup': (row) => row.lastBackupAt?.toISOString() ?? 'none',
    age: (row) => (row.lastBackupAgeMs === undefined ? '-' : formatGoDuration(row.lastBackupAgeMs)),
  });
