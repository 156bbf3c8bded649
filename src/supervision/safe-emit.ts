/**
 * Events from a supervisor reach the app's listeners from stream and child-process
 * callbacks, where a throw would be uncaught and end the process. A listener's bug must
 * not take replication down with it.
 *
 * @packageDocumentation
 */
import type { EventEmitter } from 'node:events';
import type { Logger } from '../logging/logger.js';

/**
 * Emits like `emitter.emit`, but a listener that throws is logged instead of thrown: the
 * listeners after it for that event are skipped (as with emit), supervision goes on.
 */
export function emitSafely<Events extends Record<keyof Events, unknown[]>, K extends keyof Events & string>(
  emitter: EventEmitter<Events>,
  logger: Logger,
  event: K,
  ...args: Events[K]
): void {
  try {
    (emitter as unknown as EventEmitter).emit(event, ...args);
  } catch (error) {
    logger.error(
      { event, error: error instanceof Error ? error.message : String(error) },
      `a listener of the "${event}" event threw; replication goes on`,
    );
  }
}
