// The checks and normalizations of the paths in the options: a database file's path on this
// machine, and the keys under which backups are stored in the replica.
import { statSync } from 'node:fs';
import path from 'node:path';

function statOrUndefined(file: string) {
  try {
    return statSync(file, { throwIfNoEntry: false });
  } catch {
    // ENOTDIR and friends: something on the way is not a directory; the parent check says so.
    return undefined;
  }
}

/** Why `absolute` cannot be a database file, or undefined when it can. */
export function databasePathProblem(absolute: string): string | undefined {
  const parentDir = path.dirname(absolute);
  const stat = statOrUndefined(absolute);
  if (stat?.isDirectory()) return `${absolute} is a directory: give the path of the SQLite file inside it`;
  if (stat && !stat.isFile()) return `${absolute} is not a regular file`;
  let ancestor = parentDir;
  for (;;) {
    const parent = statOrUndefined(ancestor);
    if (parent && !parent.isDirectory()) return `${ancestor} is a file, not a directory: fix the database path`;
    if (parent || path.dirname(ancestor) === ancestor) return undefined;
    ancestor = path.dirname(ancestor);
  }
}

/** A replica key without leading or trailing slashes, or undefined when it escapes its prefix. */
export function normalizeReplicaPath(key: string, allowEmpty = false): string | undefined {
  const trimmed = key.trim().replace(/^\/+|\/+$/g, '');
  if (trimmed === '') return allowEmpty ? '' : undefined;
  const normalized = path.posix.normalize(trimmed);
  if (normalized === '..' || normalized.startsWith('../..') || normalized.split('/').includes('..')) return undefined;
  return normalized;
}

/** True when `file` is below `dir`. */
export function isInside(dir: string, file: string): boolean {
  const relative = path.relative(dir, file);
  return relative !== '' && !relative.startsWith('..') && !path.isAbsolute(relative);
}
