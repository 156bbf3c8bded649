import { readdir } from 'node:fs/promises';
import path from 'node:path';
import type { ReplicaLocation } from '../../config/replica-location.js';
import { readFileTail, replicaObjects } from '../../replica/objects.js';
import { companionFiles } from '../../sqlite/database-files.js';
import { ConcurrencyLimit } from '../../support/concurrency.js';
import type { LineageDialect, LineageMark, LineageVerdict } from '../engine.js';
import { formatTxid } from '../positions.js';
import { ltxLevelDir, v05LtxTxids } from './file-names.js';

// Litestream 0.5 keeps the LTX files it wrote in `.<name>-litestream/ltx/<level>/`, and uploads
// each level-0 file to the replica as it is; neither side ever removes its newest level-0 file.
// Its LTX files carry no database checksum (they are written with the no-checksum flag), but
// each ends with a checksum of the file itself: a replica file this copy wrote is one it holds,
// byte for byte, under the same transaction range. One another instance wrote is not.

const TRAILER_SIZE = 16;
const LEVELS = 10;

/** Level listings at once when level 0 is empty. */
const LEVELS_AT_ONCE = 4;

/** One LTX file: its transaction range, and where to read it. */
interface LtxFile {
  readonly minTxid: number;
  readonly maxTxid: number;
  readonly read: () => Promise<Buffer | undefined>;
}

/** The file checksum at the end of an LTX file's trailer, as hex; undefined for a file too short to have one. */
function fileChecksum(tail: Buffer | undefined): string | undefined {
  if (tail === undefined || tail.length < TRAILER_SIZE) return undefined;
  return tail.subarray(tail.length - 8).toString('hex');
}

/** The LTX files litestream keeps beside `database`, every level. */
async function localFiles(database: string): Promise<LtxFile[]> {
  const root = path.join(companionFiles(database).metaDir, 'ltx');
  const levels = await readdir(root).catch(() => [] as string[]);
  const files = await Promise.all(
    levels.map(async (level) => {
      const names = await readdir(path.join(root, level)).catch(() => [] as string[]);
      return names.flatMap((name) => {
        const txids = v05LtxTxids(name);
        const file = path.join(root, level, name);
        return txids ? [{ ...txids, read: () => readFileTail(file, TRAILER_SIZE) }] : [];
      });
    }),
  );
  return files.flat();
}

/** The replica's newest LTX file: from level 0 (where litestream keeps its newest), else any level. */
async function newestInReplica(
  location: ReplicaLocation,
  options: { signal?: AbortSignal | undefined },
): Promise<LtxFile | undefined> {
  const objects = replicaObjects(location, options);
  const listLevel = async (level: number): Promise<LtxFile[]> => {
    const dir = ltxLevelDir(location, level);
    return (await objects.list(dir)).flatMap((object) => {
      const txids = v05LtxTxids(object.name);
      return txids ? [{ ...txids, read: () => objects.tail(`${dir}/${object.name}`, TRAILER_SIZE) }] : [];
    });
  };
  let files = await listLevel(0);
  if (files.length === 0) {
    // A few at a time: each listing holds a listener on the caller's signal, which the boot
    // shares with its other requests (ten at once is where Node warns of a leak).
    const slots = new ConcurrencyLimit(LEVELS_AT_ONCE);
    const levels = await Promise.all(
      Array.from({ length: LEVELS - 1 }, (_, index) => slots.run(() => listLevel(index + 1))),
    );
    files = levels.flat();
  }
  return newest(files);
}

function newest(files: readonly LtxFile[]): LtxFile | undefined {
  let found: LtxFile | undefined;
  for (const file of files) if (!found || file.maxTxid > found.maxTxid) found = file;
  return found;
}

const at = (txid: number, checksum: string | undefined) =>
  `TXID ${formatTxid(txid)}${checksum === undefined ? '' : ` (file checksum ${checksum})`}`;

export const lineageV0_5: LineageDialect = Object.freeze<LineageDialect>({
  markOf: (position) => (position.txid === undefined ? undefined : { txid: position.txid }),

  async compare(database, location, marker, options): Promise<LineageVerdict> {
    const [locals, remote] = await Promise.all([localFiles(database), newestInReplica(location, options)]);
    if (!remote) return { fits: true, why: 'the replica holds no backup of this format', mark: undefined };
    const remoteChecksum = fileChecksum(await remote.read());
    const mark: LineageMark = { txid: remote.maxTxid, checksum: remoteChecksum };
    const replica = at(remote.maxTxid, remoteChecksum);
    const local = newest(locals);
    if (!local) {
      // No record of litestream's: a copy restored (or begun empty) by this library, whose
      // litestream never ran, or a file from elsewhere.
      if (marker !== undefined && 'txid' in marker && marker.txid === remote.maxTxid) {
        if (marker.checksum === undefined || remoteChecksum === undefined || marker.checksum === remoteChecksum) {
          return { fits: true, why: 'this copy was restored from the replica’s newest backup', mark };
        }
      }
      return {
        fits: false,
        kind: marker === undefined ? 'unknown' : 'behind',
        local:
          marker === undefined
            ? 'no replication record (litestream has never replicated this file, and it was not restored here)'
            : 'txid' in marker
              ? `restored at ${at(marker.txid, marker.checksum)}, never replicated since`
              : 'begun as a new database while the replica was empty, never replicated since',
        replica,
        why:
          marker === undefined
            ? 'nothing shows that this copy holds the replica’s newest backup'
            : 'the replica received writes after this copy was made',
      };
    }
    const localAt = at(local.maxTxid, undefined);
    // The replica's newest file, if this copy wrote it, is one it still holds.
    const twin = locals.find((file) => file.minTxid === remote.minTxid && file.maxTxid === remote.maxTxid);
    if (twin !== undefined) {
      const twinChecksum = fileChecksum(await twin.read());
      if (twinChecksum !== undefined && twinChecksum === remoteChecksum) {
        return {
          fits: true,
          why:
            local.maxTxid === remote.maxTxid
              ? 'this copy is the replica’s newest state'
              : 'this copy is ahead of the replica on the same history',
          mark,
        };
      }
    }
    if (remote.maxTxid > local.maxTxid) {
      return {
        fits: false,
        kind: 'behind',
        local: localAt,
        replica,
        why: 'the replica holds transactions this copy does not have',
      };
    }
    // The replica's newest position is in this copy's past (or is its present), written by
    // someone else: the same transaction range with other bytes, or a range this copy never
    // stopped at.
    const covered = locals.some((file) => file.minTxid <= remote.maxTxid && remote.maxTxid <= file.maxTxid);
    if (twin !== undefined || covered) {
      return {
        fits: false,
        kind: 'diverged',
        local: localAt,
        replica,
        why:
          twin !== undefined
            ? `another instance wrote the replica's transactions ${formatTxid(remote.minTxid)}–${formatTxid(remote.maxTxid)}, not this copy (the files differ)`
            : `another instance wrote the replica's newest transactions: this copy never stopped at ${formatTxid(remote.maxTxid)}`,
      };
    }
    return {
      fits: false,
      kind: 'unknown',
      local: localAt,
      replica,
      why: `this copy no longer keeps its record of ${formatTxid(remote.maxTxid)}, so it cannot be compared with the replica's newest file`,
    };
  },
});
