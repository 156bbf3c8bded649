import path from 'node:path';

/**
 * How metrics name each database: by its file name (`production.sqlite3`), so that the
 * metrics say nothing about the host's directories; two databases with the same file name
 * get as many of their trailing directories as tell them apart (`a/app.db`, `b/app.db`).
 * A path outside `paths` is named by its file name.
 */
export function databaseLabels(paths: readonly string[]): (database: string) => string {
  const parts = paths.map((database) => database.split(path.sep).filter((part) => part !== ''));
  const labels = new Map<string, string>();
  for (const [index, database] of paths.entries()) {
    const own = parts[index] ?? [];
    for (let count = 1; count <= own.length; count++) {
      const suffix = own.slice(-count).join('/');
      const shared = parts.some((other, at) => at !== index && other.slice(-count).join('/') === suffix);
      if (!shared || count === own.length) {
        labels.set(database, suffix);
        break;
      }
    }
  }
  return (database) => labels.get(database) ?? path.basename(database);
}
