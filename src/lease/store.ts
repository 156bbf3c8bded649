import { link, mkdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../logging/logger.js';
import { ownedName, sweepLeftovers } from '../process/owner.js';
import type { S3Bucket, S3CallOptions } from '../replica/s3/bucket.js';
import { deleteS3Object, getS3Object, putS3Object } from '../replica/s3/operations.js';
import { sha256Hex } from '../replica/s3/signing.js';

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
  /** Removes what writers that died left beside the lease (file stores). */
  sweep?(logger: Logger): Promise<void>;
}

/** How long a writer may hold a lease file's mutex before others call it dead. */
const MUTEX_STALE_MS = 10_000;
/** How long a writer waits for the mutex before the store counts as unreachable. */
const MUTEX_WAIT_MS = 2_000;

/**
 * A lease file for a file replica (a directory, maybe shared between machines). Readers
 * never see it absent while it is replaced: a new version is renamed over the old one. The
 * compare before that rename is made under a short writer mutex, a file beside it created
 * with `link()` (never over another); one left by a writer that died is taken away when it
 * is older than {@link MUTEX_STALE_MS}. The ETag is the SHA-256 of the bytes, which every
 * write makes new.
 */
export function fileLeaseStore(file: string): LeaseStore {
  const dir = path.dirname(file);
  const mutex = `${file}.mutex`;
  const stagedPrefix = (kind: string) => `.${path.basename(file)}.${kind}-`;
  const staged = (kind: string) => path.join(dir, ownedName(stagedPrefix(kind)));
  const tagOf = (body: string) => sha256Hex(body);
  const current = async (): Promise<StoredLease | undefined> => {
    const body = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined;
      throw error;
    });
    return body === undefined ? undefined : { body, etag: tagOf(body) };
  };
  /** Writes `body` over the lease file in one step. */
  const install = async (body: string): Promise<string> => {
    const next = staged('new');
    try {
      await writeFile(next, body, { flag: 'wx', mode: 0o644 });
      await rename(next, file);
    } catch (error) {
      await unlink(next).catch(() => {});
      throw error;
    }
    return tagOf(body);
  };
  const locked = async <T>(work: () => Promise<T>): Promise<T> => {
    // The replica directory itself may not exist before the first backup.
    await mkdir(dir, { recursive: true });
    const mine = staged('mutex');
    await writeFile(mine, '', { flag: 'wx', mode: 0o644 });
    try {
      const deadline = Date.now() + MUTEX_WAIT_MS;
      for (;;) {
        try {
          await link(mine, mutex);
          break;
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        }
        const held = await stat(mutex).catch(() => undefined);
        if (held !== undefined && Date.now() - held.mtimeMs > MUTEX_STALE_MS) {
          // Its writer died mid-write: take it away (of two processes, one rename wins), and
          // give back a fresh one that another process put there since the stat. (A third
          // process could still slip in before it is back: only after a writer died in here.)
          const taken = staged('stale');
          if (
            await rename(mutex, taken).then(
              () => true,
              () => false,
            )
          ) {
            if ((await stat(taken).catch(() => undefined))?.ino !== held.ino) await link(taken, mutex).catch(() => {});
            await unlink(taken).catch(() => {});
          }
          continue;
        }
        if (Date.now() > deadline) throw new Error(`${mutex} stayed locked for ${MUTEX_WAIT_MS} ms`);
        await sleep(2 + Math.random() * 8);
      }
    } finally {
      await unlink(mine).catch(() => {});
    }
    try {
      return await work();
    } finally {
      await unlink(mutex).catch(() => {});
    }
  };
  return {
    read: () => current(),
    create: (body) => locked(async () => ((await current()) === undefined ? install(body) : undefined)),
    replace: (etag, body) => locked(async () => ((await current())?.etag === etag ? install(body) : undefined)),
    remove: (etag) =>
      locked(async () => {
        if ((await current())?.etag !== etag) return false;
        await unlink(file);
        return true;
      }),
    async sweep(logger) {
      for (const kind of ['new', 'mutex', 'stale']) await sweepLeftovers(dir, stagedPrefix(kind), logger);
    },
  };
}

/** A lease object in a bucket, written with S3 conditional requests. */
export function s3LeaseStore(bucket: S3Bucket, key: string, options: S3CallOptions = {}): LeaseStore {
  const call = (signal: AbortSignal | undefined): S3CallOptions => ({ ...options, signal: signal ?? options.signal });
  return {
    read: (signal) => getS3Object(bucket, key, call(signal)),
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
