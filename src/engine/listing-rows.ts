/**
 * The rows of the listings one release line has and the other has not, as the public API
 * returns them. The engines fill them; nothing outside `engine/` needs a version's module to
 * name them.
 */

/** One generation of a database in the replica (`litestream generations`, Litestream 0.3). */
export interface GenerationRow {
  /** Replica name (`s3`, `file`, or the name given in a config file). */
  readonly replica: string;
  readonly generation: string;
  /**
   * How far the end of this generation is behind the local database's last change, or
   * behind now when the database is not there locally. Never negative: a replica written
   * after the last local change has all of it, which is a lag of 0 (litestream itself prints
   * a negative duration then, because the upload is stamped after the write).
   */
  readonly lagMs: number;
  readonly start: Date;
  readonly end: Date;
}

/** One snapshot (`litestream snapshots`, Litestream 0.3). */
export interface SnapshotRow {
  readonly replica: string;
  readonly generation: string;
  readonly index: number;
  readonly size: number;
  readonly createdAt: Date;
}

/** One WAL segment (`litestream wal`, Litestream 0.3). */
export interface WalRow {
  readonly replica: string;
  readonly generation: string;
  readonly index: number;
  readonly offset: number;
  readonly size: number;
  readonly createdAt: Date;
}

/** One LTX file of a database in the replica (`litestream ltx`, Litestream 0.5). */
export interface LtxRow {
  /**
   * Compaction level: 0 holds each sync's changes, higher levels merge them over longer
   * windows, and the highest (9) holds full snapshots.
   */
  readonly level: number;
  /** The first transaction id the file holds. */
  readonly minTxid: number;
  /** The last transaction id the file holds: a restore with `txid` can stop here. */
  readonly maxTxid: number;
  readonly size: number;
  /** When the file was written (whole seconds). */
  readonly createdAt: Date;
}
