#!/usr/bin/env node
/**
 * `litestream-node`: list backups, restore to a point in time, verify and check replication,
 * from the same environment variables as the app (or an existing litestream.yml with
 * `--config`), with no hand-written YAML.
 *
 * Exit codes: 0 success, 1 failure (one line on stderr), 2 usage error, 130/143 interrupted
 * by SIGINT/SIGTERM (what the command started is cleaned up first).
 *
 * @packageDocumentation
 */
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { backupStatus } from './backup-status.js';
import { backups, databases, findDatabase, type ListingNamer, listNamed } from './commands.js';
import { type LitestreamConfig, refusingHeldReplicas, withDatabases } from './config.js';
import { formatGoDuration } from './duration.js';
import type { Runtime } from './engine/engine.js';
import { formatTxid, formatWalIndex, describePosition as positionOf } from './engine/positions.js';
import { resolveRuntime } from './engine/select.js';
import { configFromEnv, ENV } from './env.js';
import { LitestreamError } from './errors.js';
import { formatJson, formatTable } from './format.js';
import type { Logger } from './logger.js';
import { type RestoreNames, restoreNamed } from './pitr.js';
import { replicate } from './replicate.js';
import { runApp } from './run-app.js';
import { type VerificationReport, verify } from './verify.js';

/** A usage error: exit code 2. */
class UsageError extends Error {}

interface Io {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: Readonly<Record<string, string | undefined>>;
  isTTY: boolean;
}

const COMMON = `Configuration comes from the environment, as for the app:
  LITESTREAM_S3_BUCKET, LITESTREAM_S3_ENDPOINT, LITESTREAM_S3_REGION,
  LITESTREAM_ACCESS_KEY_ID, LITESTREAM_SECRET_ACCESS_KEY (LITESTREAM_ENABLED defaults to
  true here) — or from --config path/to/litestream.yml.
The databases are the DB arguments; without one, LITESTREAM_DATABASES (comma-separated
paths) or the config file's dbs. When LITESTREAM_DATABASES is set, a DB must be one of them.

Options:
  --config FILE   use this litestream.yml instead of the environment
  --json          print JSON instead of a table
  -h, --help      show this help`;

