import { existsSync } from 'node:fs';
import { secretsOf } from '../config/derived.js';
import { redact } from '../config/secret.js';
import type { DatabaseConfig, LitestreamConfig } from '../config/types.js';
import { LitestreamAbortError, LitestreamError } from '../errors.js';
import { childEnv, writeConfigFile } from '../process/child-config.js';
import { type CommandResult, errorOutput, runCommand } from '../process/run-command.js';
import { classifyFailure } from '../replica/failure-cause.js';
import { replicaError } from '../replica/failure-messages.js';
import type { Runtime } from './engine.js';

/** Options of the listings (`generations()`, `snapshots()`, `wal()`, `ltx()`, `databases()`). */
export interface ListingOptions {
  /** Gives the listing up: litestream is killed and the call rejects with {@link LitestreamAbortError}. */
  signal?: AbortSignal;
}

/** How {@link runListing} runs one listing command. @internal */
export interface ListingCommand {
  /** The command and its flags, e.g. `['ltx', '-json']`; the config and database follow. */
  readonly args: readonly string[];
  /** A verb phrase completed by the database path, for messages: `list the generations of`. */
  readonly doing: string;
  /** The command insists on a local database file even though it only reads the replica. */
  readonly needsLocalFile?: boolean;
}

/**
 * Runs a listing command with a private config file and returns what it printed. Litestream
 * 0.3 only logs a replica error and prints an empty table: any error line fails the listing
 * here, so an empty result always means "nothing there". @internal
 *
 * @throws {@link ReplicaUnreachableError} when the replica cannot be read.
 */
export async function runListing(
  config: LitestreamConfig,
  runtime: Runtime,
  db: DatabaseConfig | undefined,
  command: ListingCommand,
  { signal }: ListingOptions,
): Promise<CommandResult> {
  if (!config.enabled) {
    throw new LitestreamError(
      'litestream is disabled (LITESTREAM_ENABLED / enabled: false): enable it to read the replica.',
    );
  }
  await runtime.verified();
  // A fresh container has no local file yet.
  const standIns = db && command.needsLocalFile && !existsSync(db.path) ? [db.path] : [];
  const file = await writeConfigFile(config, runtime.engine, standIns);
  const name = command.args[0] ?? 'listing';
  try {
    const args = [...command.args, '-config', file.path, '-no-expand-env', ...(db ? [file.pathOf(db.path)] : [])];
    const result = await runCommand(runtime.binary, args, {
      env: childEnv(config, runtime.engine),
      stallTimeoutMs: 60_000,
      signal,
    });
    if (result.aborted)
      throw new LitestreamAbortError(`the ${name} listing`, signal?.reason, db ? { database: db.path } : {});
    const secrets = secretsOf(config);
    const errors = result.lines.filter((line) => line.level === 'error');
    if (result.exitCode !== 0 || errors.length > 0 || result.stalled) {
      const detail = redact(result.stalled ? 'no progress for 60 s' : errorOutput(result), secrets);
      const target = db ?? config.databases[0];
      if (!target) throw new LitestreamError(`litestream could not ${command.doing} the config: ${detail}`, { detail });
      throw replicaError(config, target, result.stalled ? 'transient' : classifyFailure(detail), detail, {
        doing: command.doing,
      });
    }
    return result;
  } finally {
    await file.dispose();
  }
}
