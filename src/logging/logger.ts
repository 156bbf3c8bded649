/**
 * A pino-compatible logger: each method takes an optional object of fields, then a
 * message. pino, Fastify's `app.log`, and {@link consoleLogger} all fit.
 */
export interface Logger {
  debug(fields: object, message?: string): void;
  info(fields: object, message?: string): void;
  warn(fields: object, message?: string): void;
  error(fields: object, message?: string): void;
  /** Optional, as in pino: returns a logger that adds `bindings` to every line. */
  child?(bindings: object): Logger;
}

/** Levels litestream-node logs at. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

const noop = (): void => {};

/** A logger that drops everything (`logger: false`). */
export const silentLogger: Logger = { debug: noop, info: noop, warn: noop, error: noop };

/**
 * The default logger: info and above to stderr as `[litestream] message {fields}`.
 * Debug lines (every litestream sync) are dropped.
 */
export const consoleLogger: Logger = {
  debug: noop,
  info: (fields, message) => write('info', fields, message),
  warn: (fields, message) => write('warn', fields, message),
  error: (fields, message) => write('error', fields, message),
};

function write(level: LogLevel, fields: object, message: string | undefined): void {
  const extra = Object.keys(fields).length > 0 ? ` ${JSON.stringify(fields)}` : '';
  process.stderr.write(`[litestream] ${level}: ${message ?? ''}${extra}\n`);
}

/** `logger.child(bindings)` when the logger has it, otherwise a wrapper that merges them. */
export function childLogger(logger: Logger, bindings: object): Logger {
  if (typeof logger.child === 'function') return logger.child(bindings);
  const wrap =
    (level: LogLevel) =>
    (fields: object, message?: string): void =>
      logger[level]({ ...bindings, ...fields }, message);
  return { debug: wrap('debug'), info: wrap('info'), warn: wrap('warn'), error: wrap('error') };
}

/** Messages already logged, per owner (a config): keyed by object, so instances never share. */
const logged = new WeakMap<object, Set<string>>();

/**
 * Logs `message` the first time it comes for `owner` (e.g. a config): what holds for all of
 * a config's commands — which executable runs, what its environment needed — is said once.
 */
export function logOnce(owner: object, logger: Logger, level: LogLevel, fields: object, message: string): void {
  let said = logged.get(owner);
  if (!said) {
    said = new Set();
    logged.set(owner, said);
  }
  if (said.has(message)) return;
  said.add(message);
  logger[level](fields, message);
}