const HELP: Record<string, string> = {
  main: `Usage: litestream-node <command> [options]

Commands:
  backups [DB]       list every point a database can be restored to (either version)
  generations [DB]   list the generations of a database's backups (Litestream 0.3)
  snapshots [DB]     list its snapshots (Litestream 0.3)
  wal [DB]           list its WAL segments (Litestream 0.3)
  ltx [DB]           list its LTX files (Litestream 0.5)
  databases [DB...]  list the configured databases and their replicas
  restore [DB]       restore a database (point-in-time with --timestamp; a position with
                     --generation and --index on Litestream 0.3, --txid on 0.5)
  verify [DB]        prove the backup works end to end (sentinel row, sync, restore, check)
  status [DB...]     replication and backup state of every database
  config [DB...]     print the generated litestream.yml, secrets masked
  run [DB...] -- COMMAND [ARGS...]
                     restore, replicate, run COMMAND (any app, unchanged), then make the
                     final sync and exit with COMMAND's own status

DB may be omitted when only one database is configured.
Run "litestream-node <command> --help" for a command's options.

${COMMON}`,
  backups: `Usage: litestream-node backups [DB] [--json]

Lists every point DB can be restored to, oldest first: each snapshot and each later change,
when it reached the replica, and its position as "restore" takes it (--generation G --index I
on Litestream 0.3, --txid N on 0.5).`,
  generations: 'Usage: litestream-node generations [DB] [--json]\n\nLists the generations of DB in the replica.',
  snapshots: 'Usage: litestream-node snapshots [DB] [--json]\n\nLists the snapshots of DB in the replica.',
  wal: 'Usage: litestream-node wal [DB] [--json]\n\nLists the WAL segments of DB in the replica.',
  ltx: 'Usage: litestream-node ltx [DB] [--json]\n\nLists the LTX files of DB in the replica, at every level (Litestream 0.5).',
  databases: 'Usage: litestream-node databases [DB...] [--json]\n\nLists the configured databases and their replicas.',
  restore: `Usage: litestream-node restore [DB] [-o OUTPUT] [--timestamp T | --generation G [--index I] | --txid N] [--json]

Restores DB from the replica into OUTPUT (default: DB's own path, which must not exist).
Never overwrites a file. The result is integrity-checked before it is put in place.

  -o, --output FILE    where to write the restored database
  --timestamp T        the state at time T (RFC 3339, e.g. 2024-01-01T12:00:00Z)
  --generation G       Litestream 0.3: restore from generation G (see "generations")
  --index I            Litestream 0.3, with --generation: up to WAL index I (hex, as "wal" prints it)
  --txid N             Litestream 0.5: up to transaction N (hex, as "ltx" prints it)`,
  verify: `Usage: litestream-node verify [DB] [--timeout MS] [--json]

Writes a sentinel row to DB, waits until it reaches the replica, restores the replica to a
temp file, checks the row and PRAGMA integrity_check, then removes everything it created.
If no app is replicating DB, litestream-node replicates it for the duration of the check.`,
  status:
    'Usage: litestream-node status [DB...] [--json]\n\nShows, per database, who replicates it and the newest backup.',
  config:
    'Usage: litestream-node config [DB...]\n\nPrints the litestream.yml litestream-node generates, secrets masked.',
  run: `Usage: litestream-node run [DB...] [--metrics-port PORT [--health-details]] [--pass-secrets] -- COMMAND [ARGS...]

Restores every missing database (as the app's ensureRestored does: no backup yet starts
empty; an unreachable replica fails without starting COMMAND), starts replication, then runs
COMMAND with this environment (less litestream-node's own secrets: see --pass-secrets),
its output, and the signals this process gets (SIGTERM,
SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2) passed on. When COMMAND exits, makes the final
sync and exits with COMMAND's status (128 + the signal's number if a signal ended it; 127
if it could not be started). Alerts (LITESTREAM_HEARTBEAT_URL, LITESTREAM_ALERT_WEBHOOK_URL)
work as in the app.

  --metrics-port PORT  serve GET /metrics (Prometheus; databases labelled by file name)
                       and GET /health (200 when healthy, 503 otherwise, with
                       {state, healthy, reason}) on 127.0.0.1:PORT
  --health-details     /health also shows the full status: absolute database paths,
                       litestream's pid, error text, the lease holder's host and pid
  --pass-secrets       give COMMAND LITESTREAM_ACCESS_KEY_ID, LITESTREAM_SECRET_ACCESS_KEY,
                       LITESTREAM_HEARTBEAT_URL and LITESTREAM_ALERT_WEBHOOK_URL too
                       (by default they are removed from its environment; litestream
                       still gets them)`,
};

const COMMANDS = new Set(Object.keys(HELP).filter((name) => name !== 'main'));
/** Commands that act on one database; the others take any number. */
const ONE_DATABASE = new Set(['backups', 'generations', 'snapshots', 'wal', 'ltx', 'restore', 'verify']);

