/** One log line printed by litestream, parsed. */
export interface LitestreamLogLine {
  readonly time: string | undefined;
  /** Litestream's level, lower-cased: `debug`, `info`, `warn` or `error`. */
  readonly level: string;
  readonly msg: string;
  /** Absolute database path, when the line is about one database. */
  readonly db: string | undefined;
  /** All other attributes, as litestream printed them. */
  readonly fields: Readonly<Record<string, unknown>>;
}

/**
 * Parses one line of litestream output: JSON (`logging.type: json`), else slog's text
 * format (`time=… level=INFO msg="…" key=value`), else a bare line as an info message.
 */
export function parseLogLine(raw: string): LitestreamLogLine | undefined {
  const line = raw.trim();
  if (line === '') return undefined;
  const record = line.startsWith('{') ? parseJson(line) : parseLogfmt(line);
  if (!record || typeof record.msg !== 'string') {
    return { time: undefined, level: 'info', msg: line, db: undefined, fields: {} };
  }
  const { time, level, msg, db, ...fields } = record;
  // Litestream 0.5 prints two `level` keys on some lines (slog's, then the LTX compaction
  // level): JSON.parse keeps the last, but the first is the log level.
  const logLevel = line.startsWith('{') ? (FIRST_LEVEL.exec(line)?.[1] ?? level) : level;
  if (logLevel !== level && level !== undefined) fields.level = level;
  return {
    time: typeof time === 'string' ? time : undefined,
    level: typeof logLevel === 'string' ? logLevel.toLowerCase() : 'info',
    msg,
    db: typeof db === 'string' ? db : undefined,
    fields,
  };
}

/** What a forwarded line adds to the logger's own fields. */
export interface ForwardedFields {
  /** The database the line is about (absolute path), as the library's own lines name it. */
  db?: string;
  /**
   * Everything else litestream printed: its attributes as it printed them (on 0.5's
   * compaction lines `level` is the LTX level, a number), its own `time`, and `logLevel`
   * when the line is logged at another level than litestream's (a routine error logged at
   * debug).
   */
  litestream: Record<string, unknown>;
}

/**
 * The fields to log a litestream line with: its attributes nested under one key, so none
 * can repeat a key the logger writes itself (pino's `level`, `time`, `pid`, `hostname`,
 * `msg`). A log pipeline that parses the line as JSON keeps the last of two equal keys, and
 * a `level >= 50` filter would then miss an error that carried litestream's `level: 9`.
 */
export function forwardedFields(line: LitestreamLogLine, loggedAt: string = line.level): ForwardedFields {
  const litestream: Record<string, unknown> = { ...line.fields };
  if (line.time !== undefined) litestream.time = line.time;
  if (loggedAt !== line.level) litestream.logLevel = line.level;
  return line.db === undefined ? { litestream } : { db: line.db, litestream };
}

/**
 * When litestream logged `line`: its own clock (printed to the millisecond, rounded down),
 * else `now`, and never after `now`. A line is read here some time after it was printed.
 */
export function loggedAt(line: LitestreamLogLine, now: Date): Date {
  const logged = line.time === undefined ? Number.NaN : Date.parse(line.time);
  return Number.isFinite(logged) && logged < now.getTime() ? new Date(logged) : now;
}

const FIRST_LEVEL = /"level":"([A-Za-z]+)"/;

function parseJson(line: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(line);
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

const LOGFMT_PAIR = /([\w.-]+)=("(?:[^"\\]|\\.)*"|\S*)/g;

function parseLogfmt(line: string): Record<string, unknown> | undefined {
  const record: Record<string, unknown> = {};
  for (const [, key, value] of line.matchAll(LOGFMT_PAIR)) {
    if (key === undefined || value === undefined) continue;
    record[key] = value.startsWith('"') ? (parseJson(`{"v":${value}}`)?.v ?? value.slice(1, -1)) : value;
  }
  return 'msg' in record ? record : undefined;
}

/**
 * Splits a byte stream into lines and calls `onLine` for each; the returned function
 * flushes a last unterminated line.
 */
export function lineSplitter(onLine: (line: string) => void): { push(chunk: Buffer | string): void; end(): void } {
  let pending = '';
  return {
    push(chunk) {
      pending += chunk.toString();
      let newline = pending.indexOf('\n');
      while (newline !== -1) {
        onLine(pending.slice(0, newline));
        pending = pending.slice(newline + 1);
        newline = pending.indexOf('\n');
      }
    },
    end() {
      if (pending !== '') onLine(pending);
      pending = '';
    },
  };
}
