import { statSync } from 'node:fs';
import Database from 'better-sqlite3';

/** SQLite's default SQLITE_MAX_MMAP_SIZE; larger values are clamped to it anyway. */
const MAX_MMAP_SIZE = 0x7fff0000;

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

/**
 * Runs `PRAGMA integrity_check` (or `quick_check`) on a closed database file, read-only,
 * so a corrupt restore is caught before it is put in place.
 */
export function checkIntegrity(file: string, mode: 'full' | 'quick'): IntegrityResult {
  let db: Database.Database | undefined;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
    // Reading through a memory map makes the check about a third faster on large files.
    // The file is ours alone (a restore's temp file) and read-only: nothing can shrink it.
    db.pragma(`mmap_size = ${MAX_MMAP_SIZE}`);
    const pragma = mode === 'full' ? 'integrity_check(20)' : 'quick_check(20)';
    const rows = db.pragma(pragma) as Record<string, unknown>[];
    const problems = rows.map((row) => String(Object.values(row)[0]));
    const ok = problems.length === 1 && problems[0] === 'ok';
    return { ok, unreadable: false, problems: ok ? [] : problems };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    // SQLITE_CORRUPT is a verdict on the content; any other failure means it was never checked.
    const corrupt = (error as { code?: string }).code === 'SQLITE_CORRUPT';
    return { ok: false, unreadable: !corrupt, problems: [message] };
  } finally {
    db?.close();
  }
}

/** SQLite's SQLITE_DEFAULT_FILE_PERMISSIONS: the mode it creates a database with, before the umask. */
const SQLITE_CREATE_MODE = 0o644;

/**
 * The permission bits a database file at `file` should have: those of the file already
 * there (an empty one the app opened), or else the ones SQLite would create it with.
 * Litestream writes its restores `0600`, which other users of a shared group (a backup job,
 * a sidecar reading the database) would suddenly be locked out by.
 */
export function databaseFileMode(file: string): number {
  const existing = statSync(file, { throwIfNoEntry: false });
  // process.umask() without an argument only reads it here; nothing else in Node changes it.
  return existing ? existing.mode & 0o7777 : SQLITE_CREATE_MODE & ~process.umask();
}
