/**
 * Where one database's backup lives, worked out once when the config is built: from the
 * `replica` option and the database's `replicaPath`, or from a database's entry in the user's
 * litestream.yml. Every part of the library that reads the replica (the lease, the format
 * guard, the lineage check, the damaged-object checks, the outage probe) and both engines'
 * YAML read these, never the options again.
 *
 * @packageDocumentation
 */
import os from 'node:os';
import path from 'node:path';
import type { Secret } from './secret.js';

/** Static keys to sign the Node process's own S3 requests with. */
export interface ReplicaKeys {
  readonly accessKeyId: Secret;
  readonly secretAccessKey: Secret;
}

/** One database's replica path in a bucket. */
export interface S3ReplicaLocation {
  readonly type: 's3';
  readonly bucket: string;
  /** The database's key prefix, without a leading or trailing slash (`''` for the bucket's root). */
  readonly prefix: string;
  readonly endpoint: string | undefined;
  readonly region: string;
  readonly forcePathStyle: boolean | undefined;
  readonly skipVerify: boolean;
  /** None: static keys from the environment, else the AWS default chain (see replica/credentials.ts). */
  readonly credentials: ReplicaKeys | undefined;
}

/** One database's replica directory. */
export interface FileReplicaLocation {
  readonly type: 'file';
  /** Absolute directory. */
  readonly directory: string;
}

/** Where one database's backup lives. */
export type ReplicaLocation = S3ReplicaLocation | FileReplicaLocation;

/** The `replica` option after validation, as far as the location needs it. */
export type ReplicaSettings =
  | {
      readonly type: 's3';
      readonly bucket: string;
      readonly path: string;
      readonly endpoint: string | undefined;
      readonly region: string;
      readonly forcePathStyle: boolean | undefined;
      readonly skipVerify: boolean;
    }
  | { readonly type: 'file'; readonly path: string };

/** The location of the database stored under `replicaPath` in the `replica` option's bucket or directory. */
export function locationInReplica(
  replica: ReplicaSettings,
  replicaPath: string,
  credentials: ReplicaKeys | undefined,
): ReplicaLocation {
  if (replica.type === 'file') return Object.freeze({ type: 'file', directory: path.join(replica.path, replicaPath) });
  return Object.freeze({
    type: 's3',
    bucket: replica.bucket,
    prefix: path.posix.join(replica.path, replicaPath),
    endpoint: replica.endpoint,
    region: replica.region,
    forcePathStyle: replica.forcePathStyle,
    skipVerify: replica.skipVerify,
    credentials,
  });
}

type Yaml = Readonly<Record<string, unknown>>;

/**
 * The replicas of one `dbs:` entry of a litestream.yml that the Node process can read, in
 * file order: the 0.3 form (`replicas: [...]`) and the 0.5 form (`replica: {...}`), each given
 * by `type` with `bucket`/`path`/… or by `url` (`s3://bucket/path`, `file:///dir`). Other
 * replica types (GCS, Azure, SFTP, …) are left out.
 */
export function locationsInYaml(db: Yaml, credentials: ReplicaKeys | undefined): ReplicaLocation[] {
  const replicas: unknown[] = Array.isArray(db.replicas) ? db.replicas : isObject(db.replica) ? [db.replica] : [];
  return replicas.flatMap((replica) => {
    const location = isObject(replica) ? locationInYaml(replica, credentials) : undefined;
    return location ? [Object.freeze(location)] : [];
  });
}

function locationInYaml(replica: Yaml, credentials: ReplicaKeys | undefined): ReplicaLocation | undefined {
  const url = typeof replica.url === 'string' && replica.url !== '' ? parseUrl(replica.url) : undefined;
  // Litestream's rule: the explicit type, else the URL's scheme, else a file replica.
  const type = text(replica.type) ?? url?.protocol.replace(/:$/, '') ?? 'file';
  if (type === 'file') {
    const dir = text(replica.path) ?? (url ? decodeURIComponent(url.pathname) : undefined);
    if (!dir) return undefined;
    return {
      type: 'file',
      directory: path.resolve(dir.startsWith('~/') ? path.join(os.homedir(), dir.slice(2)) : dir),
    };
  }
  if (type !== 's3') return undefined;
  const query = url?.searchParams;
  const bucket = text(replica.bucket) ?? url?.hostname;
  if (!bucket) return undefined;
  return {
    type: 's3',
    bucket,
    prefix: (text(replica.path) ?? (url ? decodeURIComponent(url.pathname) : '')).replace(/^\/+|\/+$/g, ''),
    endpoint: text(replica.endpoint) ?? text(query?.get('endpoint')),
    // No region: us-east-1, and the server's `x-amz-bucket-region` answer corrects it.
    region: text(replica.region) ?? text(query?.get('region')) ?? 'us-east-1',
    forcePathStyle: flag(replica['force-path-style']) ?? flag(query?.get('forcePathStyle')),
    skipVerify: flag(replica['skip-verify']) ?? flag(query?.get('skipVerify')) ?? false,
    credentials,
  };
}

function parseUrl(value: string): URL | undefined {
  try {
    return new URL(value);
  } catch {
    return undefined;
  }
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}

function flag(value: unknown): boolean | undefined {
  if (typeof value === 'boolean') return value;
  if (value === 'true') return true;
  if (value === 'false') return false;
  return undefined;
}

function isObject(value: unknown): value is Yaml {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Where a database's backup lives, for messages (never includes credentials). */
export function describeLocation(location: ReplicaLocation): string {
  if (location.type === 'file') return location.directory;
  return `s3://${location.bucket}/${location.prefix}${location.endpoint ? ` at ${location.endpoint}` : ''}`;
}
