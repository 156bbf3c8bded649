/**
 * Where a database's lease object lives: beside its replica path, never inside it (nothing
 * that lists the replica sees it, and no Litestream version writes that name).
 *
 * @packageDocumentation
 */
import type { DatabaseConfig } from '../config/types.js';
import { s3BucketOf } from '../replica/location-bucket.js';
import { fileLeaseStore, type LeaseStore, s3LeaseStore } from './store.js';

/** The suffix of a lease object's name: `<replica path>.litestream-node-lease`. */
export const LEASE_SUFFIX = '.litestream-node-lease';

/** A lease store for one database, or why it has none. */
export type LeaseTarget =
  | {
      readonly store: LeaseStore;
      /** The lease object, for messages: `s3://bucket/key` or a file path. */
      readonly where: string;
      /** The server's support for conditional writes is yet to be seen (S3); a file lease has it. */
      readonly conditionalWritesUnproven: boolean;
    }
  | { readonly unsupported: string };

/** The lease store of `db`'s replica path (the first replica, with a litestream.yml). */
export function leaseTarget(
  db: DatabaseConfig,
  env: Readonly<Record<string, string | undefined>> = process.env,
): LeaseTarget {
  const location = db.replicas[0];
  if (location === undefined) {
    return { unsupported: 'its replica is neither S3 nor a directory, where litestream-node can keep a lease' };
  }
  if (location.type === 'file') {
    const file = `${location.directory.replace(/\/+$/, '')}${LEASE_SUFFIX}`;
    return { store: fileLeaseStore(file), where: file, conditionalWritesUnproven: false };
  }
  // Static keys, else the AWS default chain: without either, the store's first request
  // fails with a CredentialsError that names what was tried (never a lease skipped quietly).
  const bucket = s3BucketOf(location, env);
  const key = `${location.prefix}${LEASE_SUFFIX}`;
  const store = s3LeaseStore(bucket, key, { env });
  return { store, where: `s3://${location.bucket}/${key}`, conditionalWritesUnproven: true };
}
