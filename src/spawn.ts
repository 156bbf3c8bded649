import { EventEmitter } from 'node:events';
import { execa, type ResultPromise } from 'execa';

/** A running litestream child process. */
export type LitestreamProcess = ResultPromise<{ buffer: false; stdin: 'ignore'; reject: false }>;

/**
 * Emits `spawn` with `{ pid, command }` for every litestream child started, so callers
 * (and tests) can observe exactly what was run. Arguments never hold secrets.
 */
export const spawnEvents = new EventEmitter<{ spawn: [{ pid: number | undefined; command: string }] }>();

/**
 * Starts `binary args…` with the given environment. Output is streamed, never
 * buffered (the replicator runs for days). Its exit never throws; callers read it.
 */
export function spawnLitestream(binary: string, args: readonly string[], env: NodeJS.ProcessEnv): LitestreamProcess {
  const child = execa(binary, args, {
    env,
    extendEnv: false,
    buffer: false,
    stdin: 'ignore',
    reject: false,
    // litestream finishes its own shutdown; execa must not race it with a SIGKILL.
    forceKillAfterDelay: false,
  });
  spawnEvents.emit('spawn', { pid: child.pid, command: args[0] ?? '' });
  return child;
}
