import { statSync } from 'node:fs';

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
