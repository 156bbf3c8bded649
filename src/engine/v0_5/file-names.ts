/** Litestream 0.5's LTX file names and level directories. */
import type { ReplicaLocation } from '../../config/replica-location.js';

/** Litestream 0.5's LTX file name: its first and last transaction id (hex). */
export const V05_FILE = /^([0-9a-f]{16})-([0-9a-f]{16})\.ltx$/;

/** The transaction ids a Litestream 0.5 LTX file name holds; undefined for another name. */
export function v05LtxTxids(name: string): { minTxid: number; maxTxid: number } | undefined {
  const match = V05_FILE.exec(name);
  return match
    ? { minTxid: Number.parseInt(match[1] as string, 16), maxTxid: Number.parseInt(match[2] as string, 16) }
    : undefined;
}

/** The directory of a Litestream 0.5 compaction level, relative to the database's replica path. */
export function ltxLevelDir(location: ReplicaLocation, level: number): string {
  return location.type === 'file' ? `ltx/${level}` : level.toString(16).padStart(4, '0');
}
