import type { DatabaseConfig, LitestreamConfig } from '../../config/types.js';
import { HEADER, quote, replicaEntry, userConfigDoc } from '../yaml.js';

/**
 * The litestream.yml litestream 0.3 reads: `replicas:` per database, with the sync,
 * retention and snapshot intervals on each replica. JSON logs at debug level, because the
 * supervisor reads every sync from them. Credentials are never written: they reach
 * litestream only through its environment.
 */
export function renderYaml(config: LitestreamConfig, standIns: ReadonlyMap<string, string> = new Map()): string {
  if (config.configFile) {
    return userConfigDoc(config, standIns, (db) => {
      // 0.5's one-replica form: 0.3 would silently ignore it and replicate nothing.
      if (db.replica !== undefined && db.replicas === undefined) {
        db.replicas = [db.replica];
        delete db.replica;
      }
    });
  }
  const lines = [HEADER, 'logging:', '  type: json', '  level: debug', 'dbs:'];
  for (const db of config.databases) {
    lines.push(`  - path: ${quote(standIns.get(db.path) ?? db.path)}`, '    replicas:');
    lines.push(...renderReplica(config, db).map((line) => `      ${line}`));
  }
  return `${lines.join('\n')}\n`;
}

/** The database's one entry under `replicas:`, with the timing keys 0.3 reads per replica. */
function renderReplica(config: LitestreamConfig, db: DatabaseConfig): string[] {
  const entry = [
    ...replicaEntry(db),
    `sync-interval: ${config.syncInterval}`,
    `retention: ${config.retention}`,
    `snapshot-interval: ${config.snapshotInterval}`,
  ];
  return entry.map((line, at) => (at === 0 ? `- ${line}` : `  ${line}`));
}
