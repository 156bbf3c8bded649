import type { ReplicaFailureKind } from '../replica/failure-cause.js';
import type { ReplicationStatus } from '../replication/types.js';

/** One reason replication is unhealthy: for a database, or for replication as a whole. */
export interface UnhealthyCause {
  readonly database?: string;
  /** What failed when the replica cannot be reached: the same as `status().lastError.kind`. */
  readonly kind?: ReplicaFailureKind;
  readonly cause: string;
}

/**
 * Why `status` is unhealthy, one cause per problem (already redacted); empty when healthy.
 * An unreachable replica comes first, named by the first failure seen (`status.lastError`),
 * so that the payload, the status and the lease tell one story.
 */
export function unhealthyCauses(status: ReplicationStatus): UnhealthyCause[] {
  if (status.healthy) return [];
  const causes: UnhealthyCause[] = [];
  const outage = status.lastError;
  if (outage) {
    causes.push({
      ...(outage.database === undefined ? {} : { database: outage.database }),
      kind: outage.kind,
      cause: outage.message,
    });
  }
  if (status.state === 'paused') causes.push({ cause: 'replication is paused until the replica lease is held again' });
  else if (status.state !== 'running') causes.push({ cause: `litestream is ${status.state}` });
  if (status.lease.state === 'paused' || status.lease.state === 'lost') {
    const why = status.lease.error ? `: ${status.lease.error}` : '';
    causes.push({ cause: `the replica lease is ${status.lease.state}${why}` });
  }
  for (const db of status.databases) {
    if (db.lastError && db.lastError.message !== outage?.message && !outage?.message.endsWith(db.lastError.message)) {
      causes.push({ database: db.path, cause: db.lastError.message });
    }
  }
  for (const path of status.stalled) {
    causes.push({
      database: path,
      cause: outage
        ? 'an upload to the replica has made no progress for five sync intervals'
        : 'an upload to the replica has stalled: S3 accepts connections but does not answer',
    });
  }
  if (causes.length === 0) causes.push({ cause: 'replication is unhealthy' });
  return causes;
}
