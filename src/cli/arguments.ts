/** The CLI's arguments: parsed, split at `--` for `run`, and checked against the command. */
import { parseArgs } from 'node:util';
import { HELP } from './help.js';

/** A usage error: exit code 2. */
export class UsageError extends Error {}

const COMMANDS = new Set(Object.keys(HELP).filter((name) => name !== 'main'));

/** Commands that act on one database; the others take any number. */
export const ONE_DATABASE = new Set(['backups', 'generations', 'snapshots', 'wal', 'ltx', 'restore', 'verify']);

export function parse(argv: readonly string[]) {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: {
      config: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
      output: { type: 'string', short: 'o' },
      timestamp: { type: 'string' },
      generation: { type: 'string' },
      index: { type: 'string' },
      txid: { type: 'string' },
      timeout: { type: 'string' },
      'metrics-port': { type: 'string' },
      'health-details': { type: 'boolean' },
      'pass-secrets': { type: 'boolean' },
    },
  });
  const [command, ...rest] = positionals;
  if (command !== undefined && !COMMANDS.has(command)) throw new Error(`unknown command "${command}"`);
  return { command, values, positionals: rest };
}

/** `run`'s arguments: what comes before `--` is litestream-node's, what follows is the app's command. */
export function splitCommand(argv: readonly string[]): { own: readonly string[]; app: readonly string[] | undefined } {
  const at = argv.indexOf('--');
  if (argv[0] !== 'run' || at === -1) return { own: argv, app: undefined };
  return { own: argv.slice(0, at), app: argv.slice(at + 1) };
}

export type Values = ReturnType<typeof parse>['values'];

/** Refuses a flag the command does not take. */
export function checkFlags(command: string, values: Values): void {
  const allowed: Record<string, (keyof Values)[]> = {
    restore: ['output', 'timestamp', 'generation', 'index', 'txid'],
    verify: ['timeout'],
    run: ['metrics-port', 'health-details', 'pass-secrets'],
  };
  const flags = [
    'output',
    'timestamp',
    'generation',
    'index',
    'txid',
    'timeout',
    'metrics-port',
    'health-details',
    'pass-secrets',
  ] as const;
  for (const flag of flags) {
    if (values[flag] !== undefined && !allowed[command]?.includes(flag)) {
      throw new UsageError(`--${flag} does not apply to "${command}"`);
    }
  }
}
