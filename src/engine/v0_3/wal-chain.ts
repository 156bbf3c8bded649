import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { setImmediate } from 'node:timers/promises';
import { type ReplicaLocation, s3BucketOf, V03_FILE } from '../../replica/layout.js';
import { getS3Bytes, listS3Pages } from '../../replica/s3-request.js';
import { lz4BlockLengths } from './lz4-frame.js';

// Litestream 0.3.13 checks that a generation's WAL indexes follow one another and that each
// starts at offset 0, but not that each WAL segment starts where the one before it ended: a
// segment missing from the middle of an index restores a shorter history without a word.

/** The largest WAL segment read to measure it (a sync's worth of changes, compressed). */
const MAX_SEGMENT_BYTES = 256 * 1024 * 1024;

/** How a replica's files are read, whatever holds them. */
interface Objects {
  /** The names in a directory of the generation (`snapshots`, `wal`). */
  names(dir: string): Promise<string[]>;
  read(dir: string, name: string): Promise<Buffer | undefined>;
}

/**
 * Where a restore of `generation`'s latest state would silently skip bytes of the WAL: the
 * first WAL segment, from the newest snapshot's index on, that does not start where the one
 * before it ended. Undefined when the chain is whole, or when Node cannot read the replica
 * (no credentials of its own): litestream's own checks are then all there is.
 */
export async function walChainGap(
  location: ReplicaLocation,
  generation: string,
  options: { signal?: AbortSignal; env?: Readonly<Record<string, string | undefined>> } = {},
): Promise<string | undefined> {
  const objects = objectsOf(location, generation, options);
  if (!objects) return undefined;
  const snapshots = (await objects.names('snapshots')).flatMap((name) => {
    const match = V03_FILE.snapshots.exec(name);
    return match ? [Number.parseInt(match[1] as string, 16)] : [];
  });
  if (snapshots.length === 0) return undefined;
  const from = Math.max(...snapshots);
  const byIndex = new Map<number, { offset: number; name: string }[]>();
  for (const name of await objects.names('wal')) {
    const match = V03_FILE.wal.exec(name);
    if (!match) continue;
    const index = Number.parseInt(match[1] as string, 16);
    if (index < from) continue;
    const segments = byIndex.get(index) ?? [];
    segments.push({ offset: Number.parseInt(match[2] as string, 16), name });
    byIndex.set(index, segments);
  }
  for (const [, segments] of [...byIndex].sort(([a], [b]) => a - b)) {
    segments.sort((a, b) => a.offset - b.offset);
    // Each segment but the last must end where the next begins.
    for (let i = 0; i + 1 < segments.length; i++) {
      const segment = segments[i] as { offset: number; name: string };
      const next = segments[i + 1] as { offset: number; name: string };
      const bytes = await objects.read('wal', segment.name);
      // Gone since the listing (retention): what litestream read is not in question.
      if (bytes === undefined) continue;
      let length = 0;
      try {
        // A block at a time: a large segment is not measured in one stretch of the event loop.
        for (const blockLength of lz4BlockLengths(bytes)) {
          length += blockLength;
          await setImmediate();
        }
      } catch {
        // Litestream read it, or is still writing it (a file replica being replicated to):
        // a checksum or a short read is litestream's to report. Only a gap is ours.
        continue;
      }
      const end = segment.offset + length;
      if (end < next.offset) {
        return `WAL bytes ${end}–${next.offset - 1} of generation ${generation} are in no segment: generations/${generation}/wal/${segment.name} ends at ${end}, and the next segment, ${next.name}, starts at ${next.offset} (a segment is missing)`;
      }
    }
  }
  return undefined;
}

function objectsOf(
  location: ReplicaLocation,
  generation: string,
  options: { signal?: AbortSignal; env?: Readonly<Record<string, string | undefined>> },
): Objects | undefined {
  if (location.type === 'file') {
    const dir = (sub: string) => path.join(location.directory, 'generations', generation, sub);
    return {
      names: (sub) => readdir(dir(sub)).catch(() => []),
      read: (sub, name) =>
        readFile(path.join(dir(sub), name)).catch((error: NodeJS.ErrnoException) => {
          if (error.code === 'ENOENT') return undefined;
          throw error;
        }),
    };
  }
  const bucket = s3BucketOf(location, options.env ?? process.env);
  if (!bucket) return undefined;
  const prefix = (sub: string) =>
    `${location.prefix === '' ? '' : `${location.prefix}/`}generations/${generation}/${sub}/`;
  return {
    names: async (sub) => {
      const names: string[] = [];
      for await (const page of listS3Pages(bucket, { prefix: prefix(sub), signal: options.signal })) {
        for (const object of page.objects) names.push(object.key.slice(prefix(sub).length));
      }
      return names;
    },
    read: (sub, name) =>
      getS3Bytes(bucket, `${prefix(sub)}${name}`, {
        maxBytes: MAX_SEGMENT_BYTES,
        timeoutMs: 120_000,
        signal: options.signal,
      }),
  };
}
