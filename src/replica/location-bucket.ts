import type { S3ReplicaLocation } from '../config/replica-location.js';
import { credentialsFor } from './credentials.js';
import type { S3Bucket } from './s3/bucket.js';

/**
 * The bucket of an S3 replica path, signed with the location's keys, else the environment's
 * static keys, else those of the AWS default chain (fetched by the first request that needs
 * them; see {@link inspectReplica}).
 */
export function s3BucketOf(location: S3ReplicaLocation, env: Readonly<Record<string, string | undefined>>): S3Bucket {
  const credentials = credentialsFor(location.credentials, env);
  const { bucket, region, endpoint, forcePathStyle, skipVerify } = location;
  return { bucket, region, endpoint, forcePathStyle, skipVerify, credentials };
}
