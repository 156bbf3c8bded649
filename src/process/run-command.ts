import { abortedWithin } from '../support/abort.js';
import { type LitestreamLogLine, lineSplitter, parseLogLine } from './log-lines.js';
import { spawnChild } from './spawn.js';

/** What a finished litestream command printed. */
export interface CommandResult {
  readonly exitCode: number | undefined;
  readonly signal: string | undefined;
  /** Every stdout/stderr line, in order, parsed. */
  readonly lines: readonly LitestreamLogLine[];
  /** The raw stdout (listing commands print tables there). */
  readonly stdout: string;
  /** True when the command was killed for showing no progress. */
  readonly stalled: boolean;
  /** True when the command was killed because `signal` aborted. */
  readonly aborted: boolean;
  /** Why the command could not be started at all (`ENOENT`, `EACCES`, …). */
  readonly startError: Error | undefined;
}

/** Options for {@link runCommand}. */
export interface RunOptions {
  env: NodeJS.ProcessEnv;
  /** Kill the command when neither output nor `progress()` changed for this long. */
  stallTimeoutMs: number;
  /** Extra progress signal, e.g. the size of the file being written. */
  progress?: () => Promise<number>;
  onLine?: (line: LitestreamLogLine) => void;
  /** Kills the command (SIGKILL: a short-lived command has nothing to finish) when it aborts. */
  signal?: AbortSignal | undefined;
}

/** Runs a short-lived litestream command to completion and collects its output. */
export async function runCommand(binary: string, args: readonly string[], options: RunOptions): Promise<CommandResult> {
  const child = spawnChild(binary, args, options.env);
  const lines: LitestreamLogLine[] = [];
  let stdout = '';
  let lastActivity = Date.now();
  const collect = (line: string) => {
    lastActivity = Date.now();
    const parsed = parseLogLine(line);
    if (!parsed) return;
    lines.push(parsed);
    options.onLine?.(parsed);
  };
  const out = lineSplitter((line) => {
    stdout += `${line}\n`;
    collect(line);
  });
  const err = lineSplitter(collect);
  child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
  child.stderr.on('data', (chunk: Buffer) => err.push(chunk));

  let aborted = false;
  const onAbort = () => {
    aborted = true;
    child.kill('SIGKILL');
  };
  if (options.signal?.aborted) onAbort();
  else options.signal?.addEventListener('abort', onAbort, { once: true });
  let stalled = false;
  let lastProgress = -1;
  const watchdog = setInterval(
    () => {
      void (async () => {
        const progress = options.progress ? await options.progress().catch(() => -1) : -1;
        if (progress !== lastProgress) {
          lastProgress = progress;
          lastActivity = Date.now();
        }
        if (Date.now() - lastActivity > options.stallTimeoutMs && !stalled) {
          stalled = true;
          child.kill('SIGKILL');
        }
      })();
    },
    Math.min(1000, Math.max(50, options.stallTimeoutMs / 4)),
  );
  try {
    const result = await child.exited;
    // We never send litestream SIGINT or SIGTERM: one sent to the whole process group (Ctrl-C
    // in a terminal, a container stop) reaches this process too, and the child's exit may be
    // seen before our own handler has aborted. Give that handler a moment.
    if (!aborted && options.signal && (result.signal === 'SIGINT' || result.signal === 'SIGTERM')) {
      await abortedWithin(options.signal, 1_000);
    }
    out.end();
    err.end();
    return {
      exitCode: result.exitCode,
      signal: result.signal,
      lines,
      stdout,
      stalled,
      aborted,
      startError: result.error,
    };
  } finally {
    clearInterval(watchdog);
    options.signal?.removeEventListener('abort', onAbort);
  }
}

/** The text of the error lines of a command, for classification and error detail. */
export function errorOutput(result: CommandResult): string {
  const errors = result.lines.filter((line) => line.level === 'error' || line.level === 'warn');
  // A command that fails prints `Error: …` (plain text) last; its log lines are only context.
  const said = result.lines
    .filter((line) => /^error: /i.test(line.msg))
    .map((line) => ({ ...line, msg: line.msg.replace(/^error: /i, '') }));
  const chosen = errors.length > 0 ? errors : said.length > 0 ? said : result.lines.slice(-5);
  return chosen
    .map((line) => {
      const error = line.fields.error;
      return typeof error === 'string' ? `${line.msg}: ${error}` : line.msg;
    })
    .join('\n');
}
