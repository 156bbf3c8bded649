/** Litestream 0.3's file names in a replica generation, parsed. */

/** Litestream 0.3's file names in a generation: a snapshot's WAL index; a WAL segment's index and offset (hex). */
export const V03_FILE = {
  snapshots: /^([0-9a-f]{8,16})\.snapshot\.lz4$/,
  wal: /^([0-9a-f]{8,16})_([0-9a-f]{8,16})\.wal\.lz4$/,
};

/** The WAL index a Litestream 0.3 snapshot file name holds; undefined for another name. */
export function v03SnapshotIndex(name: string): number | undefined {
  const match = V03_FILE.snapshots.exec(name);
  return match ? Number.parseInt(match[1] as string, 16) : undefined;
}

/** The WAL index and offset a Litestream 0.3 WAL segment file name holds; undefined for another name. */
export function v03Segment(name: string): { index: number; offset: number } | undefined {
  const match = V03_FILE.wal.exec(name);
  return match
    ? { index: Number.parseInt(match[1] as string, 16), offset: Number.parseInt(match[2] as string, 16) }
    : undefined;
}
