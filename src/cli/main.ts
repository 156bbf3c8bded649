/** The CLI: parse, dispatch to one command, print, and map what happened to an exit code. */
import { checkFlags, parse, splitCommand, UsageError } from './arguments.js';
import type { Command } from './command.js';
import { config } from './commands/config.js';
import { backups, databases, generations, ltx, snapshots, wal } from './commands/listings.js';
import { restore } from './commands/restore.js';
import { runCommand } from './commands/run.js';
import { status } from './commands/status.js';
import { verify } from './commands/verify.js';
import { loadConfig } from './config.js';
import { HELP } from './help.js';
import { type Io, processIo } from './io.js';

const COMMANDS: Readonly<Record<string, Command>> = {
  backups,
  generations,
  snapshots,
  wal,
  ltx,
  databases,
  restore,
  verify,
  status,
  config,
};

/** Runs the CLI with `argv` (without node and script); resolves to the exit code. */
export async function main(argv: readonly string[], io: Io = processIo()): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  const { own, app } = splitCommand(argv);
  try {
    parsed = parse(own);
  } catch (error) {
    io.stderr(`litestream-node: ${(error as Error).message}\nRun "litestream-node --help" for usage.\n`);
    return 2;
  }
  const { command, values, positionals } = parsed;
  if (values.help) {
    io.stdout(`${HELP[command ?? 'main']}\n`);
    return 0;
  }
  if (command === undefined) {
    io.stderr(`${HELP.main}\n`);
    return 2;
  }
  // Ctrl-C or SIGTERM gives a restore or verify up cleanly: litestream killed, temp files removed.
  const interrupted = new AbortController();
  let exitCode = 1;
  const onSignal = (signal: NodeJS.Signals) => {
    exitCode = signal === 'SIGINT' ? 130 : 143;
    interrupted.abort(new Error(`interrupted by ${signal}`));
  };
  const abortable = command === 'restore' || command === 'verify';
  if (abortable) {
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  }
  try {
    checkFlags(command, values);
    // `run` handles signals itself: it passes them on to the app.
    if (command === 'run') return await runCommand(values, positionals, app, io);
    const config = loadConfig(command, values.config, positionals, io);
    const run = COMMANDS[command];
    if (run === undefined) throw new UsageError(`unknown command "${command}"`);
    const output = await run({ config, values, positionals, json: values.json === true, signal: interrupted.signal });
    if (io.isTTY) io.stderr('\r\x1b[2K');
    if (output !== undefined) io.stdout(output.endsWith('\n') ? output : `${output}\n`);
    return 0;
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr(`litestream-node ${command}: ${error.message}\nRun "litestream-node ${command} --help" for usage.\n`);
      return 2;
    }
    const message = error instanceof Error ? error.message.split('\n').join(' ') : String(error);
    io.stderr(`${io.isTTY ? '\r\x1b[2K' : ''}litestream-node ${command}: ${message}\n`);
    return exitCode;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