/** Runs the CLI with `argv` (without node and script); resolves to the exit code. */
export async function main(argv: readonly string[], io: Io = processIo()): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  const { own, app } = splitCommand(argv);
  try {
    parsed = parse(own);
  } catch (error) {
    io.stderr(`litestream-node: ${(error as Error).message}\nRun "litestream-node --help" for usage.\n`);
    return 2;
  }
  const { command, values, positionals } = parsed;
  if (values.help) {
    io.stdout(`${HELP[command ?? 'main']}\n`);
    return 0;
  }
  if (command === undefined) {
    io.stderr(`${HELP.main}\n`);
    return 2;
  }
  // Ctrl-C or SIGTERM gives a restore or verify up cleanly: litestream killed, temp files removed.
  const interrupted = new AbortController();
  let exitCode = 1;
  const onSignal = (signal: NodeJS.Signals) => {
    exitCode = signal === 'SIGINT' ? 130 : 143;
    interrupted.abort(new Error(`interrupted by ${signal}`));
  };
  const abortable = command === 'restore' || command === 'verify';
  if (abortable) {
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  }
  try {
    checkFlags(command, values);
    // `run` handles signals itself: it passes them on to the app.
    if (command === 'run') return await runCommand(values, positionals, app, io);
    const config = loadConfig(command, values.config, positionals, io);
    const output = await run(command, config, values, positionals, interrupted.signal);
    if (io.isTTY) io.stderr('\r\x1b[2K');
    if (output !== undefined) io.stdout(output.endsWith('\n') ? output : `${output}\n`);
    return 0;
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr(`litestream-node ${command}: ${error.message}\nRun "litestream-node ${command} --help" for usage.\n`);
      return 2;
    }
    const message = error instanceof Error ? error.message.split('\n').join(' ') : String(error);
    io.stderr(`${io.isTTY ? '\r\x1b[2K' : ''}litestream-node ${command}: ${message}\n`);
    return exitCode;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

function parse(argv: readonly string[]) {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: {
      config: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
      output: { type: 'string', short: 'o' },
      timestamp: { type: 'string' },
      generation: { type: 'string' },
      index: { type: 'string' },
      txid: { type: 'string' },
      timeout: { type: 'string' },
      'metrics-port': { type: 'string' },
      'health-details': { type: 'boolean' },
      'pass-secrets': { type: 'boolean' },
    },
  });
  const [command, ...rest] = positionals;
  if (command !== undefined && !COMMANDS.has(command)) throw new Error(`unknown command "${command}"`);
  return { command, values, positionals: rest };
}

/** `run`'s arguments: what comes before `--` is litestream-node's, what follows is the app's command. */
function splitCommand(argv: readonly string[]): { own: readonly string[]; app: readonly string[] | undefined } {
  const at = argv.indexOf('--');
  if (argv[0] !== 'run' || at === -1) return { own: argv, app: undefined };
  return { own: argv.slice(0, at), app: argv.slice(at + 1) };
}

type Values = ReturnType<typeof parse>['values'];

/** `run`: the app's command between a restore and a final sync; resolves to its exit status. */
async function runCommand(
  values: Values,
  positionals: string[],
  app: readonly string[] | undefined,
  io: Io,
): Promise<number> {
  const [command, ...args] = app ?? [];
  if (command === undefined) {
    throw new UsageError('which command? Put it after --, e.g. litestream-node run -- node server.js');
  }
  const port = values['metrics-port'];
  const metricsPort = port === undefined ? undefined : Number(port);
  if (metricsPort !== undefined && (!Number.isInteger(metricsPort) || metricsPort < 0 || metricsPort > 65_535)) {
    throw new UsageError('--metrics-port takes a port number, e.g. 9090');
  }
  if (values['health-details'] && metricsPort === undefined) {
    throw new UsageError('--health-details needs --metrics-port: it changes what /health there answers');
  }
  const config = loadConfig('run', values.config, positionals, io);
  return runApp(config, command, args, {
    metricsPort,
    healthDetails: values['health-details'] === true,
    passSecrets: values['pass-secrets'] === true,
    onMetricsListening: (listening) =>
      io.stderr(`litestream-node: metrics on http://127.0.0.1:${listening}/metrics, health on /health\n`),
  });
}

/** Refuses a flag the command does not take. */
function checkFlags(command: string, values: Values): void {
  const allowed: Record<string, (keyof Values)[]> = {
    restore: ['output', 'timestamp', 'generation', 'index', 'txid'],
    verify: ['timeout'],
    run: ['metrics-port', 'health-details', 'pass-secrets'],
  };
  const flags = [
    'output',
    'timestamp',
    'generation',
    'index',
    'txid',
    'timeout',
    'metrics-port',
    'health-details',
    'pass-secrets',
  ] as const;
  for (const flag of flags) {
    if (values[flag] !== undefined && !allowed[command]?.includes(flag)) {
      throw new UsageError(`--${flag} does not apply to "${command}"`);
    }
  }
}

