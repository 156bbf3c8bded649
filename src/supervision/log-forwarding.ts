/**
 * Log forwarding: every line the supervised child prints goes to the app's logger at the
 * level the child gave it (routine noise at debug), with the child's own fields nested so
 * they never overwrite the logger's.
 *
 * @packageDocumentation
 */

import type { Logger, LogLevel } from '../logging/logger.js';
import { forwardedFields, type LitestreamLogLine } from '../process/log-lines.js';

/** Litestream's levels (Go's slog and 0.3's logger spell warn two ways) to the logger's. */
const LEVELS: Readonly<Record<string, LogLevel>> = {
  debug: 'debug',
  info: 'info',
  warn: 'warn',
  warning: 'warn',
  error: 'error',
};

/** Forwards the child's log lines to `logger`. */
export class LogForwarding {
  readonly #logger: Logger;
  readonly #isBenign: (line: LitestreamLogLine) => boolean;

  /** `isBenign` tells a routine line that its level overstates (logged at debug). */
  constructor(logger: Logger, isBenign: (line: LitestreamLogLine) => boolean) {
    this.#logger = logger;
    this.#isBenign = isBenign;
  }

  /** The level `line` is logged at: its own (unknown ones at info), debug when benign. */
  levelOf(line: LitestreamLogLine): LogLevel {
    return this.#isBenign(line) ? 'debug' : (LEVELS[line.level] ?? 'info');
  }

  forward(line: LitestreamLogLine): void {
    const level = this.levelOf(line);
    this.#logger[level](forwardedFields(line, level), line.msg);
  }
}

/** One line as a shutdown error names it: its message, database and error. */
export function describeLine(line: LitestreamLogLine): string {
  const error = line.fields.error;
  const where = line.db ? ` (${line.db})` : '';
  return typeof error === 'string' ? `${line.msg}${where}: ${error}` : `${line.msg}${where}`;
}
