import { mkdirSync, statSync } from 'node:fs';
import { unlink } from 'node:fs/promises';
import path from 'node:path';
import { FileSystemError } from '../errors.js';

/**
 * Makes the directory of `file` and its parents; returns the first one it created, if any.
 * Synchronous: when the directory exists (most boots) it is one `stat`, which a cold boot
 * should not queue behind a thread pool busy with the claim and the sweeps.
 *
 * @throws {@link FileSystemError} naming `file` and the fix.
 */
export function makeDirectoryOf(file: string, database: string): string | undefined {
  try {
    return mkdirSync(path.dirname(file), { recursive: true });
  } catch (error) {
    throw new FileSystemError('creating the directory of', file, error, { database });
  }
}

/** The files SQLite and Litestream keep beside a database. */
export function companionFiles(database: string) {
  const dir = path.dirname(database);
  const name = path.basename(database);
  return {
    wal: `${database}-wal`,
    shm: `${database}-shm`,
    /** Litestream's shadow WAL and generation state. */
    metaDir: path.join(dir, `.${name}-litestream`),
    /** Which process replicates this database (see process/pidfile.ts). */
    pidfile: path.join(dir, `.${name}-litestream-node.pid`),
    /** The replica state this copy is known to hold, when litestream's own record does not say (see lineage/). */
    lineage: path.join(dir, `.${name}-litestream-node.lineage.json`),
  };
}

/**
 * True when `database` holds something that could be lost: its file has content, or it is
 * an empty file whose WAL has. A missing file (whatever WAL an old copy left beside it), or
 * an empty one an app opened and never wrote, holds nothing.
 */
export function hasContent(database: string): boolean {
  const size = fileSize(database);
  return size > 0 || (size === 0 && fileSize(`${database}-wal`) > 0);
}

/** The size of `file`, or -1 when it does not exist. */
export function fileSize(file: string): number {
  return statSync(file, { throwIfNoEntry: false })?.size ?? -1;
}

/** Removes `file`; one that is already gone is not an error. */
export async function removeFile(file: string): Promise<void> {
  await unlink(file).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOENT') throw error;
  });
}
