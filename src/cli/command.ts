/** What every command but \`run\` is given, and gives back. */
import type { LitestreamConfig } from '../config/types.js';
import type { Values } from './arguments.js';

/** A command's inputs: the loaded config, its flags and DB arguments, and Ctrl-C. */
export interface CommandContext {
  readonly config: LitestreamConfig;
  readonly values: Values;
  readonly positionals: readonly string[];
  /** Print JSON instead of a table. */
  readonly json: boolean;
  /** Aborted by SIGINT or SIGTERM: the command gives up cleanly. */
  readonly signal: AbortSignal;
}

/** Runs a command; resolves to what to print on stdout, if anything. */
export type Command = (context: CommandContext) => Promise<string | undefined>;
