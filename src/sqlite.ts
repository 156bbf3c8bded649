import Database from 'better-sqlite3';

/** SQLite's default SQLITE_MAX_MMAP_SIZE; larger values are clamped to it anyway. */
const MAX_MMAP_SIZE = 0x7fff0000;

/** Result of a SQLite integrity check. */
export interface IntegrityResult {
  readonly ok: boolean;
  /** The first problems SQLite reported, when not ok. */
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
    return { ok, problems: ok ? [] : problems };
  } catch (error) {
    return { ok: false, problems: [error instanceof Error ? error.message : String(error)] };
  } finally {
    db?.close();
  }
}
