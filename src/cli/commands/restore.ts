/** \`restore\`: a database from its replica, the latest state or a point in time, never over a file. */
import { describePosition } from '../../engine/positions.js';
import { type RestoreNames, restoreNamed } from '../../restore/point-in-time.js';
import type { Command } from '../command.js';
import { database } from '../config.js';
import { formatJson } from '../format.js';

/** The restore options as this CLI spells them, for its error messages. */
const CLI_NAMES: RestoreNames = {
  output: '--output',
  timestamp: '--timestamp',
  generation: '--generation',
  index: '--index',
  txid: '--txid',
  listing: { '0.3': '"litestream-node generations DB"', '0.5': '"litestream-node ltx DB"' },
};

export const restore: Command = async ({ config, values, positionals, json, signal }) => {
  const result = await restoreNamed(
    config,
    {
      database: database(config, positionals),
      ...(values.output === undefined ? {} : { output: values.output }),
      ...(values.timestamp === undefined ? {} : { timestamp: values.timestamp }),
      ...(values.generation === undefined ? {} : { generation: values.generation }),
      ...(values.index === undefined ? {} : { index: values.index }),
      ...(values.txid === undefined ? {} : { txid: values.txid }),
      signal,
    },
    CLI_NAMES,
  );
  if (json) return formatJson(result);
  const position = describePosition(result);
  const from = position === undefined ? '' : result.txid === undefined ? ` from ${position}` : ` up to ${position}`;
  return `restored ${result.path}${from} (${result.size} bytes) in ${result.durationMs} ms`;
};
