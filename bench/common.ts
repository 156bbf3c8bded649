// Helpers shared by the bench orchestrator (run.ts) and the processes it forks (child.ts, app.ts).
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import Database from 'better-sqlite3';
import type { LitestreamBinary, LitestreamFamily } from '../src/engine/binary.js';
import { processes } from '../test/support/proc.js';
import { ensureTool } from '../test/tools/install.mjs';
import { childrenOf, median, percentile } from './measure.js';

export { childrenOf, median, percentile };

/** Opens a database the way the README tells apps to, with `synchronous=NORMAL`. */
export function openDatabase(file: string): Database.Database {
  const db = new Database(file);
  // First: litestream may hold a lock on the file already, and switching the journal mode
  // without a busy timeout fails at once with "database is locked".
  db.pragma('busy_timeout = 5000');
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec('CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, label TEXT NOT NULL, body BLOB NOT NULL)');
  db.exec('CREATE INDEX IF NOT EXISTS items_label ON items (label)');
  return db;
}

/**
 * Creates a database of about `bytes`: 1 KiB rows (half random, half repetitive, so lz4
 * compresses them about as much as typical app data) and an index, checkpointed so the
 * whole content is in the main file.
 */
export function makeDatabase(file: string, bytes: number): void {
  const db = openDatabase(file);
  db.pragma('synchronous = OFF');
  const pool = randomBytes(16 * 1024 * 1024);
  const filler = Buffer.alloc(512, 'litestream-node bench row ');
  const insert = db.prepare('INSERT INTO items (label, body) VALUES (?, ?)');
  const batch = db.transaction((start: number, count: number) => {
    for (let i = start; i < start + count; i++) {
      const offset = (i * 7919) % (pool.length - 512);
      insert.run(`label-${i % 9973}`, Buffer.concat([pool.subarray(offset, offset + 512), filler]));
    }
  });
  const pageSize = Number(db.pragma('page_size', { simple: true }));
  let next = 0;
  // About 1 MiB per batch.
  while (Number(db.pragma('page_count', { simple: true })) * pageSize < bytes) {
    batch(next, 1_000);
    next += 1_000;
  }
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
}

/** Rows in `items`, or -1 when the file cannot be read. */
export function countRows(file: string): { count: number; maxId: number } {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const row = db.prepare('SELECT count(*) AS count, coalesce(max(id), 0) AS maxId FROM items').get() as {
      count: number;
      maxId: number;
    };
    return row;
  } finally {
    db.close();
  }
}

export interface WriteStats {
  rows: number;
  transactions: number;
  ms: number;
  lastId: number;
}

/**
 * Inserts ~100-byte rows for `durationMs`, `rowsPerTransaction` per transaction, yielding to
 * the event loop every few milliseconds as a web app between requests does (the
 * replicator's log pipe is read in those gaps).
 */
export async function writeFor(
  db: Database.Database,
  durationMs: number,
  rowsPerTransaction: number,
): Promise<WriteStats> {
  const insert = db.prepare('INSERT INTO items (label, body) VALUES (?, ?)');
  const body = Buffer.alloc(100, 'x');
  let lastId = 0;
  const many = db.transaction((count: number) => {
    for (let i = 0; i < count; i++) lastId = Number(insert.run('w', body).lastInsertRowid);
  });
  let rows = 0;
  let transactions = 0;
  const startedAt = performance.now();
  const end = startedAt + durationMs;
  for (let now = startedAt; now < end; now = performance.now()) {
    const sliceEnd = Math.min(end, now + 5);
    while (performance.now() < sliceEnd) {
      if (rowsPerTransaction === 1) lastId = Number(insert.run('w', body).lastInsertRowid);
      else many(rowsPerTransaction);
      rows += rowsPerTransaction;
      transactions++;
    }
    await yieldToLoop();
  }
  return { rows, transactions, ms: performance.now() - startedAt, lastId };
}

/** Resident set size of a process in bytes (from /proc), or NaN. */
export function rssOf(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = /^VmRSS:\s+(\d+) kB/m.exec(status)?.[1];
    return kb === undefined ? Number.NaN : Number(kb) * 1024;
  } catch {
    return Number.NaN;
  }
}

/**
 * Every live descendant of `root`, plus any process whose command line mentions
 * `marker` (a litestream orphaned by a killed child still names the bench's directory).
 */
export function benchProcesses(root: number, marker: string): number[] {
  const all = processes().filter((p) => p.state !== 'Z');
  const found = new Set<number>();
  let frontier = [root];
  while (frontier.length > 0) {
    const next: number[] = [];
    for (const p of all) {
      if (frontier.includes(p.ppid) && !found.has(p.pid)) {
        found.add(p.pid);
        next.push(p.pid);
      }
    }
    frontier = next;
  }
  for (const p of all) {
    if (p.pid === root || found.has(p.pid)) continue;
    try {
      if (readFileSync(`/proc/${p.pid}/cmdline`, 'utf8').includes(marker)) found.add(p.pid);
    } catch {}
  }
  return [...found];
}

/** Kills (SIGKILL) every process {@link benchProcesses} finds; returns how many. */
export function killBenchProcesses(root: number, marker: string): number {
  const pids = benchProcesses(root, marker);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {}
  }
  return pids.length;
}

/** Removes a database and what SQLite and Litestream keep beside it. */
export function removeDatabase(file: string): void {
  const dir = path.dirname(file);
  const name = path.basename(file);
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return;
  }
  for (const entry of entries) {
    if (
      entry === name ||
      entry.startsWith(`${name}-`) ||
      entry.startsWith(`.${name}`) ||
      entry.startsWith(`${name}.`)
    ) {
      rmSync(path.join(dir, entry), { recursive: true, force: true });
    }
  }
}

export const MiB = 1024 * 1024;

/**
 * Points the library in this process, and the children started with `childEnv`, at the
 * release line's executable: the bundled one for 0.3, the test suite's for 0.5.
 */
export async function useLitestream(line: LitestreamFamily, childEnv: NodeJS.ProcessEnv): Promise<LitestreamBinary> {
  // Loaded here, not at the top: the bench's children import this file, and their cold
  // starts load the built package alone.
  const { BINARY_ENV, resolveBinary } = await import('../src/engine/binary.js');
  if (line === '0.5') {
    const executable = (await ensureTool('litestream05')).binary;
    process.env[BINARY_ENV] = executable;
    childEnv[BINARY_ENV] = executable;
  } else {
    delete process.env[BINARY_ENV];
    delete childEnv[BINARY_ENV];
  }
  const binary = await resolveBinary();
  if (binary.family !== line) throw new Error(`expected litestream ${line}, found ${binary.version} (${binary.path})`);
  return binary;
}
