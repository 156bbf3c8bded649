import { setImmediate } from 'node:timers/promises';
import type { ReplicaLocation } from '../../config/replica-location.js';
import { type ReplicaReadOptions, replicaObjects } from '../../replica/objects.js';
import { v03Segment, v03SnapshotIndex } from './file-names.js';
import { lz4BlockLengths } from './lz4-frame.js';

// Litestream 0.3.13 checks that a generation's WAL indexes follow one another and that each
// starts at offset 0, but not that each WAL segment starts where the one before it ended: a
// segment missing from the middle of an index restores a shorter history without a word.

/**
 * Where a restore of `generation`'s latest state would silently skip bytes of the WAL: the
 * first WAL segment, from the newest snapshot's index on, that does not start where the one
 * before it ended. Undefined when the chain is whole.
 */
export async function walChainGap(
  location: ReplicaLocation,
  generation: string,
  options: ReplicaReadOptions = {},
): Promise<string | undefined> {
  const objects = replicaObjects(location, options);
  const dir = `generations/${generation}`;
  // Both listed at once: one round trip, not two, on the boot's path.
  const [snapshotObjects, walObjects] = await Promise.all([
    objects.list(`${dir}/snapshots`),
    objects.list(`${dir}/wal`),
  ]);
  const snapshots = snapshotObjects.flatMap(({ name }) => v03SnapshotIndex(name) ?? []);
  if (snapshots.length === 0) return undefined;
  const from = Math.max(...snapshots);
  const byIndex = new Map<number, { offset: number; name: string }[]>();
  for (const { name } of walObjects) {
    const segment = v03Segment(name);
    if (!segment || segment.index < from) continue;
    const segments = byIndex.get(segment.index) ?? [];
    segments.push({ offset: segment.offset, name });
    byIndex.set(segment.index, segments);
  }
  for (const [, segments] of [...byIndex].sort(([a], [b]) => a - b)) {
    segments.sort((a, b) => a.offset - b.offset);
    // Each segment but the last must end where the next begins.
    for (let i = 0; i + 1 < segments.length; i++) {
      const segment = segments[i] as { offset: number; name: string };
      const next = segments[i + 1] as { offset: number; name: string };
      const bytes = await objects.read(`${dir}/wal/${segment.name}`);
      // Gone since the listing (retention), or too large to read: litestream's to check.
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
        // The missing segment's name: the index as written, then the offset it would start at.
        const [index, offset] = segment.name.split('_') as [string, string];
        const missing = `${index}_${end.toString(16).padStart(offset.length - '.wal.lz4'.length, '0')}.wal.lz4`;
        return `${dir}/wal/${missing} is missing: WAL bytes ${end}–${next.offset - 1} of generation ${generation} are in no segment (${segment.name} ends at ${end}, and the next segment, ${next.name}, starts at ${next.offset})`;
      }
    }
  }
  return undefined;
}
