import { statSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Worker } from 'node:worker_threads';
import { loadSqlite, loadWorkerThreads } from '../support/load-on-use.js';

/** Result of a SQLite integrity check. */
export interface IntegrityResult {
  readonly ok: boolean;
  /**
   * True when SQLite could not open or read the file at all (missing, not a database,
   * unreadable), as opposed to a database that failed the check.
   */
  readonly unreadable: boolean;
  /** The first problems SQLite reported (or why the file could not be read), when not ok. */
  readonly problems: readonly string[];
}

/** SQLite's default SQLITE_MAX_MMAP_SIZE; larger values are clamped to it anyway. */
const MAX_MMAP_SIZE = 0x7fff0000;

/**
 * Files up to this size are checked on the calling thread. A full check of 10 MiB took
 * ~10 ms here, 32 MiB ~26 ms (one index; more indexes cost more): 16 MiB stalls the event
 * loop for ~13 ms at most, while a worker thread costs ~30 ms of CPU to start (its isolate
 * and better-sqlite3), paid during the download on the same cores, and its termination.
 */
export const MAIN_THREAD_MAX_BYTES = 16 * 1024 * 1024;

// The worker's whole program. It is evaluated as a script (not a file beside this module)
// so that it runs the same from the TypeScript sources and from the build, and it is given
// better-sqlite3's resolved path so that it loads the copy this package depends on.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.sqlite);
parentPort.on('message', ({ id, file, mode }) => {
  let db;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
    // Reading through a memory map makes the check about a third faster on large files.
    // The file is ours alone (a restore's temp file) and read-only: nothing can shrink it.
    db.pragma('mmap_size = ${MAX_MMAP_SIZE}');
    const rows = db.pragma(mode === 'full' ? 'integrity_check(20)' : 'quick_check(20)');
    parentPort.postMessage({ id, problems: rows.map((row) => String(Object.values(row)[0])) });
  } catch (error) {
    parentPort.postMessage({ id, error: String(error && error.message || error), code: error && error.code });
  } finally {
    if (db) db.close();
  }
});
`;

interface Reply {
  readonly id: number;
  readonly problems?: string[];
  readonly error?: string;
  readonly code?: string;
}

interface Pending {
  readonly resolve: (result: IntegrityResult) => void;
}

/** One worker thread and the check it is running, if any. */
class CheckWorker {
  readonly #worker: Worker;
  readonly #pending = new Map<number, Pending>();
  #nextId = 0;
  #failure: string | undefined;

  constructor(sqlite: string) {
    this.#worker = new (loadWorkerThreads().Worker)(WORKER_SOURCE, { eval: true, workerData: { sqlite } });
    // An idle checker never keeps the app's process alive.
    this.#worker.unref();
    this.#worker.on('message', (reply: Reply) => {
      const pending = this.#pending.get(reply.id);
      this.#pending.delete(reply.id);
      pending?.resolve(toResult(reply));
    });
    const fail = (reason: string) => {
      this.#failure ??= reason;
      for (const pending of this.#pending.values()) pending.resolve(unchecked(reason));
      this.#pending.clear();
    };
    this.#worker.on('error', (error) => fail(`the integrity check's worker thread failed: ${error.message}`));
    this.#worker.on('exit', (code) => fail(`the integrity check's worker thread exited (${code})`));
  }

  /** Checks sent to it and not answered yet. */
  get load(): number {
    return this.#pending.size;
  }

  check(file: string, mode: 'full' | 'quick'): Promise<IntegrityResult> {
    if (this.#failure !== undefined) return Promise.resolve(unchecked(this.#failure));
    const id = this.#nextId++;
    const answer = new Promise<IntegrityResult>((resolve) => this.#pending.set(id, { resolve }));
    // Held while a check runs: its answer is awaited.
    this.#worker.ref();
    this.#worker.postMessage({ id, file, mode });
    return answer.finally(() => {
      if (this.#pending.size === 0) this.#worker.unref();
    });
  }

  async terminate(): Promise<void> {
    await this.#worker.terminate();
  }
}

/**
 * Runs `PRAGMA integrity_check` (or `quick_check`) on closed database files, read-only.
 * Files up to {@link MAIN_THREAD_MAX_BYTES} are checked on the calling thread, one after the
 * other (a few ms each; a worker would cost more to start than the check itself). Larger
 * ones go to worker threads: a full check reads every page (about 1.4 s per GiB), and on the
 * main thread it would stall the app's event loop — health probes, the Express gate, every
 * timer — for all that time. Up to `size` workers are started on demand and reused; one
 * can be started ahead ({@link warm}), while litestream is still downloading, once the file
 * is known to need it ({@link needsWorker}), so that its start-up costs a restore nothing.
 *
 * Its users {@link retain} it and {@link release} it (the creator holds it once): the
 * workers end when the last one lets go, so a restore shared by two callers keeps its
 * checker when the caller that started it gives up.
 */
export class IntegrityChecker {
  readonly #size: number;
  readonly #workers: CheckWorker[] = [];
  readonly #sqlite = createRequire(import.meta.url).resolve('better-sqlite3');
  readonly #mainThreadMaxBytes: number;
  #holders = 1;
  #preloading = false;

  constructor(size = 1, options: { mainThreadMaxBytes?: number } = {}) {
    this.#size = Math.max(1, size);
    this.#mainThreadMaxBytes = options.mainThreadMaxBytes ?? MAIN_THREAD_MAX_BYTES;
  }

  /** True when a file of `bytes` is checked in a worker thread (too large for this one). */
  needsWorker(bytes: number): boolean {
    return bytes > this.#mainThreadMaxBytes;
  }

  /** Worker threads started so far (and not ended). */
  get threads(): number {
    return this.#workers.length;
  }

  /**
   * Loads better-sqlite3 on this thread soon (on the next turn of the event loop), so that a
   * check made here later does not pay for it: called once litestream downloads, when this
   * thread has nothing else to do. A library that fails to load is the check's to report.
   */
  preload(): void {
    if (this.#preloading) return;
    this.#preloading = true;
    setImmediate(() => {
      try {
        loadSqlite();
      } catch {
        // The check says why.
      }
    }).unref();
  }

  /** Starts a worker now if none is idle (and the pool has room), so the next check need not wait for one. */
  warm(): void {
    if (this.#holders === 0 || this.#workers.some((worker) => worker.load === 0)) return;
    if (this.#workers.length < this.#size) this.#workers.push(new CheckWorker(this.#sqlite));
  }

  /** Checks `file`; never rejects (a check that could not run is `unreadable`). */
  check(file: string, mode: 'full' | 'quick'): Promise<IntegrityResult> {
    if (this.#holders === 0) return Promise.resolve(unchecked('the integrity checker was released'));
    // Small (or missing: SQLite says why it cannot open it): here, at once.
    if (!this.needsWorker(sizeOf(file))) return Promise.resolve(checkHere(file, mode));
    this.warm();
    // All busy and the pool full: queue behind the least loaded one.
    const worker = this.#workers.reduce((best, next) => (next.load < best.load ? next : best));
    return worker.check(file, mode);
  }

  /** One more user: the workers stay until it {@link release}s too. */
  retain(): void {
    if (this.#holders > 0) this.#holders++;
  }

  /** This user is done; the last one ends every worker (checks still running resolve as not run). */
  async release(): Promise<void> {
    if (this.#holders === 0 || --this.#holders > 0) return;
    await Promise.all(this.#workers.splice(0).map((worker) => worker.terminate()));
  }
}

function toResult(reply: Reply): IntegrityResult {
  if (reply.error !== undefined) {
    // SQLITE_CORRUPT is a verdict on the content; any other failure means it was never checked.
    const corrupt = reply.code === 'SQLITE_CORRUPT';
    return { ok: false, unreadable: !corrupt, problems: [reply.error] };
  }
  const problems = reply.problems ?? [];
  const ok = problems.length === 1 && problems[0] === 'ok';
  return { ok, unreadable: false, problems: ok ? [] : problems };
}

function unchecked(reason: string): IntegrityResult {
  return { ok: false, unreadable: true, problems: [reason] };
}

/** The worker's program, run here: the same pragmas, the same verdict. */
function checkHere(file: string, mode: 'full' | 'quick'): IntegrityResult {
  let db: import('better-sqlite3').Database | undefined;
  try {
    const Database = loadSqlite();
    db = new Database(file, { readonly: true, fileMustExist: true });
    db.pragma(`mmap_size = ${MAX_MMAP_SIZE}`);
    const rows = db.pragma(mode === 'full' ? 'integrity_check(20)' : 'quick_check(20)') as Record<string, unknown>[];
    return toResult({ id: 0, problems: rows.map((row) => String(Object.values(row)[0])) });
  } catch (error) {
    const failure = error as { message?: unknown; code?: unknown } | undefined;
    return toResult({
      id: 0,
      error: String(failure?.message || error),
      ...(typeof failure?.code === 'string' ? { code: failure.code } : {}),
    });
  } finally {
    db?.close();
  }
}

/** The size of `file` in bytes, or -1 when it cannot be seen. */
function sizeOf(file: string): number {
  try {
    return statSync(file, { throwIfNoEntry: false })?.size ?? -1;
  } catch {
    return -1;
  }
}
