import type { ReplicaLocation } from '../../config/replica-location.js';
import { faultyObjects, type ReplicaReadOptions, replicaObjects } from '../../replica/objects.js';
import type { RestoreTarget } from '../engine.js';
import { v03Segment, v03SnapshotIndex } from './file-names.js';
import { lz4FrameProblem } from './lz4-frame.js';

/**
 * After `litestream restore` failed on a damaged backup (`detail`, its error): the objects it
 * read that are damaged, each as `<key>: <what is wrong>`, checked from Node (LZ4 framing and
 * content checksums). Litestream 0.3.13 names a WAL index at best ("cannot download wal
 * <generation>/<index>") and no snapshot; this names the object. Empty when none checked is
 * damaged, or when Node cannot read the replica.
 */
export async function findDamagedObjects(
  location: ReplicaLocation,
  target: RestoreTarget,
  detail: string,
  options: ReplicaReadOptions = {},
): Promise<string[]> {
  const objects = replicaObjects(location, options);
  const candidates: string[] = [];
  const wal = /cannot download wal ([0-9a-f]{16})\/([0-9a-f]{8,16})/.exec(detail);
  if (wal) {
    // That WAL index's segments, in order.
    const [, generation, index] = wal as unknown as [string, string, string];
    const dir = `generations/${generation}/wal`;
    const segments = (await objects.list(dir)).flatMap(({ name }) => {
      const segment = v03Segment(name);
      return segment?.index === Number.parseInt(index, 16) ? [{ name, offset: segment.offset }] : [];
    });
    candidates.push(...segments.sort((a, b) => a.offset - b.offset).map(({ name }) => `${dir}/${name}`));
  } else {
    // A snapshot: the newest (up to the target's index) of each generation it may have used.
    const generations = target.generation ? [target.generation] : await objects.dirs('generations');
    for (const generation of generations) {
      const dir = `generations/${generation}/snapshots`;
      const newest = (await objects.list(dir))
        .flatMap(({ name }) => {
          const index = v03SnapshotIndex(name);
          return index !== undefined && (target.index === undefined || index <= target.index) ? [{ name, index }] : [];
        })
        .sort((a, b) => b.index - a.index)[0];
      if (newest) candidates.push(`${dir}/${newest.name}`);
    }
  }
  return faultyObjects(objects, candidates, lz4FrameProblem);
}
