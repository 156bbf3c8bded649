/** The config a CLI command runs with, and the databases its arguments name. */

import { withDatabases } from '../config/derived.js';
import { configFromEnv, ENV } from '../config/from-env.js';
import type { LitestreamConfig } from '../config/types.js';
import { findDatabase } from '../inspect/listings.js';
import { ONE_DATABASE, UsageError } from './arguments.js';
import { appLogger, type Io, progressLogger, quietLogger } from './io.js';

/**
 * The config from the environment (or --config). The DB arguments are the databases when
 * nothing else lists them, so the connection variables alone are enough.
 */
export function loadConfig(
  command: string,
  configFile: string | undefined,
  positionals: readonly string[],
  io: Io,
): LitestreamConfig {
  const logger = command === 'run' ? appLogger(io) : io.isTTY ? progressLogger(io) : quietLogger(io);
  const listed = [io.env[ENV.databases], io.env[ENV.configFile], configFile].some((value) => value?.trim());
  if (!listed && positionals.length === 0) {
    const example = ONE_DATABASE.has(command) ? 'DB' : 'DB...';
    throw new UsageError(
      `which database? Name it (litestream-node ${command} ${example}, e.g. storage/production.sqlite3), set ${ENV.databases} to the SQLite files (comma-separated), or pass --config litestream.yml`,
    );
  }
  if (ONE_DATABASE.has(command) && positionals.length > 1) {
    throw new UsageError(`expected one database, got ${positionals.length}`);
  }
  // A CLI invocation means "use litestream": only an explicit false turns it off. --config
  // goes in as LITESTREAM_CONFIG, its variable, which messages about the file name.
  const env = {
    ...io.env,
    [ENV.enabled]: io.env[ENV.enabled] ?? 'true',
    ...(configFile === undefined ? {} : { [ENV.configFile]: configFile }),
  };
  return configFromEnv(env, { logger, ...(listed ? {} : { databases: positionals }) });
}

/** The one database a command acts on: its argument, or the only one configured. */
export function database(config: LitestreamConfig, positionals: readonly string[]): string {
  const [given] = positionals;
  if (given !== undefined) return findDatabase(config, given).path;
  if (config.databases.length === 1) return (config.databases[0] as { path: string }).path;
  throw new UsageError(`name the database: one of ${config.databases.map((db) => db.path).join(', ')}`);
}

/** The config limited to the DB arguments, when there are any. */
export function selected(config: LitestreamConfig, positionals: readonly string[]): LitestreamConfig {
  if (positionals.length === 0) return config;
  return withDatabases(
    config,
    positionals.map((given) => findDatabase(config, given).path),
  );
}
