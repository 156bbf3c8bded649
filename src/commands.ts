import { existsSync } from 'node:fs';
import path from 'node:path';
import { resolveBinary } from './binary.js';
import { classifyFailure } from './classify.js';
import { type DatabaseConfig, type LitestreamConfig, secretsOf } from './config.js';
import { parseGoDuration } from './duration.js';
import { LitestreamAbortError, LitestreamError } from './errors.js';
import { childEnv, writeConfigFile } from './render.js';
import { replicaError } from './replica-errors.js';
import { errorOutput, runCommand } from './run.js';
import { redact } from './secret.js';

/** Options of the listings ({@link generations}, {@link snapshots}, {@link wal}, {@link databases}). */
export interface ListingOptions {
  /** Gives the listing up: litestream is killed and the call rejects with {@link LitestreamAbortError}. */
  signal?: AbortSignal;
}

/** One generation of a database in the replica (`litestream generations`). */
export interface GenerationRow {
  /** Replica name (`s3`, `file`, or the name given in a config file). */
  readonly replica: string;
  readonly generation: string;
  /**
   * How far the end of this generation is behind the local database's last change, or
   * behind now when the database is not there locally. Never negative: a replica written
   * after the last local change has all of it, which is a lag of 0 (litestream itself prints
   * a negative duration then, because the upload is stamped after the write).
   */
  readonly lagMs: number;
  readonly start: Date;
  readonly end: Date;
}

/** One snapshot (`litestream snapshots`). */
export interface SnapshotRow {
  readonly replica: string;
  readonly generation: string;
  readonly index: number;
  readonly size: number;
  readonly createdAt: Date;
}

/** One WAL segment (`litestream wal`). */
export interface WalRow {
  readonly replica: string;
  readonly generation: string;
  readonly index: number;
  readonly offset: number;
  readonly size: number;
  readonly createdAt: Date;
}

/** One database of the config (`litestream databases`). */
export interface DatabaseRow {
  readonly path: string;
  readonly replicas: readonly string[];
}

/**
 * The generations of `database` in its replica, oldest first (by start, then end; litestream
 * itself sorts them by their random id).
 *
 * @throws {@link ReplicaUnreachableError} when the replica cannot be read: litestream itself
 * only logs that and prints an empty table, but an empty list here always means "no backups".
 */
export async function generations(
  config: LitestreamConfig,
  database: string,
  options: ListingOptions = {},
): Promise<GenerationRow[]> {
  const db = findDatabase(config, database);
  const rows = await listing(config, db, ['generations'], 'list the generations of', options);
  return rows
    .map((row) => ({
      replica: text(row, 'name'),
      generation: text(row, 'generation'),
      lagMs: Math.max(0, parsed(row, 'lag', parseGoDuration)),
      start: date(row, 'start'),
      end: date(row, 'end'),
    }))
    .sort((a, b) => a.start.getTime() - b.start.getTime() || a.end.getTime() - b.end.getTime());
}

/**
 * The snapshots of `database` in its replica, oldest first: generations in the order they
 * began, then by index. Throws when the replica cannot be read.
 */
export async function snapshots(
  config: LitestreamConfig,
  database: string,
  options: ListingOptions = {},
): Promise<SnapshotRow[]> {
  const db = findDatabase(config, database);
  const rows = await listing(config, db, ['snapshots'], 'list the snapshots of', options);
  return inTimeOrder(rows.map(snapshotRow));
}

/** The columns `snapshots` and `wal` share. */
function snapshotRow(row: Row): SnapshotRow {
  return {
    replica: text(row, 'replica'),
    generation: text(row, 'generation'),
    index: integer(row, 'index'),
    size: integer(row, 'size'),
    createdAt: date(row, 'created'),
  };
}

/**
 * The WAL segments of `database` in its replica, oldest first: generations in the order
 * they began, then by index and offset. Throws when the replica cannot be read.
 */
export async function wal(config: LitestreamConfig, database: string, options: ListingOptions = {}): Promise<WalRow[]> {
  const db = findDatabase(config, database);
  const rows = await listing(config, db, ['wal'], 'list the WAL segments of', options);
  return inTimeOrder(rows.map((row) => ({ ...snapshotRow(row), offset: integer(row, 'offset') })));
}

