/**
 * Litestream 0.5: LTX files with transaction ids instead of generations, one replica per
 * database, compaction levels, local LTX files beside each database.
 * @internal
 */
import type { Engine, RestoreDialect, RestoredPosition } from '../engine.js';
import { formatTxid, parseTxid } from '../positions.js';
import { findDamagedObjects } from './damaged-objects.js';
import { adaptEnv } from './env.js';
import { lineageV0_5 } from './lineage.js';
import { listLtx, listLtxBackups } from './ltx.js';
import { planTarget } from './point-in-time.js';
import { LtxSyncTracker, sameFileName } from './sync-tracker.js';
import { renderYaml } from './yaml.js';

export const engineV0_5 = Object.freeze<Engine>({
  family: '0.5',
  renderYaml,
  syncsOnRequest: (version) => {
    const match = /^v?0\.5\.(\d+)/.exec(version.trim());
    // `POST /sync` waits for the replica since 0.5.9.
    return match !== null && Number(match[1]) >= 9;
  },
  adaptEnv,
  // 0.5.7 and later restore what 0.3 wrote.
  unreadableFormats: [],
  shutdown: { hangsOnSignalDuringUpload: false, silentWhileRetrying: true },
  finalSyncRetryWaitsForCatchUp: false,
  // 0.5.18 verifies a restarted WAL by its stale frames: see Engine.resumeNeedsTruncatedWal.
  resumeNeedsTruncatedWal: true,
  // With its replica unreachable, 0.5.17 exits 0 from SIGTERM having uploaded nothing.
  exitCodeProvesFinalSync: false,
  // Its WAL reads may stop short (64 MiB a pass) without saying so: only the socket proves it.
  logProvesDurability: false,
  createTracker: (paths: readonly string[]) => new LtxSyncTracker(paths),
  replicationProblem: (paths) => {
    const clash = sameFileName(paths);
    return clash
      ? `${clash.join(' and ')} have the same file name, and litestream 0.5 names databases in its log by file name alone, so their replication could not be told apart: give each database a distinct file name, or use Litestream 0.3`
      : undefined;
  },
  planTarget,
  listBackups: listLtxBackups,
  listings: {
    own: { ltx: listLtx },
    instead: (listing, name) =>
      listing === 'generations'
        ? `${name('ltx')} lists its LTX files, with their TXIDs and times`
        : listing === 'snapshots'
          ? `${name('ltx')} lists its snapshots as the files of the highest level`
          : listing === 'wal'
            ? `${name('ltx')} lists its LTX files (level 0 holds the recent changes)`
            : `${name(listing)} is what it lists`,
  },
  // Its `databases` command reads a running replicator's control socket; the config says the
  // same without one (one replica per database).
  listDatabases: async (config) =>
    config.databases.map((db) => ({ path: db.path, replicas: [config.replica?.type ?? 'replica'] })),
  newestBackup: async (config, runtime, db) => {
    const files = await listLtx(config, runtime, db);
    if (files.length === 0) return undefined;
    // The newest data, when it first reached the replica (compaction rewrites it later).
    const txid = Math.max(...files.map((file) => file.maxTxid));
    const at = Math.min(...files.filter((file) => file.maxTxid === txid).map((file) => file.createdAt.getTime()));
    return { at: new Date(at), generation: undefined, txid, lagMs: undefined };
  },
  lineage: lineageV0_5,
  restore: Object.freeze<RestoreDialect>({
    targetFlags: (target) => [
      ...(target.timestamp ? ['-timestamp', target.timestamp.toISOString()] : []),
      ...(target.txid !== undefined ? ['-txid', formatTxid(target.txid)] : []),
    ],
    // `restore -o OUT` compacts the LTX files into OUT.tmp, then renames it.
    progressFile: (output: string) => `${output}.tmp`,
    tempFiles: (output: string) => [`${output}.tmp`, `${output}.tmp-wal`, `${output}.tmp-shm`],
    restoredPosition: (result): RestoredPosition => {
      let txid: number | undefined;
      for (const line of result.lines) {
        if (line.msg === 'restore plan') txid = parseTxid(line.fields.txid) ?? txid;
      }
      return { generation: undefined, txid };
    },
    saysNoBackup: (result, errorText) =>
      /no matching backups found|no matching backup files available/.test(errorText) ||
      result.lines.some((line) => line.msg === 'no matching backups found'),
    findDamaged: async (db, target, detail, signal) => {
      const location = db.replicas[0];
      return location ? findDamagedObjects(location, target, detail, { signal }) : [];
    },
  }),
});
