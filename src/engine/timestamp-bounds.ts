import { LitestreamError } from '../errors.js';

/**
 * Refuses a point-in-time `timestamp` after both this machine's clock and the replica's newest
 * backup. Backups carry the S3 server's times, which may run ahead of this clock: a time
 * within them is a time that has passed, as far as the replica is concerned.
 */
export function refuseFuture(timestamp: Date, newest: Date | undefined, name: string): void {
  if (timestamp.getTime() <= Math.max(Date.now(), newest?.getTime() ?? 0)) return;
  const hint = newest ? ` (the newest backup is from ${newest.toISOString()}, by the replica's clock)` : '';
  throw new LitestreamError(
    `${name} ${timestamp.toISOString()} is in the future: choose a time that has passed${hint}.`,
  );
}
