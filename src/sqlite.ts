import Database from 'better-sqlite3';

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
