import type { DatabaseConfig, LitestreamConfig } from '../../config/types.js';
import { LitestreamConfigError } from '../../errors.js';
import { logOnce } from '../../logging/logger.js';
import { HEADER, quote, replicaEntry, userConfigDoc } from '../yaml.js';

/**
 * The litestream.yml litestream 0.5 reads: one `replica:` per database with its sync
 * interval, snapshots and their retention at the top level (0.5 silently ignores 0.3's
 * per-replica `retention` and `snapshot-interval`). JSON logs at debug level, because the
 * supervisor reads every sync from them. Credentials are never written: they reach
 * litestream only through its environment.
 */
export function renderYaml(
  config: LitestreamConfig,
  standIns: ReadonlyMap<string, string> = new Map(),
  control?: { readonly socketPath: string },
): string {
  if (config.configFile) {
    const file = config.configFile.path;
    return userConfigDoc(config, standIns, (db, doc) => {
      // The library's own channel for sync(); its permissions in decimal (0600), which no YAML reads otherwise.
      if (control) {
        const own = doc.socket as { enabled?: unknown; path?: unknown } | undefined;
        if (own?.enabled === true && typeof own.path === 'string' && own.path !== control.socketPath) {
          logOnce(
            config,
            config.logger,
            'warn',
            { component: 'litestream', configFile: file, socket: own.path },
            `${file} enables litestream's control socket at ${own.path}; while litestream-node runs litestream, it listens on a private socket of the library's instead (for replication.sync()), so \`litestream sync -socket ${own.path}\` will not reach it. Use replication.sync() from the app.`,
          );
        }
        doc.socket = { enabled: true, path: control.socketPath, permissions: SOCKET_PERMISSIONS };
      }
      // 0.3's per-replica snapshot settings, which 0.5 ignores: its snapshot settings are global.
      const replica = (db.replica ?? (Array.isArray(db.replicas) ? db.replicas[0] : undefined)) as
        | Record<string, unknown>
        | undefined;
      if (replica && doc.snapshot === undefined) {
        const interval = replica['snapshot-interval'];
        const retention = replica.retention;
        if (interval !== undefined || retention !== undefined) {
          doc.snapshot = {
            ...(interval === undefined ? {} : { interval }),
            ...(retention === undefined ? {} : { retention }),
          };
        }
      }
      doc['shutdown-sync-timeout'] ??= shutdownSyncTimeout(config);
      if (Array.isArray(db.replicas) && db.replicas.length > 1) {
        throw new LitestreamConfigError([
          {
            field: 'configFile',
            message: `${file} gives ${db.path} ${db.replicas.length} replicas, but litestream 0.5 replicates each database to one: keep one under "replica:"`,
          },
        ]);
      }
    });
  }
  const lines = [
    HEADER,
    'logging:',
    '  type: json',
    '  level: debug',
    'snapshot:',
    `  interval: ${config.snapshotInterval}`,
    `  retention: ${config.retention}`,
    `shutdown-sync-timeout: ${shutdownSyncTimeout(config)}`,
    ...(control
      ? ['socket:', '  enabled: true', `  path: ${quote(control.socketPath)}`, `  permissions: ${SOCKET_PERMISSIONS}`]
      : []),
    'dbs:',
  ];
  for (const db of config.databases) {
    lines.push(`  - path: ${quote(standIns.get(db.path) ?? db.path)}`, '    replica:');
    lines.push(...renderReplica(config, db).map((line) => `      ${line}`));
  }
  return `${lines.join('\n')}\n`;
}

/** 0600 in decimal: only the app's user may connect (the directory is 0700 as well). */
const SOCKET_PERMISSIONS = 0o600;

/** The database's `replica:` mapping, with the one timing key 0.5 reads per replica. */
function renderReplica(config: LitestreamConfig, db: DatabaseConfig): string[] {
  return [...replicaEntry(db), `sync-interval: ${config.syncInterval}`];
}

/**
 * How long litestream tries its final sync before it gives up by itself: half of what
 * stop() waits (less a margin for starting up), so that when the replica was away for the
 * first try, stop() still has the time to run litestream once more for a second.
 */
function shutdownSyncTimeout(config: LitestreamConfig): string {
  return `${Math.max(1_000, Math.floor((config.shutdownTimeoutMs - 2_000) / 2))}ms`;
}
