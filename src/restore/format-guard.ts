import { describeReplica } from '../config/derived.js';
import type { DatabaseConfig, LitestreamConfig } from '../config/types.js';
import type { LitestreamFamily } from '../engine/binary.js';
import type { Runtime } from '../engine/engine.js';
import {
  type GenerationSpan,
  inspectReplica,
  type ReplicaContents,
  type ReplicaNotChecked,
} from '../engine/replica-formats.js';
import { CredentialsError, ReplicaFormatError, RestoreError } from '../errors.js';
import type { Logger } from '../logging/logger.js';

/**
 * Litestream's answer checked against what the replica path holds, seen from Node: it is
 * trusted only when no backup of another format contradicts it. Litestream 0.3 takes a path
 * that 0.5 wrote for an empty one, and restores its own older generations from beside 0.5's
 * files; 0.5 reads both, but restores its LTX files over newer 0.3 generations, and takes a
 * failed listing of them for "no backup".
 */
export interface ReplicaCheck {
  /** Litestream restored something: throws when it must not be put in place. */
  restored(): Promise<void>;
  /**
   * Litestream is about to replicate a database that is already there: throws when the
   * replica path holds newer backups it cannot read (it would write a second history beside
   * them).
   */
  replicating(): Promise<void>;
  /** Litestream found no backup: throws unless the replica path holds none of any format. */
  noBackup(): Promise<void>;
  /** Resolves once the look at the replica has ended (given up with the signal). */
  settled(): Promise<void>;
  /** Every 0.3 generation's span, when asked for and the replica could be listed in full. */
  generationSpans(): Promise<readonly GenerationSpan[] | undefined>;
}

/** Starts looking at `db`'s replica path, beside a restore. */
export function checkReplica(
  config: LitestreamConfig,
  runtime: Runtime,
  db: DatabaseConfig,
  logger: Logger,
  signal: AbortSignal,
  options: { generationSpans?: boolean } = {},
): ReplicaCheck {
  const location = db.replicas[0];
  const looked: Promise<ReplicaContents | ReplicaNotChecked | { checked: 'failed'; error: unknown }> = location
    ? inspectReplica(location, { signal, generationSpans: options.generationSpans }).catch((error: unknown) => ({
        checked: 'failed' as const,
        error,
      }))
    : Promise.resolve({ checked: false, reason: 'its replica is not one litestream-node can list' });
  const own = runtime.engine.family;
  const where = describeReplica(config, db);
  /** The contents, or undefined (logged) when they cannot be known. */
  const contents = async (failClosed: boolean): Promise<ReplicaContents | undefined> => {
    const result = await looked;
    if (result.checked === true) return result;
    if (result.checked === 'failed') {
      // Starting empty on a replica that could not be looked at might fork its history; with
      // no credentials at all the check could never run, which is no reason to skip it.
      if (failClosed || (result.error instanceof CredentialsError && !result.error.transient)) throw result.error;
      logger.warn(
        { db: db.path, error: String(result.error) },
        'could not check the replica for backups of another Litestream version',
      );
      return undefined;
    }
    logger.warn(
      { db: db.path, reason: result.reason },
      `could not check whether the replica holds backups that litestream ${own} cannot read or did not see`,
    );
    return undefined;
  };
  /** Throws for another format's backups newer than the running litestream's own. */
  const refuseNewerOthers = async (instead: 'older' | 'fork', unreadableOnly: boolean) => {
    const found = await contents(false);
    if (!found) return;
    const ownNewest = found.newest[own];
    for (const other of found.formats) {
      const unreadable = runtime.engine.unreadableFormats.includes(other);
      if (other === own || (unreadableOnly && !unreadable)) continue;
      const otherNewest = found.newest[other];
      // What it cannot read blocks it unless known to be older; what it reads, if known to be newer.
      const newer = ownNewest && otherNewest ? otherNewest > ownNewest : unreadable;
      if (newer) throw formatError(own, db, where, other, otherNewest, instead);
    }
  };
  return {
    async noBackup() {
      const found = await contents(true);
      const format = found && [...found.formats][0];
      if (format === undefined) return;
      if (runtime.engine.unreadableFormats.includes(format)) {
        throw formatError(own, db, where, format, found?.newest[format], 'empty');
      }
      throw new RestoreError(
        `litestream ${own} found no backup of ${db.path} in ${where}, but Litestream ${format} backup files are there: it could not read them. Check that the access key may list and read everything under that path; no database was created.`,
        { database: db.path },
      );
    },
    restored: () => refuseNewerOthers('older', false),
    replicating: () => refuseNewerOthers('fork', true),
    async settled() {
      await looked;
    },
    async generationSpans() {
      const result = await looked;
      return result.checked === true ? result.generations : undefined;
    },
  };
}

function formatError(
  own: LitestreamFamily,
  db: DatabaseConfig,
  where: string,
  format: LitestreamFamily,
  newest: Date | undefined,
  instead: 'empty' | 'older' | 'fork',
): ReplicaFormatError {
  const when = newest ? ` (newest ${newest.toISOString()})` : '';
  const what = {
    empty: `which litestream ${own} cannot read: starting an empty database would fork the backup history, so nothing was put in place`,
    older: `after those litestream ${own} restored from there: putting them in place would roll back everything written since, so nothing was put in place`,
    fork: `which litestream ${own} cannot read: replicating beside them would start a second history there, so replication was not started`,
  }[instead];
  return new ReplicaFormatError(
    `The replica ${where} holds backups of ${db.path} written by Litestream ${format}${when}, ${what}. Run Litestream ${format} (set LITESTREAM_BINARY_PATH or binaryPath to it), or point the replica at another path.`,
    format,
    { database: db.path },
  );
}
