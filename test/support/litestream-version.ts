// Which Litestream release line the current test file runs against (its vitest project's),
// and that line's engine, for tests that render or parse what litestream reads and prints.
import { inject } from 'vitest';
import { engineFor } from '../../src/engine/select.js';

/** `'0.3'` (the bundled v0.3.13) or `'0.5'` (the test tools' v0.5.18). */
export const family = inject('litestreamFamily');

/** The engine that speaks to the Litestream under test. */
export const engine = await engineFor(family);

/**
 * What a restore says it restored, as the release line names it: a 0.3 generation id, or a
 * 0.5 transaction id.
 */
export function restoredPosition(result: { generation?: string | undefined; txid?: number | undefined }): string {
  if (family === '0.3') {
    if (!/^[0-9a-f]{16}$/.test(result.generation ?? '')) throw new Error(`no generation: ${JSON.stringify(result)}`);
    return result.generation as string;
  }
  if (!Number.isSafeInteger(result.txid) || (result.txid as number) < 1) {
    throw new Error(`no transaction id: ${JSON.stringify(result)}`);
  }
  return String(result.txid);
}
