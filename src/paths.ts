import path from 'node:path';

/** The files SQLite and Litestream keep beside a database. */
export function companionFiles(database: string) {
  const dir = path.dirname(database);
  const name = path.basename(database);
  return {
    wal: `${database}-wal`,
    shm: `${database}-shm`,
    /** Litestream's shadow WAL and generation state. */
    metaDir: path.join(dir, `.${name}-litestream`),
    /** Which process replicates this database (see pidfile.ts). */
    pidfile: path.join(dir, `.${name}-litestream-node.pid`),
  };
}
