/**
 * Which Litestream instance of this process uses each database file: per process, because
 * the file and its pidfile are. Two instances of one process restoring or replicating the
 * same file would restore over each other and run two replicators on it, and the pidfile
 * (which names a process, not an instance) cannot tell them apart. Everything else an
 * instance holds (leases, restores under way, replication) is its own.
 *
 * @packageDocumentation
 */
import { ReplicationError } from '../errors.js';

const users = new Map<string, object>();

/**
 * Records `user` as the instance using `databases`.
 *
 * @throws {@link ReplicationError} naming the first database another instance of this
 *   process uses; then none is recorded.
 */
export function useDatabases(databases: readonly string[], user: object): void {
  for (const database of databases) {
    if (usedByAnother(database, user)) {
      throw new ReplicationError(
        `${database} is in use by another Litestream instance of this process (it restores, holds the replica lease of, or replicates this file): call stop() on that instance first, or use one instance per database.`,
        { database },
      );
    }
  }
  for (const database of databases) users.set(database, user);
}

/** Forgets `user` as the instance using `databases` (those another instance uses stay its). */
export function releaseDatabases(databases: readonly string[], user: object): void {
  for (const database of databases) if (users.get(database) === user) users.delete(database);
}

/** Whether an instance other than `user` uses `database` in this process. */
export function usedByAnother(database: string, user: object): boolean {
  const other = users.get(database);
  return other !== undefined && other !== user;
}
