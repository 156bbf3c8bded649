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
