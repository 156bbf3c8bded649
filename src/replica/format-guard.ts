import type { DatabaseConfig, LitestreamConfig } from '../config.js';
import type { Runtime } from '../engine/engine.js';
import { ReplicaFormatError } from '../errors.js';
import type { Logger } from '../logger.js';
import { inspectReplica, type ReplicaContents, replicaLocation } from './layout.js';

/** What the replica holds that the running litestream cannot read. */
export type ForeignFormats =
  /** Nothing: the running litestream's own answer can be trusted. */
  | { readonly kind: 'none' }
  /** A backup in a format it cannot read. */
  | { readonly kind: 'found'; readonly format: string; readonly newest: Date | undefined }
  /** The replica could not be looked at; `error` says why. */
  | { readonly kind: 'unknown'; readonly error: unknown };

/**
 * Looks, beside a restore, for backups in the replica that the running litestream cannot
 * read (Litestream 0.3 sees a replica that 0.5 wrote as empty). Undefined when the engine
 * reads every supported format, so nothing needs looking at.
 */
export function lookForForeignFormats(
  config: LitestreamConfig,
  runtime: Runtime,
  db: DatabaseConfig,
  logger: Logger,
  signal: AbortSignal,
): Promise<ForeignFormats> | undefined {
  const unreadable = runtime.engine.unreadableFormats;
  if (unreadable.length === 0) return undefined;
  const location = replicaLocation(config, db);
  if (!location) return undefined;
  return inspectReplica(location, { signal }).then(
    (contents): ForeignFormats => {
      if (!contents.checked) {
        logger.warn(
          { db: db.path, reason: contents.reason },
          `could not check whether the replica holds backups of Litestream ${unreadable.join(' or ')}, which litestream ${runtime.engine.family} cannot read`,
        );
        return { kind: 'none' };
      }
      const format = unreadable.find((family) => (contents as ReplicaContents).formats.has(family));
      return format === undefined ? { kind: 'none' } : { kind: 'found', format, newest: contents.newest[format] };
    },
    (error: unknown): ForeignFormats => ({ kind: 'unknown', error }),
  );
}

/**
 * The error for a replica that holds backups the running litestream cannot read: with
 * `restoredOlder`, it also restored an older format's (stale) history from there.
 */
export function foreignFormatError(
  runtime: Runtime,
  db: DatabaseConfig,
  where: string,
  found: { readonly format: string; readonly newest: Date | undefined },
  restoredOlder: boolean,
): ReplicaFormatError {
  const when = found.newest ? ` (newest ${found.newest.toISOString()})` : '';
  const consequence = restoredOlder
    ? `restoring the Litestream ${runtime.engine.family} backups that are also there would roll back everything written since`
    : 'starting an empty database would fork the backup history';
  return new ReplicaFormatError(
    `The replica ${where} holds backups of ${db.path} written by Litestream ${found.format}${when}, which litestream ${runtime.engine.family} cannot read: ${consequence}, so nothing was put in place. Run Litestream ${found.format} (set LITESTREAM_BINARY_PATH or binaryPath to it), or point the replica at another path.`,
    found.format,
    { database: db.path },
  );
}
