// Litestream 0.3 restores the generation whose newest object is newest, by S3
// LastModified, which real servers list in whole seconds; on a tie it takes the first
// listed. An upload to an abandoned generation that lands in the same second as the new
// generation's last one (seen in the S3 stall scenario: the upload was in flight when
// litestream was restarted) then restores the older history. This test builds that tie
// exactly, through versitygw's data directory (each object is a file there; its mtime is
// the object's LastModified), so it runs on versitygw only.
import { readdirSync, renameSync, statSync, utimesSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ensureRestored, generations, restore, startReplication } from '../src/index.js';
import { spawnEvents } from '../src/process/spawn.js';
import {
  deleteDatabase,
  readIds,
  s3Replica,
  stopCleanly,
  tempDir,
  testConfig,
  track,
  writeRows,
} from './support/fixtures.js';
import { testS3 } from './support/s3-per-file.js';

/** Every file under `dir`. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.join(entry.parentPath, entry.name));
}

const newestMtime = (files: string[]) => Math.max(...files.map((file) => statSync(file).mtimeMs));

describe('choosing the generation to restore', () => {
  it.each(['s3', 'file'] as const)(
    'restores the newer generation when an abandoned one was last written in the same second (%s replica)',
    async (kind) => {
      const dir = tempDir();
      const fileReplica = path.join(tempDir(), 'replica');
      const replica = kind === 'file' ? ({ type: 'file', path: fileReplica } as const) : s3Replica();
      const { config, logger } = testConfig(dir, { replica });
      const db = config.databases[0] as (typeof config.databases)[number];

      // Generation 1: rows 1-3. Then litestream's local state is lost (a new container that
      // kept the database file), so the next start begins generation 2 with rows 1-6.
      writeRows(db.path, 'first', 3);
      const first = track(startReplication(config));
      await first.ready;
      await stopCleanly(first);
      for (const entry of readdirSync(dir)) if (entry.endsWith('-litestream')) deleteDatabase(path.join(dir, entry));
      const all = [...readIds(db.path), ...writeRows(db.path, 'second', 3)];
      // A copy without litestream's record is refused as possibly stale; replicated on purpose here.
      const keepLocal = testConfig(dir, {
        replica,
        restore: { retryForMs: 2_000, stallTimeoutMs: 20_000, onStale: 'keep-local' },
      }).config;
      const second = track(startReplication(keepLocal));
      await second.ready;
      await stopCleanly(second);

      const listed = await generations(config, db.path);
      expect(listed).toHaveLength(2);
      const [older, newer] = [...listed].sort((a, b) => a.start.getTime() - b.start.getTime()) as [
        (typeof listed)[number],
        (typeof listed)[number],
      ];
      // The tie: generation 1's newest object gets generation 2's last-modified second, and
      // generation 1 is the one listed first (ids are random; renamed so the order is fixed).
      const root =
        kind === 's3'
          ? path.join(
              testS3().dataDir,
              testS3().bucket,
              (config.replica as { path: string }).path,
              path.basename(db.path),
              'generations',
            )
          : path.join(fileReplica, path.basename(db.path), 'generations');
      const olderDir = path.join(root, '0000000000000000');
      const newerDir = path.join(root, 'ffffffffffffffff');
      renameSync(path.join(root, older.generation), olderDir);
      renameSync(path.join(root, newer.generation), newerDir);
      // Generation 1 was written 10 s before generation 2 began, but for one late upload.
      const tie = new Date(Math.floor(newestMtime(filesUnder(newerDir)) / 1000) * 1000);
      const before = new Date(tie.getTime() - 10_000);
      const [late, ...earlier] = filesUnder(olderDir).sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
      for (const file of earlier) utimesSync(file, before, before);
      utimesSync(late as string, tie, tie);
      // A file replica keeps sub-second times: make generation 2's last write land on the whole second too.
      const [newest] = filesUnder(newerDir).sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
      utimesSync(newest as string, tie, tie);
      const tied = await generations(config, db.path);
      expect(tied.map((row) => [row.generation, row.end.getTime()])).toEqual([
        ['0000000000000000', tie.getTime()],
        ['ffffffffffffffff', tie.getTime()],
      ]);

      // A new container restores: every row of generation 2.
      deleteDatabase(db.path);
      deleteDatabase(config.databases[1]?.path as string);
      const commands: string[] = [];
      const onSpawn = ({ command }: { command: string }) => commands.push(command);
      spawnEvents.on('spawn', onSpawn);
      const [result] = await ensureRestored(config).finally(() => spawnEvents.off('spawn', onSpawn));
      // The generations were seen in the listing Node made of the replica: no second litestream.
      expect(commands.filter((command) => command !== 'restore')).toEqual([]);
      expect(result).toMatchObject({ outcome: 'restored', generation: 'ffffffffffffffff' });
      expect(readIds(db.path)).toEqual(all);
      // Litestream 0.3.13 takes the tie's first-listed generation from S3 (whole-second times);
      // from a file replica it chooses right here, and then nothing needs retargeting.
      if (kind === 's3') {
        expect(logger.text()).toContain(
          'litestream restored an older generation that was last written in the same second as the newest',
        );
      }

      // The CLI's restore of the latest state chooses the same way.
      const output = path.join(tempDir(), 'latest.sqlite3');
      await restore(config, { database: db.path, output });
      expect(readIds(output)).toEqual(all);
    },
  );
});
