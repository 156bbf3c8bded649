import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { replicaObjects } from '../../replica/objects.js';
import { companionFiles } from '../../sqlite/database-files.js';
import { ConcurrencyLimit } from '../../support/concurrency.js';
import type { LineageDialect, LineageVerdict } from '../engine.js';

// Litestream 0.3 writes one generation per run of history: a copy replicated by one instance
// stays in its generation, and any other instance (one that restored, or a stale copy coming
// back) starts a new one, which begins with a snapshot. One writer at a time (the lease), so
// the generation with the newest snapshot is the one written last: a copy whose generation is
// that one holds the newest history (possibly more); a copy on any other does not.

const GENERATION = /^[0-9a-f]{16}$/;
/** Generations' snapshot listings at once (a replica holds one generation per restored boot in its retention). */
const LISTINGS_AT_ONCE = 8;

/** The generation litestream 0.3 last replicated `database` in (`.<name>-litestream/generation`). */
async function localGeneration(database: string): Promise<string | undefined> {
  const file = path.join(companionFiles(database).metaDir, 'generation');
  const text = await readFile(file, 'utf8').catch(() => undefined);
  const generation = text?.trim();
  return generation === undefined || generation === '' ? undefined : generation;
}

export const lineageV0_3: LineageDialect = Object.freeze<LineageDialect>({
  markOf: (position) => (position.generation === undefined ? undefined : { generation: position.generation }),

  async compare(database, location, marker, options): Promise<LineageVerdict> {
    const objects = replicaObjects(location, options);
    const [local, names] = await Promise.all([localGeneration(database), objects.dirs('generations')]);
    // One listing of the generations, then each one's snapshots (a few objects each): never
    // the WAL segments, which a busy week fills with tens of thousands.
    const slots = new ConcurrencyLimit(LISTINGS_AT_ONCE);
    const spans = (
      await Promise.all(
        names
          .filter((name) => GENERATION.test(name))
          .map((generation) =>
            slots.run(async () => {
              const snapshots = await objects.list(`generations/${generation}/snapshots`);
              const newest = Math.max(...snapshots.map((snapshot) => snapshot.modified.getTime()));
              return snapshots.length === 0 ? [] : [{ generation, newest }];
            }),
          ),
      )
    ).flat();
    if (spans.length === 0) return { fits: true, why: 'the replica holds no backup of this format', mark: undefined };
    // Litestream dates objects to the second: generations begun in the same second are a tie.
    const newestSecond = Math.max(...spans.map((span) => Math.floor(span.newest / 1000)));
    const newest = spans.filter((span) => Math.floor(span.newest / 1000) === newestSecond);
    const ids = newest.map((span) => span.generation);
    const replica = `generation ${ids.join(' or ')} (newest snapshot ${new Date(newestSecond * 1000).toISOString()})`;
    const mark = ids.length === 1 ? { generation: ids[0] as string } : undefined;
    if (local !== undefined && ids.includes(local)) {
      return { fits: true, why: 'this copy’s generation is the replica’s newest', mark: { generation: local } };
    }
    // A generation litestream began here but never uploaded (it stopped within seconds, or the
    // replica was down): the copy descends from what it held before, which the marker says.
    const inReplica = local !== undefined && spans.some((span) => span.generation === local);
    if (!inReplica && marker !== undefined && 'generation' in marker && ids.includes(marker.generation)) {
      return { fits: true, why: 'this copy descends from the replica’s newest generation', mark };
    }
    const localText =
      local === undefined
        ? marker === undefined
          ? 'no replication record (litestream has never replicated this file, and it was not restored here)'
          : 'generation' in marker
            ? `restored from generation ${marker.generation}, never replicated since`
            : 'begun as a new database while the replica was empty, never replicated since'
        : inReplica
          ? `generation ${local}`
          : `generation ${local} (never uploaded)${marker && 'generation' in marker ? `, restored from generation ${marker.generation}` : ''}`;
    return {
      fits: false,
      kind: local === undefined && marker === undefined ? 'unknown' : 'behind',
      local: localText,
      replica,
      why:
        local === undefined && marker === undefined
          ? 'nothing shows that this copy holds the replica’s newest backup'
          : 'another instance began a newer generation in the replica after this copy’s last write there',
    };
  },
});
