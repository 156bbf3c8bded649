import type { ReplicaLocation } from '../../config/replica-location.js';
import { faultyObjects, type ReplicaReadOptions, replicaObjects } from '../../replica/objects.js';
import type { RestoreTarget } from '../engine.js';
import { formatTxid } from '../positions.js';
import { ltxLevelDir, v05LtxTxids } from './file-names.js';
import { ltxFileProblem } from './ltx-file.js';

const SNAPSHOT_LEVEL = 9;

/** One LTX file of the replica. */
interface LtxFile {
  readonly key: string;
  readonly level: number;
  readonly minTxid: number;
  readonly maxTxid: number;
}

/**
 * After `litestream restore` failed on a damaged backup (`detail`, its error): the LTX files
 * a restore of `target` reads that are damaged, each as `<key>: <what is wrong>`, checked
 * from Node (pages decompressed, file checksum recomputed). Litestream 0.5 names no file
 * ("decode page 2: … lz4: invalid source"); this names it. A chain that litestream found
 * broken is named by the transactions no file holds. Empty when none checked is damaged, or
 * when Node cannot read the replica.
 */
export async function findDamagedObjects(
  location: ReplicaLocation,
  target: RestoreTarget,
  detail: string,
  options: ReplicaReadOptions = {},
): Promise<string[]> {
  const gap = /non-contiguous ltx files: have up to ([0-9a-f]{16}) but next file starts at ([0-9a-f]{16})/.exec(detail);
  if (gap) {
    const first = formatTxid(Number.parseInt(gap[1] as string, 16) + 1);
    const last = formatTxid(Number.parseInt(gap[2] as string, 16) - 1);
    return [
      `${ltxLevelDir(location, 0)}/${first}-${last}.ltx is missing: no LTX file holds transactions ${first} to ${last} (at level 0 they may have been several files)`,
    ];
  }
  const objects = replicaObjects(location, options);
  const files: LtxFile[] = [];
  for (let level = 0; level <= SNAPSHOT_LEVEL; level++) {
    const dir = ltxLevelDir(location, level);
    for (const { name } of await objects.list(dir)) {
      const txids = v05LtxTxids(name);
      if (txids) files.push({ key: `${dir}/${name}`, level, ...txids });
    }
  }
  // What a restore of the target may read: the newest snapshot it can start from (every one
  // up to it for a timestamp, which Node cannot turn into a transaction id), then every
  // file of the lower levels after that snapshot.
  const upTo = target.txid ?? Number.POSITIVE_INFINITY;
  const snapshots = files
    .filter((file) => file.level === SNAPSHOT_LEVEL && file.maxTxid <= upTo)
    .sort((a, b) => b.maxTxid - a.maxTxid)
    .slice(0, target.timestamp ? undefined : 1);
  const after = Math.min(...snapshots.map((file) => file.maxTxid), upTo);
  const changes = files
    .filter((file) => file.level < SNAPSHOT_LEVEL && file.maxTxid > after && file.minTxid <= upTo)
    .sort((a, b) => b.level - a.level || a.minTxid - b.minTxid);
  return faultyObjects(
    objects,
    [...snapshots, ...changes].map((file) => file.key),
    // A page encoding this check does not read: litestream's own error is all there is.
    async (bytes) => {
      const problem = await ltxFileProblem(bytes);
      return problem === 'unknown' ? undefined : problem;
    },
  );
}
