// Configs derived from a validated one (a subset of its databases, manual operations that
// refuse a held replica), and what operations read from one for their messages.
import { issued } from './define.js';
import { describeLocation } from './replica-location.js';
import type { Secret } from './secret.js';
import type { DatabaseConfig, LitestreamConfig } from './types.js';

/** The same config limited to some of its databases (for one-database operations). @internal */
export function withDatabases(config: LitestreamConfig, paths: readonly string[]): LitestreamConfig {
  const subset: LitestreamConfig = Object.freeze({
    ...config,
    databases: Object.freeze(config.databases.filter((db) => paths.includes(db.path))),
  });
  return issued(subset);
}

/**
 * The same config, refusing at once a replica another instance holds (for manual operations,
 * which must not wait for an app's shutdown). @internal
 */
export function refusingHeldReplicas(config: LitestreamConfig): LitestreamConfig {
  if (config.lease.mode !== 'take') return config;
  const refusing: LitestreamConfig = Object.freeze({
    ...config,
    lease: Object.freeze({ ...config.lease, whenHeld: 'refuse' as const }),
  });
  return issued(refusing);
}

/** The values to redact from anything litestream prints. @internal */
export function secretsOf(config: LitestreamConfig): Secret[] {
  return config.credentials ? [config.credentials.accessKeyId, config.credentials.secretAccessKey] : [];
}

/** Where a database's backup lives, for messages (never includes credentials). @internal */
export function describeReplica(config: LitestreamConfig, db: DatabaseConfig): string {
  if (config.configFile) return `the replica of ${db.path} in ${config.configFile.path}`;
  const location = db.replicas[0];
  return location ? describeLocation(location) : 'no replica (disabled)';
}