/**
 * Orders snapshots or WAL segments by time. Litestream groups them by generation id (random
 * hex) and its timestamps are whole seconds, so sort generations by their first timestamp and,
 * within one, by position, which is time order too.
 */
function inTimeOrder<T extends { generation: string; index: number; offset?: number; createdAt: Date }>(
  rows: T[],
): T[] {
  const began = new Map<string, number>();
  for (const row of rows) {
    began.set(row.generation, Math.min(began.get(row.generation) ?? Infinity, row.createdAt.getTime()));
  }
  const start = (row: T) => began.get(row.generation) as number;
  return rows.sort(
    (a, b) =>
      start(a) - start(b) ||
      a.generation.localeCompare(b.generation) ||
      a.index - b.index ||
      (a.offset ?? 0) - (b.offset ?? 0),
  );
}

/** The databases litestream would replicate with this config, and their replicas. */
export async function databases(config: LitestreamConfig, options: ListingOptions = {}): Promise<DatabaseRow[]> {
  const rows = await listing(config, undefined, ['databases'], 'list the databases of', options);
  return rows.map((row) => ({ path: text(row, 'path'), replicas: text(row, 'replicas').split(',').filter(Boolean) }));
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

type Row = Readonly<Record<string, string>>;

/** Runs a listing command and returns its table as rows keyed by column name. */
async function listing(
  config: LitestreamConfig,
  db: DatabaseConfig | undefined,
  command: string[],
  doing: string,
  { signal }: ListingOptions,
): Promise<Row[]> {
  if (!config.enabled) {
    throw new LitestreamError(
      'litestream is disabled (LITESTREAM_ENABLED / enabled: false): enable it to read the replica.',
    );
  }
  const binary = await resolveBinary(config.binaryPath);
  // `generations` stats the local file to compute lag; a fresh container has none yet.
  const standIns = db && command[0] === 'generations' && !existsSync(db.path) ? [db.path] : [];
  const file = await writeConfigFile(config, standIns);
  try {
    const args = [...command, '-config', file.path, '-no-expand-env', ...(db ? [file.pathOf(db.path)] : [])];
    const result = await runCommand(binary.path, args, { env: childEnv(config), stallTimeoutMs: 60_000, signal });
    if (result.aborted)
      throw new LitestreamAbortError(`the ${command[0]} listing`, signal?.reason, db ? { database: db.path } : {});
    const secrets = secretsOf(config);
    const errors = result.lines.filter((line) => line.level === 'error');
    if (result.exitCode !== 0 || errors.length > 0 || result.stalled) {
      const detail = redact(result.stalled ? 'no progress for 60 s' : errorOutput(result), secrets);
      const target = db ?? config.databases[0];
      if (!target) throw new LitestreamError(`litestream could not ${doing} the config: ${detail}`, { detail });
      throw replicaError(config, target, result.stalled ? 'transient' : classifyFailure(detail), detail, { doing });
    }
    return parseTable(result.stdout);
  } finally {
    await file.dispose();
  }
}

/**
 * Parses litestream's tabwriter output: a header, then rows, columns separated by two or
 * more spaces. JSON log lines mixed into stdout are skipped.
 */
export function parseTable(stdout: string): Row[] {
  const lines = stdout.split('\n').filter((line) => line.trim() !== '' && !line.trimStart().startsWith('{'));
  const [header, ...body] = lines;
  if (header === undefined) return [];
  const columns = header.trim().split(/\s{2,}/);
  return body.map((line) => {
    const cells = line.trim().split(/\s{2,}/);
    return Object.fromEntries(columns.map((column, i) => [column, cells[i] ?? '']));
  });
}

function text(row: Row, column: string): string {
  const value = row[column];
  if (value === undefined) throw new LitestreamError(`litestream printed no "${column}" column: is it v0.3.x?`);
  return value;
}

function parsed<T>(row: Row, column: string, parse: (value: string) => T | undefined): T {
  const value = parse(text(row, column));
  if (value === undefined) {
    throw new LitestreamError(`litestream printed an unreadable ${column}: ${JSON.stringify(row[column])}`);
  }
  return value;
}

function integer(row: Row, column: string): number {
  return parsed(row, column, (value) => (/^\d+$/.test(value) ? Number(value) : undefined));
}

function date(row: Row, column: string): Date {
  return parsed(row, column, (value) => {
    const time = Date.parse(value);
    return Number.isNaN(time) ? undefined : new Date(time);
  });
}
