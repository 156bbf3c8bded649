import type { ReplicaLocation } from '../../replica/layout.js';
import { V03_FILE } from '../../replica/layout.js';
import { type ReplicaObject, type ReplicaReadOptions, replicaObjects } from '../../replica/objects.js';
import type { RestoreTarget } from '../engine.js';
import { lz4FrameProblem } from './lz4-frame.js';

/** The largest object checked (larger ones are left to litestream's own message). */
export const MAX_CHECKED_BYTES = 256 * 1024 * 1024;

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
  const objects = replicaObjects(location, { ...options, maxBytes: MAX_CHECKED_BYTES });
  if (!objects) return [];
  const candidates: string[] = [];
  const wal = /cannot download wal ([0-9a-f]{16})\/([0-9a-f]{8,16})/.exec(detail);
  if (wal) {
    // That WAL index's segments, in order.
    const [, generation, index] = wal as unknown as [string, string, string];
    const dir = `generations/${generation}/wal`;
    candidates.push(
      ...(await objects.list(dir))
        .flatMap((object) => withNumbers(object, V03_FILE.wal))
        .filter(({ numbers }) => numbers[0] === Number.parseInt(index, 16))
        .sort((a, b) => (a.numbers[1] ?? 0) - (b.numbers[1] ?? 0))
        .map(({ name }) => `${dir}/${name}`),
    );
  } else {
    // A snapshot: the newest (up to the target's index) of each generation it may have used.
    const generations = target.generation ? [target.generation] : await objects.dirs('generations');
    for (const generation of generations) {
      const dir = `generations/${generation}/snapshots`;
      const newest = (await objects.list(dir))
        .flatMap((object) => withNumbers(object, V03_FILE.snapshots))
        .filter(({ numbers }) => target.index === undefined || (numbers[0] ?? 0) <= target.index)
        .sort((a, b) => (b.numbers[0] ?? 0) - (a.numbers[0] ?? 0))[0];
      if (newest) candidates.push(`${dir}/${newest.name}`);
    }
  }
  const damaged: string[] = [];
  for (const key of candidates) {
    const bytes = await objects.read(key);
    if (bytes === undefined) continue;
    const problem = await lz4FrameProblem(bytes);
    if (problem !== undefined) damaged.push(`${key}: ${problem}`);
  }
  return damaged;
}

/** An object whose name matches `pattern`, with the hex numbers its name holds. */
function withNumbers(object: ReplicaObject, pattern: RegExp): { name: string; numbers: number[] }[] {
  if (object.size > MAX_CHECKED_BYTES) return [];
  const match = pattern.exec(object.name);
  return match ? [{ name: object.name, numbers: match.slice(1).map((hex) => Number.parseInt(hex, 16)) }] : [];
}
