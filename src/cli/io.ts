/** Where the CLI writes, and the loggers it gives the library for each kind of command. */
import type { Logger } from '../logging/logger.js';

/** The CLI's standard streams and environment (injected by tests). */
export interface Io {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: Readonly<Record<string, string | undefined>>;
  isTTY: boolean;
}

/** On a terminal: what is happening, with elapsed time, overwritten in place. */
export function progressLogger(io: Io): Logger {
  const started = Date.now();
  const show = (fields: object, message?: string) => {
    // The library's own fields, or litestream's (nested under `litestream`) on its restore lines.
    type Position = { generation?: string; index?: number };
    const given = fields as Position & { litestream?: Position };
    const detail = { ...given.litestream, ...given };
    const what = [message, detail.generation, detail.index === undefined ? '' : `index ${detail.index}`]
      .filter(Boolean)
      .join(' ');
    io.stderr(`\r\x1b[2K[${((Date.now() - started) / 1000).toFixed(1)}s] ${what}`);
  };
  return {
    debug: show,
    info: show,
    warn: (fields, message) => io.stderr(`\r\x1b[2Kwarning: ${message} ${JSON.stringify(fields)}\n`),
    error: (fields, message) => io.stderr(`\r\x1b[2Kerror: ${message} ${JSON.stringify(fields)}\n`),
  };
}

/** When piped: only warnings and errors, one line each. */
export function quietLogger(io: Io): Logger {
  const noop = () => {};
  return {
    debug: noop,
    info: noop,
    warn: (fields, message) => io.stderr(`warning: ${message} ${JSON.stringify(fields)}\n`),
    error: noop,
  };
}

/** For `run`: warnings and errors beside the app's own output, one line each, prefixed. */
export function appLogger(io: Io): Logger {
  const noop = () => {};
  const line = (level: string) => (fields: object, message?: string) =>
    io.stderr(`litestream-node ${level}: ${message ?? ''} ${JSON.stringify(fields)}\n`);
  return { debug: noop, info: noop, warn: line('warning'), error: line('error') };
}

export function processIo(): Io {
  return {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    env: process.env,
    isTTY: process.stderr.isTTY === true,
  };
}
