/**
 * How Litestream writes replica positions, for messages and flags on either release line:
 * 0.5's transaction ids and 0.3's WAL indexes, each as fixed-width hex.
 * @internal
 */

/** A transaction id as litestream 0.5 prints it: 16 hex digits. */
export function parseTxid(value: unknown): number | undefined {
  if (typeof value !== 'string' || !/^[0-9a-f]{1,16}$/i.test(value)) return undefined;
  const txid = Number.parseInt(value, 16);
  return Number.isSafeInteger(txid) ? txid : undefined;
}

/** A transaction id the way litestream 0.5 prints and reads it. */
export function formatTxid(txid: number): string {
  return txid.toString(16).padStart(16, '0');
}

/** A WAL index the way litestream 0.3 prints and reads it: 8 hex digits. */
export function formatWalIndex(index: number): string {
  return index.toString(16).padStart(8, '0');
}

/** Where a restore or a status stands: `generation G` (0.3) or `TXID N` (0.5); undefined when neither is known. */
export function describePosition(position: {
  readonly generation?: string | undefined;
  readonly txid?: number | undefined;
}): string | undefined {
  if (position.generation !== undefined) return `generation ${position.generation}`;
  if (position.txid !== undefined) return `TXID ${formatTxid(position.txid)}`;
  return undefined;
}
