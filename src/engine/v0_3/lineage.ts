import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { companionFiles } from '../../paths.js';
import { type GenerationSpan, inspectReplica } from '../../replica/layout.js';
import type { LineageDialect, LineageVerdict } from '../engine.js';

// Litestream 0.3 writes one generation per run of history: a copy replicated by one instance
// stays in its generation, and any other instance (one that restored, or a stale copy coming
// back) starts a new one, which becomes "the latest" by its last write. So a copy whose
// generation is the replica's newest holds the newest history (possibly more); a copy on any
// other generation does not, whatever its size.

/** The generation litestream 0.3 last replicated `database` in (`.<name>-litestream/generation`). */
async function localGeneration(database: string): Promise<string | undefined> {
  const file = path.join(companionFiles(database).metaDir, 'generation');
  const text = await readFile(file, 'utf8').catch(() => undefined);
  const generation = text?.trim();
  return generation === undefined || generation === '' ? undefined : generation;
}

/** The generations last written in the replica's newest second (litestream 0.3 picks among them). */
function newestGenerations(spans: readonly GenerationSpan[]): GenerationSpan[] {
  const newestSecond = Math.max(...spans.map((span) => Math.floor(span.end.getTime() / 1000)));
  return spans.filter((span) => Math.floor(span.end.getTime() / 1000) === newestSecond);
}

export const lineageV0_3: LineageDialect = Object.freeze<LineageDialect>({
  markOf: (position) => (position.generation === undefined ? undefined : { generation: position.generation }),

  async compare(database, location, marker, options): Promise<LineageVerdict> {
    const [local, contents] = await Promise.all([
      localGeneration(database),
      inspectReplica(location, { generationSpans: true, ...(options.signal ? { signal: options.signal } : {}) }),
    ]);
    if (!contents.checked) throw new Error(contents.reason);
    const spans = contents.generations ?? [];
    if (!contents.formats.has('0.3') || spans.length === 0) {
      return { fits: true, why: 'the replica holds no backup of this format', mark: undefined };
    }
    const newest = newestGenerations(spans);
    const names = newest.map((span) => span.generation);
    const replica = `generation ${names.join(' or ')} (last written ${newest[0]?.end.toISOString()})`;
    const mark = newest.length === 1 ? { generation: names[0] as string } : undefined;
    if (local !== undefined && names.includes(local)) {
      return { fits: true, why: 'this copy’s generation is the replica’s newest', mark: { generation: local } };
    }
    // A generation litestream began here but never uploaded (it stopped within seconds, or the
    // replica was down): the copy descends from what it held before, which the marker says.
    const inReplica = local !== undefined && spans.some((span) => span.generation === local);
    if (!inReplica && marker !== undefined && 'generation' in marker && names.includes(marker.generation)) {
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
          : 'another instance wrote a newer generation to the replica after this copy’s last write there',
    };
  },
});
