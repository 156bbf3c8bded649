import { link, rename } from 'node:fs/promises';
import path from 'node:path';
import { FileSystemError } from '../errors.js';
import { companionFiles, removeFile } from '../sqlite/database-files.js';

/**
 * Moves a stale database and its WAL aside (`<file>.stale-<time>` and `…-wal`, so SQLite
 * opens the pair as it was), keeping litestream's state for it beside them; resolves to the
 * new path. Hard links first, then the old names go: a process killed at any step leaves
 * the copy complete under one name or both, never a WAL that a later boot would sweep as a
 * missing database's leftover.
 *
 * @throws {@link FileSystemError} naming the file and the fix; nothing was removed then.
 */
export async function setAside(database: string, now = new Date()): Promise<string> {
  const stamp = now.toISOString().replace(/[:.]/g, '-');
  const aside = `${database}.stale-${stamp}`;
  const files = companionFiles(database);
  const linkIfThere = async (from: string, to: string) => {
    try {
      await link(from, to);
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw new FileSystemError('setting aside', from, error, { database });
    }
  };
  await linkIfThere(database, aside);
  const walKept = await linkIfThere(files.wal, `${aside}-wal`);
  await removeFile(database);
  if (walKept) await removeFile(files.wal);
  await removeFile(files.shm);
  await removeFile(files.lineage);
  // Litestream's record of the old copy goes with it: the restored database starts its own.
  await rename(files.metaDir, path.join(path.dirname(database), `.${path.basename(aside)}-litestream`)).catch(
    (error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw new FileSystemError('setting aside', files.metaDir, error, { database });
    },
  );
  return aside;
}
