import { open, readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { ReplicaLocation } from '../config/replica-location.js';
import { s3BucketOf } from './location-bucket.js';
import { s3FailureOf } from './s3/failures.js';
import { getS3Bytes, getS3Tail, listS3Pages } from './s3/operations.js';

/**
 * The largest object Node reads (whole, into memory) to check it; a larger one is left to
 * litestream's own checks.
 */
export const MAX_READ_BYTES = 256 * 1024 * 1024;

/** One object of a replica directory. */
export interface ReplicaObject {
  /** Its name in the directory. */
  readonly name: string;
  readonly size: number;
  /** When it was last written, by the storage's clock (S3 `LastModified`, a file's mtime). */
  readonly modified: Date;
}

/**
 * One database's replica objects read from Node, by paths relative to its replica path
 * (`/`-separated), whatever holds them: an S3 bucket or a directory.
 */
export interface ReplicaObjects {
  /** The objects directly in `dir`; none when it does not exist. */
  list(dir: string): Promise<ReplicaObject[]>;
  /** The names of the directories directly in `dir`; none when it does not exist. */
  dirs(dir: string): Promise<string[]>;
  /** One object's bytes; undefined when it is gone, or larger than {@link MAX_READ_BYTES}. */
  read(key: string): Promise<Buffer | undefined>;
  /** One object's last `bytes` bytes (all of it when shorter); undefined when it is gone. */
  tail(key: string, bytes: number): Promise<Buffer | undefined>;
}

/** How Node reads a replica's objects. */
export interface ReplicaReadOptions {
  signal?: AbortSignal | undefined;
  /** Where S3 credentials and `AWS_CA_BUNDLE` come from when the location has none. Default `process.env`. */
  env?: Readonly<Record<string, string | undefined>> | undefined;
}

/** The reader of `location`'s objects (on S3, signed as {@link s3BucketOf} says). */
export function replicaObjects(location: ReplicaLocation, options: ReplicaReadOptions = {}): ReplicaObjects {
  if (location.type === 'file') {
    const file = (key: string) => path.join(location.directory, ...key.split('/'));
    return {
      list: async (dir) => {
        const entries = await readdir(file(dir), { withFileTypes: true }).catch(() => []);
        const objects = await Promise.all(
          entries
            .filter((entry) => entry.isFile())
            .map(async (entry) => {
              const info = await stat(path.join(file(dir), entry.name)).catch(() => undefined);
              return info === undefined ? [] : [{ name: entry.name, size: info.size, modified: info.mtime }];
            }),
        );
        return objects.flat();
      },
      dirs: async (dir) =>
        (await readdir(file(dir), { withFileTypes: true }).catch(() => []))
          .filter((entry) => entry.isDirectory())
          .map((entry) => entry.name),
      read: async (key) => {
        try {
          if ((await stat(file(key))).size > MAX_READ_BYTES) return undefined;
          return await readFile(file(key));
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
          throw error;
        }
      },
      tail: (key, bytes) => readFileTail(file(key), bytes),
    };
  }
  const bucket = s3BucketOf(location, options.env ?? process.env);
  const root = location.prefix === '' ? '' : `${location.prefix}/`;
  return {
    list: async (dir) => {
      const prefix = `${root}${dir}/`;
      const objects: ReplicaObject[] = [];
      for await (const page of listS3Pages(bucket, { prefix, signal: options.signal })) {
        for (const object of page.objects) {
          objects.push({ name: object.key.slice(prefix.length), size: object.size, modified: object.lastModified });
        }
      }
      return objects;
    },
    dirs: async (dir) => {
      const prefix = `${root}${dir}/`;
      const names: string[] = [];
      for await (const page of listS3Pages(bucket, { prefix, signal: options.signal })) {
        for (const sub of page.prefixes) names.push(sub.slice(prefix.length, -1));
      }
      return names;
    },
    read: (key) =>
      getS3Bytes(bucket, `${root}${key}`, {
        maxBytes: MAX_READ_BYTES,
        timeoutMs: 120_000,
        signal: options.signal,
      }).catch((error: unknown) => {
        if (s3FailureOf(error)?.code === 'EMSGSIZE') return undefined;
        throw error;
      }),
    tail: (key, bytes) => getS3Tail(bucket, `${root}${key}`, bytes, { timeoutMs: 10_000, signal: options.signal }),
  };
}

/** The last `bytes` bytes of a local file (all of it when shorter); undefined when it is gone. */
export async function readFileTail(file: string, bytes: number): Promise<Buffer | undefined> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(file, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    const { size } = await handle.stat();
    const length = Math.min(size, bytes);
    const buffer = Buffer.alloc(length);
    await handle.read(buffer, 0, length, size - length);
    return buffer;
  } finally {
    await handle.close();
  }
}

/**
 * Of the objects at `keys`, in order, those `problemOf` finds fault with, each as
 * `<key>: <what is wrong>`. One gone, or too large to read, is not judged.
 */
export async function faultyObjects(
  objects: ReplicaObjects,
  keys: readonly string[],
  problemOf: (bytes: Buffer) => Promise<string | undefined>,
): Promise<string[]> {
  const faulty: string[] = [];
  for (const key of keys) {
    const bytes = await objects.read(key);
    const problem = bytes === undefined ? undefined : await problemOf(bytes);
    if (problem !== undefined) faulty.push(`${key}: ${problem}`);
  }
  return faulty;
}
