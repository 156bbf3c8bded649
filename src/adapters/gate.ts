/**
 * What an app that listens before its databases are in place answers meanwhile: one wording
 * for the Express `gate` and the Fastify plugin's.
 *
 * @packageDocumentation
 */

/**
 * Where the boot stands. `waiting`: another instance holds the replica (a rolling deploy's
 * previous one), and the restore follows once it has made its final sync and let go.
 */
export type GateState = 'idle' | 'waiting' | 'restoring' | 'ready' | 'failed';

/** The `Retry-After` clients are given while the boot runs, in seconds. */
export const DEFAULT_RETRY_AFTER_SECONDS = 5;

/** The body of a `503` for each state but `ready`. */
export const GATE_MESSAGES: Readonly<Record<Exclude<GateState, 'ready'>, string>> = Object.freeze({
  idle: 'restoring databases, retry shortly',
  restoring: 'restoring databases, retry shortly',
  waiting: 'waiting for the previous instance to release the replica after its final sync, retry shortly',
  failed: 'database restore failed',
});
