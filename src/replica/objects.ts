import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { type ReplicaLocation, s3BucketOf } from './layout.js';
import { getS3Bytes, listS3Pages } from './s3-request.js';

/** One object of a replica directory. */
export interface ReplicaObject {
  /** Its name in the directory. */
  readonly name: string;
  readonly size: number;
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
  /** One object's bytes; undefined when it is gone. */
  read(key: string): Promise<Buffer | undefined>;
}

/** How Node reads a replica's objects. */
export interface ReplicaReadOptions {
  signal?: AbortSignal | undefined;
  /** Where S3 credentials and `AWS_CA_BUNDLE` come from when the location has none. Default `process.env`. */
  env?: Readonly<Record<string, string | undefined>> | undefined;
}

/** Options of {@link replicaObjects}. */
export interface ReplicaObjectsOptions extends ReplicaReadOptions {
  /** The largest object read (a larger one is an error). */
  maxBytes: number;
}

/** The reader of `location`'s objects; undefined when Node has no S3 credentials to read it with. */
export function replicaObjects(location: ReplicaLocation, options: ReplicaObjectsOptions): ReplicaObjects | undefined {
  if (location.type === 'file') {
    const file = (key: string) => path.join(location.directory, ...key.split('/'));
    return {
      list: async (dir) => {
        const entries = await readdir(file(dir), { withFileTypes: true }).catch(() => []);
        const objects = await Promise.all(
          entries
            .filter((entry) => entry.isFile())
            .map(async (entry) => {
              const size = await stat(path.join(file(dir), entry.name)).then(
                (info) => info.size,
                () => undefined,
              );
              return size === undefined ? [] : [{ name: entry.name, size }];
            }),
        );
        return objects.flat();
      },
      dirs: async (dir) =>
        (await readdir(file(dir), { withFileTypes: true }).catch(() => []))
          .filter((entry) => entry.isDirectory())
          .map((entry) => entry.name),
      read: (key) =>
        readFile(file(key)).catch((error: NodeJS.ErrnoException) => {
          if (error.code === 'ENOENT') return undefined;
          throw error;
        }),
    };
  }
  const bucket = s3BucketOf(location, options.env ?? process.env);
  if (!bucket) return undefined;
  const root = location.prefix === '' ? '' : `${location.prefix}/`;
  return {
    list: async (dir) => {
      const prefix = `${root}${dir}/`;
      const objects: ReplicaObject[] = [];
      for await (const page of listS3Pages(bucket, { prefix, signal: options.signal })) {
        for (const object of page.objects) objects.push({ name: object.key.slice(prefix.length), size: object.size });
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
      getS3Bytes(bucket, `${root}${key}`, { maxBytes: options.maxBytes, timeoutMs: 120_000, signal: options.signal }),
  };
}
