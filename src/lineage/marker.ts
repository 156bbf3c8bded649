import { readFile, rename, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { LineageMark } from '../engine/engine.js';
import { ownedName } from '../process/owner.js';
import { companionFiles } from '../sqlite/database-files.js';

// Beside each database: which replica state the copy is known to hold, written after a
// restore (or a boot that began a new database) and after a boot that found the copy
// current. Litestream's own record (its meta directory) says more and wins; this one covers
// a copy litestream has not replicated yet: restored, then the process died before it ran.

/** The mark recorded beside `database`, if any (an unreadable one counts as none). */
export async function readLineageMark(database: string): Promise<LineageMark | undefined> {
  const text = await readFile(companionFiles(database).lineage, 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  try {
    const parsed = JSON.parse(text) as { mark?: unknown };
    const mark = parsed.mark as Record<string, unknown> | undefined;
    if (mark && typeof mark.generation === 'string') return { generation: mark.generation };
    if (mark && typeof mark.txid === 'number') {
      return { txid: mark.txid, checksum: typeof mark.checksum === 'string' ? mark.checksum : undefined };
    }
    if (mark && mark.empty === true) return { empty: true };
  } catch {
    // Not ours, or cut short: no mark.
  }
  return undefined;
}

/** Records `mark` beside `database`, atomically (a temp file renamed over the old one). */
export async function writeLineageMark(database: string, mark: LineageMark): Promise<void> {
  const file = companionFiles(database).lineage;
  const temp = path.join(path.dirname(file), ownedName(`${path.basename(file)}.tmp-`));
  await writeFile(temp, `${JSON.stringify({ mark, recordedAt: new Date().toISOString() })}\n`, { mode: 0o600 });
  try {
    await rename(temp, file);
  } catch (error) {
    await unlink(temp).catch(() => {});
    throw error;
  }
}

/** True when the two marks name the same replica state. */
export function sameMark(a: LineageMark | undefined, b: LineageMark | undefined): boolean {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}
