import type { DatabaseConfig, LitestreamConfig } from '../../config/types.js';
import type { Runtime } from '../engine.js';
import type { GenerationSpan } from '../replica-formats.js';
import { listGenerations } from './listings.js';

const SECOND_MS = 1_000;

/**
 * The generation a restore of the latest state should read, or undefined when the listing
 * has none.
 *
 * Litestream 0.3 restores the generation whose newest object has the newest S3
 * `LastModified`, and on a tie the first one listed (generation ids are random). Listings
 * give `LastModified` in whole seconds on AWS S3 and most other servers. When litestream
 * restarts on a new generation, an upload of the abandoned one that was still in flight can
 * land in the same second as the new generation's last one: the tie then restores the
 * abandoned, older history and silently drops everything written since. Among the
 * generations that end in the newest second, the one that started last is the successor,
 * so it wins.
 */
export function newestGeneration(rows: readonly GenerationSpan[]): string | undefined {
  const second = (date: Date) => Math.floor(date.getTime() / SECOND_MS);
  let best: GenerationSpan | undefined;
  for (const row of rows) {
    if (!best) {
      best = row;
      continue;
    }
    const byEnd = second(row.end) - second(best.end);
    if (byEnd > 0 || (byEnd === 0 && row.start.getTime() > best.start.getTime())) best = row;
  }
  return best?.generation;
}

/**
 * {@link newestGeneration} of `db`'s replica, beside a restore: from the generations Node
 * listed when it could, else from litestream's own listing (one more process); undefined
 * when the listing fails (the restore itself then reports why) or is given up.
 */
export async function latestGenerationOf(
  config: LitestreamConfig,
  runtime: Runtime,
  db: DatabaseConfig,
  signal: AbortSignal,
  listed: Promise<readonly GenerationSpan[] | undefined>,
): Promise<string | undefined> {
  const spans = await listed.catch(() => undefined);
  if (spans) return newestGeneration(spans);
  return listGenerations(config, runtime, db, { signal }).then(newestGeneration, () => undefined);
}