/** A listing as this CLI runs it, for its error messages. */
const cliName: ListingNamer = (listing) => `"litestream-node ${listing}"`;

/** The restore options as this CLI spells them, for its error messages. */
const CLI_NAMES: RestoreNames = {
  output: '--output',
  timestamp: '--timestamp',
  generation: '--generation',
  index: '--index',
  txid: '--txid',
  listing: { '0.3': '"litestream-node generations DB"', '0.5': '"litestream-node ltx DB"' },
};

/**
 * The config from the environment (or --config). The DB arguments are the databases when
 * nothing else lists them, so the connection variables alone are enough.
 */
function loadConfig(
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

async function run(
  command: string,
  config: LitestreamConfig,
  values: Values,
  positionals: string[],
  signal: AbortSignal,
): Promise<string | undefined> {
  const json = values.json === true;
  switch (command) {
    case 'generations':
      return show(await listNamed('generations', config, database(config, positionals), {}, cliName), json, {
        replica: 'replica',
        generation: 'generation',
        lag: (row) => formatGoDuration(row.lagMs),
        start: (row) => row.start.toISOString(),
        end: (row) => row.end.toISOString(),
      });
    case 'snapshots':
      return show(await listNamed('snapshots', config, database(config, positionals), {}, cliName), json, {
        replica: 'replica',
        generation: 'generation',
        index: (row) => formatWalIndex(row.index),
        size: 'size',
        created: (row) => row.createdAt.toISOString(),
      });
    case 'wal':
      return show(await listNamed('wal', config, database(config, positionals), {}, cliName), json, {
        replica: 'replica',
        generation: 'generation',
        index: (row) => formatWalIndex(row.index),
        offset: 'offset',
        size: 'size',
        created: (row) => row.createdAt.toISOString(),
      });
    case 'backups':
      return show(await backups(config, database(config, positionals)), json, {
        created: (row) => row.createdAt.toISOString(),
        kind: 'kind',
        size: 'size',
        position: (row) =>
          row.txid === undefined
            ? `--generation ${row.generation} --index ${formatWalIndex(row.index ?? 0)}`
            : `--txid ${formatTxid(row.txid)}`,
      });
    case 'ltx':
      return show(await listNamed('ltx', config, database(config, positionals), {}, cliName), json, {
        level: 'level',
        min_txid: (row) => formatTxid(row.minTxid),
        max_txid: (row) => formatTxid(row.maxTxid),
        size: 'size',
        created: (row) => row.createdAt.toISOString(),
      });
    case 'databases':
      return show(await databases(selected(config, positionals)), json, {
        path: 'path',
        replicas: (row) => row.replicas.join(','),
      });
    case 'restore': {
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
      const position = positionOf(result);
      const from = position === undefined ? '' : result.txid === undefined ? ` from ${position}` : ` up to ${position}`;
      return json
        ? formatJson(result)
        : `restored ${result.path}${from} (${result.size} bytes) in ${result.durationMs} ms`;
    }
    case 'verify': {
      const db = database(config, positionals);
      const timeoutMs = values.timeout === undefined ? 60_000 : Number(values.timeout);
      if (!Number.isInteger(timeoutMs) || timeoutMs <= 0)
        throw new UsageError('--timeout takes milliseconds, e.g. 60000');
      const report = await verifyWithReplicator(config, db, timeoutMs, signal);
      const position = positionOf(report);
      const from = position === undefined ? '' : ` ${position},`;
      if (json) return formatJson(report);
      const changes = describeChanges(report);
      return `verified ${report.database}:${from} ${report.restoredSize} bytes restored, ${report.durationMs} ms${changes ? `\n${changes}` : ''}`;
    }
    case 'status':
      return show(await backupStatus(selected(config, positionals)), json, {
        database: 'path',
        local: (row) => (row.localExists ? 'yes' : 'missing'),
        replicating: (row) =>
          row.replicating ? (row.replicatedBy === 'this process' ? 'yes' : `yes (pid ${row.replicatedBy})`) : 'no',
        position: (row) => row.generation ?? (row.txid === undefined ? '-' : formatTxid(row.txid)),
        'last backup': (row) => row.lastBackupAt?.toISOString() ?? 'none',
        age: (row) => (row.lastBackupAgeMs === undefined ? '-' : formatGoDuration(row.lastBackupAgeMs)),
      });
    case 'config':
      return maskedYaml(selected(config, positionals), await resolveRuntime(config));
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

/** What `verify` did to the replica beyond the check itself, when it had to replicate. */
interface ReplicatedForCheck {
  /** No app replicated the database, so this command did for the duration of the check. */
  readonly replicatedForCheck: true;
  /** The replica held a backup before the check. */
  readonly hadBackup: boolean;
  /** Litestream 0.3: the generation litestream started for it, when it did not continue the newest one. */
  readonly newGeneration: string | undefined;
  /** Litestream 0.3: the newest generation before the check. */
  readonly previousGeneration: string | undefined;
  /** The final sync (which carries the removal of the check's row) reached the replica. */
  readonly finalSyncLanded: boolean;
}

/**
 * `verify` needs a replicator: the app's, or one started here for the check. Starting one
 * changes the replica in a way the user must be told about (see {@link describeChanges}).
 */
async function verifyWithReplicator(
  config: LitestreamConfig,
  db: string,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<VerificationReport & Partial<ReplicatedForCheck>> {
  try {
    return await verify(config, db, { timeoutMs, signal });
  } catch (error) {
    if (!(error instanceof LitestreamError) || (error as { step?: string }).step !== 'replicating') throw error;
  }
  // Only this database: another one may be missing locally and would never sync.
  // An app replicating it elsewhere holds its lease: refused at once, not waited for.
  const single = refusingHeldReplicas(withDatabases(config, [db]));
  const runtime = await resolveRuntime(single);
  const before = await runtime.engine.newestBackup(single, runtime, findDatabase(single, db));
  const previousGeneration = before?.generation;
  const replication = replicate(single);
  let report: VerificationReport;
  try {
    await replication.started;
    report = await verify(single, db, { timeoutMs, signal }, replication);
  } catch (error) {
    await replication.stop();
    throw error;
  }
  const stopped = await replication.stop();
  return {
    ...report,
    replicatedForCheck: true,
    hadBackup: before !== undefined,
    newGeneration: report.generation !== previousGeneration ? report.generation : undefined,
    previousGeneration,
    finalSyncLanded: stopped.clean,
  };
}

/** Plain sentences on what a `verify` that replicated by itself changed in the replica. */
function describeChanges(report: Partial<ReplicatedForCheck>): string {
  if (!report.replicatedForCheck) return '';
  const lines = ['No app was replicating it, so litestream-node replicated it for the duration of the check.'];
  if (!report.hadBackup) {
    const which = report.newGeneration === undefined ? '' : ` (generation ${report.newGeneration})`;
    lines.push(`The replica held no backup of it before; it now holds one${which} of the database as it is.`);
  } else if (report.newGeneration !== undefined) {
    lines.push(
      `Litestream started a new generation (${report.newGeneration}) in the replica, as it does whenever it resumes a database that was closed since it last ran; the previous one (${report.previousGeneration}) stays until the retention period removes it.`,
    );
  }
  lines.push(
    report.finalSyncLanded
      ? 'The latest backup holds the same data as the local database: the check removed its row again, and that removal reached the replica.'
      : "The final sync did not complete, so the latest backup may still hold the check's table (_litestream_node_verify): run verify again, or start the app, to replace it.",
  );
  return lines.join('\n');
}

function database(config: LitestreamConfig, positionals: string[]): string {
  const [given] = positionals;
  if (given !== undefined) return findDatabase(config, given).path;
  if (config.databases.length === 1) return (config.databases[0] as { path: string }).path;
  throw new UsageError(`name the database: one of ${config.databases.map((db) => db.path).join(', ')}`);
}

/** The config limited to the DB arguments, when there are any. */
function selected(config: LitestreamConfig, positionals: string[]): LitestreamConfig {
  if (positionals.length === 0) return config;
  return withDatabases(
    config,
    positionals.map((given) => findDatabase(config, given).path),
  );
}

type Column<T> = keyof T | ((row: T) => string);

function show<T extends object>(rows: readonly T[], json: boolean, columns: Record<string, Column<T>>): string {
  if (json) return formatJson(rows);
  const cells = rows.map((row) =>
    Object.values(columns).map((column) =>
      typeof column === 'function' ? column(row) : String((row as Record<string, unknown>)[column as string] ?? ''),
    ),
  );
  return formatTable(Object.keys(columns), cells);
}

/** The generated YAML with every credential shown as `[redacted]`. */
function maskedYaml(config: LitestreamConfig, runtime: Runtime): string {
  const yaml = runtime.engine.renderYaml(config);
  if (config.credentials) {
    return `${yaml}\n# Credentials: in litestream's environment (LITESTREAM_ACCESS_KEY_ID=[redacted], LITESTREAM_SECRET_ACCESS_KEY=[redacted]).\n`;
  }
  if (config.replica?.type === 's3')
    return `${yaml}\n# Credentials: none configured; litestream uses the AWS default chain.\n`;
  return yaml;
}

/** On a terminal: what is happening, with elapsed time, overwritten in place. */
function progressLogger(io: Io): Logger {
  const started = Date.now();
  const show = (fields: object, message?: string) => {
    // The library's own fields, or litestream's (nested under `litestream`) on its restore lines.
    type Position = { generation?: string; index?: number };
    const given = fields as Position & { litestream?: Position };
    const detail = { ...given.litestream, ...given };
    const what = [message, detail.generation, detail.index === undefined ? '' : `index ${detail.index}`]
      .filter(Boolean)
      .join(' ');
    io.stderr(`\r\x1b[2K[${((Date.now() - started) / 1000).toFixed(1)}s] ${what}`);
  };
  return {
    debug: show,
    info: show,
    warn: (fields, message) => io.stderr(`\r\x1b[2Kwarning: ${message} ${JSON.stringify(fields)}\n`),
    error: (fields, message) => io.stderr(`\r\x1b[2Kerror: ${message} ${JSON.stringify(fields)}\n`),
  };
}

/** When piped: only warnings and errors, one line each. */
function quietLogger(io: Io): Logger {
  const noop = () => {};
  return {
    debug: noop,
    info: noop,
    warn: (fields, message) => io.stderr(`warning: ${message} ${JSON.stringify(fields)}\n`),
    error: noop,
  };
}

/** For `run`: warnings and errors beside the app's own output, one line each, prefixed. */
function appLogger(io: Io): Logger {
  const noop = () => {};
  const line = (level: string) => (fields: object, message?: string) =>
    io.stderr(`litestream-node ${level}: ${message ?? ''} ${JSON.stringify(fields)}\n`);
  return { debug: noop, info: noop, warn: line('warning'), error: line('error') };
}

function processIo(): Io {
  return {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    env: process.env,
    isTTY: process.stderr.isTTY === true,
  };
}

// Run when executed (the bin, possibly through a symlink), not when imported.
if (process.argv[1] && import.meta.url === pathToFileURL(realPath(process.argv[1])).href) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}

function realPath(file: string): string {
  try {
    return realpathSync(file);
  } catch {
    return file;
  }
}
