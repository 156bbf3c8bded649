/**
 * Notices about the process itself (its environment), said once per process: the same
 * sentence on every config, every CLI command and every restart would only be noise. This
 * module holds the one piece of process-wide state that takes, named here rather than
 * hidden in the modules that log.
 *
 * @packageDocumentation
 */
import type { Logger, LogLevel } from './logger.js';

/** The notices already said by this process, by key. */
const said = new Set<string>();

/**
 * Logs `message` at `level` the first time `key` comes up in this process, and at debug
 * after that (still there for whoever debugs, never repeated above it).
 */
export function noticeOncePerProcess(
  logger: Logger,
  level: LogLevel,
  key: string,
  fields: object,
  message: string,
): void {
  const first = !said.has(key);
  said.add(key);
  logger[first ? level : 'debug'](fields, message);
}

/** Forgets every notice, as a new process would start. For tests only. @internal */
export function forgetProcessNotices(): void {
  said.clear();
}
