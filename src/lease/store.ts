import { deleteS3Object, getS3Object, putS3Object, type S3Bucket, type S3CallOptions } from '../replica/s3-request.js';

/** A lease object as read: its bytes and the version tag a conditional write names. */
export interface StoredLease {
  readonly body: string;
  readonly etag: string;
}

/**
 * Where a lease object lives, with compare-and-swap on it. A failed precondition is an
 * answer (`undefined`, `false`), never an error; an unreachable store throws.
 */
export interface LeaseStore {
  read(signal?: AbortSignal): Promise<StoredLease | undefined>;
  /** Writes `body` if there is no lease object; its ETag, or undefined when there is one. */
  create(body: string, signal?: AbortSignal): Promise<string | undefined>;
  /** Writes `body` if the object is still `etag`; the new ETag, or undefined when it is not (or is gone). */
  replace(etag: string, body: string, signal?: AbortSignal): Promise<string | undefined>;
  /** Removes the object if it is still `etag`; false when it is another. */
  remove(etag: string, signal?: AbortSignal): Promise<boolean>;
}

/** A lease object in a bucket, written with S3 conditional requests. */
export function s3LeaseStore(bucket: S3Bucket, key: string, options: S3CallOptions = {}): LeaseStore {
  const call = (signal: AbortSignal | undefined): S3CallOptions => ({ ...options, signal: signal ?? options.signal });
  return {
    async read(signal) {
      const read = await getS3Object(bucket, key, call(signal));
      return read && { body: read.body, etag: read.etag };
    },
    async create(body, signal) {
      const outcome = await putS3Object(bucket, key, body, { ifAbsent: true }, call(signal));
      return outcome.written ? outcome.etag : undefined;
    },
    async replace(etag, body, signal) {
      const outcome = await putS3Object(bucket, key, body, { ifMatch: etag }, call(signal));
      return outcome.written ? outcome.etag : undefined;
    },
    remove: (etag, signal) => deleteS3Object(bucket, key, etag, call(signal)),
  };
}
