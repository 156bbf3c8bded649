import { parseGoDuration } from '../../config/duration.js';
import type { DatabaseConfig, LitestreamConfig } from '../../config/types.js';
import { LitestreamError } from '../../errors.js';
import type { BackupRow, Runtime } from '../engine.js';
import type { GenerationRow, SnapshotRow, WalRow } from '../listing-rows.js';
import { type ListingOptions, runListing } from '../run-listing.js';

/** The generations of `db`, oldest first (by start, then end; litestream sorts them by their random id). */
export async function listGenerations(
  config: LitestreamConfig,
  runtime: Runtime,
  db: DatabaseConfig,
  options: ListingOptions = {},
): Promise<GenerationRow[]> {
  const result = await runListing(
    config,
    runtime,
    db,
    {
      args: ['generations'],
      doing: 'list the generations of',
      // It stats the local file to compute the lag.
      needsLocalFile: true,
    },
    options,
  );
  return parseTable(result.stdout)
    .map((row) => ({
      replica: text(row, 'name'),
      generation: text(row, 'generation'),
      lagMs: Math.max(0, parsed(row, 'lag', parseGoDuration)),
      start: date(row, 'start'),
      end: date(row, 'end'),
    }))
    .sort((a, b) => a.start.getTime() - b.start.getTime() || a.end.getTime() - b.end.getTime());
}

/** The snapshots of `db`, oldest first: generations in the order they began, then by index. */
export async function listSnapshots(
  config: LitestreamConfig,
  runtime: Runtime,
  db: DatabaseConfig,
  options: ListingOptions = {},
): Promise<SnapshotRow[]> {
  const result = await runListing(
    config,
    runtime,
    db,
    { args: ['snapshots'], doing: 'list the snapshots of' },
    options,
  );
  return inTimeOrder(parseTable(result.stdout).map(snapshotRow));
}

/** The WAL segments of `db`, oldest first: generations in the order they began, then by index and offset. */
export async function listWal(
  config: LitestreamConfig,
  runtime: Runtime,
  db: DatabaseConfig,
  options: ListingOptions = {},
): Promise<WalRow[]> {
  const result = await runListing(config, runtime, db, { args: ['wal'], doing: 'list the WAL segments of' }, options);
  return inTimeOrder(parseTable(result.stdout).map((row) => ({ ...snapshotRow(row), offset: integer(row, 'offset') })));
}

/** The databases of the config and their replicas' names (`litestream databases`). */
export async function listDatabases(
  config: LitestreamConfig,
  runtime: Runtime,
  options: ListingOptions = {},
): Promise<{ path: string; replicas: string[] }[]> {
  const result = await runListing(
    config,
    runtime,
    undefined,
    { args: ['databases'], doing: 'list the databases of' },
    options,
  );
  return parseTable(result.stdout).map((row) => ({
    path: text(row, 'path'),
    replicas: text(row, 'replicas').split(',').filter(Boolean),
  }));
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

type Row = Readonly<Record<string, string>>;

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

/**
 * Every point the replica can restore to: each snapshot, and each WAL index (its segments
 * taken together), in time order. `restore({ generation, index })` restores up to one.
 */
export async function listBackups(
  config: LitestreamConfig,
  runtime: Runtime,
  db: DatabaseConfig,
  options: ListingOptions = {},
): Promise<BackupRow[]> {
  const [snapshots, segments] = await Promise.all([
    listSnapshots(config, runtime, db, options),
    listWal(config, runtime, db, options),
  ]);
  const indexes = new Map<string, BackupRow & { createdAt: Date; size: number }>();
  for (const segment of segments) {
    const key = `${segment.generation}/${segment.index}`;
    const row = indexes.get(key);
    if (row) {
      row.size += segment.size;
      if (segment.createdAt > row.createdAt) row.createdAt = segment.createdAt;
    } else {
      indexes.set(key, {
        createdAt: segment.createdAt,
        kind: 'changes',
        size: segment.size,
        generation: segment.generation,
        index: segment.index,
      });
    }
  }
  const rows: BackupRow[] = [
    ...snapshots.map((snapshot) => ({
      createdAt: snapshot.createdAt,
      kind: 'snapshot' as const,
      size: snapshot.size,
      generation: snapshot.generation,
      index: snapshot.index,
    })),
    ...indexes.values(),
  ];
  return rows
    .map((row) => Object.freeze({ ...row }))
    .sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime() || (a.kind === 'snapshot' ? -1 : 1));
}
