/**
 * Litestream 0.3 (v0.3.13 is bundled): generations of snapshots and WAL segments, a
 * shadow WAL beside each database, `replicas:` in its config.
 * @internal
 */
import type { Engine, RestoreDialect, RestoredPosition } from '../engine.js';
import { findDamagedObjects } from './damaged-objects.js';
import { latestGenerationOf } from './generation-choice.js';
import { lineageV0_3 } from './lineage.js';
import { listBackups, listDatabases, listGenerations, listSnapshots, listWal } from './listings.js';
import { planTarget } from './point-in-time.js';
import { SyncTracker } from './sync-tracker.js';
import { walChainGap } from './wal-chain.js';
import { renderYaml } from './yaml.js';

// What litestream says when nothing in the replica matches (no backup, or none that early).
const NO_MATCHING_BACKUP = /no matching backups found|no snapshots available/;

export const engineV0_3 = Object.freeze<Engine>({
  family: '0.3',
  renderYaml,
  // No control socket in 0.3: sync() waits for the log.
  syncsOnRequest: () => false,
  adaptEnv: () => undefined,
  // 0.3.13 reports a replica that 0.5 wrote as having no backup.
  unreadableFormats: ['0.5'],
  shutdown: { hangsOnSignalDuringUpload: true, silentWhileRetrying: false },
  finalSyncRetryWaitsForCatchUp: true,
  // A WAL whose header changed since its shadow WAL starts a new generation (a snapshot).
  resumeNeedsTruncatedWal: false,
  exitCodeProvesFinalSync: true,
  // Its WAL copies read to the end of the WAL: the log proves what the replica holds.
  logProvesDurability: true,
  createTracker: (paths: readonly string[]) => new SyncTracker(paths),
  replicationProblem: () => undefined,
  planTarget,
  listBackups,
  listings: {
    own: { generations: listGenerations, snapshots: listSnapshots, wal: listWal },
    instead: (listing, name) =>
      listing === 'ltx'
        ? `${name('generations')} lists its backups, ${name('snapshots')} and ${name('wal')} what each holds`
        : `${name(listing)} is what it lists`,
  },
  listDatabases,
  newestBackup: async (config, runtime, db) => {
    const rows = await listGenerations(config, runtime, db);
    const newest = rows.reduce<(typeof rows)[number] | undefined>(
      (best, row) => (best && best.end >= row.end ? best : row),
      undefined,
    );
    return newest && { at: newest.end, generation: newest.generation, txid: undefined, lagMs: newest.lagMs };
  },
  lineage: lineageV0_3,
  restore: Object.freeze<RestoreDialect>({
    targetFlags: (target) => [
      ...(target.timestamp ? ['-timestamp', target.timestamp.toISOString()] : []),
      ...(target.generation ? ['-generation', target.generation] : []),
      ...(target.index !== undefined ? ['-index', target.index.toString(16)] : []),
    ],
    // `restore -o OUT` writes OUT.tmp, applies the WAL, then renames it.
    progressFile: (output: string) => `${output}.tmp`,
    tempFiles: (output: string) => [`${output}.tmp`, `${output}.tmp-wal`, `${output}.tmp-shm`],
    restoredPosition: (result): RestoredPosition => {
      let generation: string | undefined;
      for (const line of result.lines) {
        if (typeof line.fields.generation === 'string') generation = line.fields.generation;
      }
      return { generation, txid: undefined };
    },
    saysNoBackup: (result, errorText) =>
      NO_MATCHING_BACKUP.test(errorText) || result.lines.some((line) => line.msg === 'no matching backups found'),
    // Litestream 0.3 can restore an abandoned generation over the newest on a tie (see
    // newestGeneration): list the generations beside the download and restore the newest.
    checkLatestChoice: async (config, runtime, db, signal, listed) => {
      const latest = await latestGenerationOf(config, runtime, db, signal, listed);
      return (restored) =>
        restored.generation !== undefined && latest !== undefined && latest !== restored.generation
          ? { generation: latest }
          : undefined;
    },
    // 0.3.13 does not check that WAL segments follow one another without a gap.
    findGap: async (db, restored, signal) => {
      const location = db.replicas[0];
      if (!location || restored.generation === undefined) return undefined;
      return walChainGap(location, restored.generation, { signal });
    },
    findDamaged: async (db, target, detail, signal) => {
      const location = db.replicas[0];
      return location ? findDamagedObjects(location, target, detail, { signal }) : [];
    },
  }),
});
