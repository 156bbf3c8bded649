import type { ReplicationStatus } from '../replicate.js';

/** One reason replication is unhealthy: for a database, or for replication as a whole. */
export interface UnhealthyCause {
  readonly database?: string;
  readonly cause: string;
}

/** Why `status` is unhealthy, one cause per problem (already redacted); empty when healthy. */
export function unhealthyCauses(status: ReplicationStatus): UnhealthyCause[] {
  if (status.healthy) return [];
  const causes: UnhealthyCause[] = [];
  if (status.state !== 'running') causes.push({ cause: `litestream is ${status.state}` });
  if (status.lease.state === 'paused' || status.lease.state === 'lost') {
    const why = status.lease.error ? `: ${status.lease.error}` : '';
    causes.push({ cause: `the replica lease is ${status.lease.state}${why}` });
  }
  for (const db of status.databases) {
    if (db.lastError) causes.push({ database: db.path, cause: db.lastError.message });
  }
  for (const path of status.stalled) {
    causes.push({
      database: path,
      cause: 'an upload to the replica has stalled: S3 accepts connections but does not answer',
    });
  }
  if (causes.length === 0) causes.push({ cause: 'replication is unhealthy' });
  return causes;
}
