import { EventEmitter } from 'node:events';
import { execa, type ResultPromise } from 'execa';

/** A running litestream child process. */
export type LitestreamProcess = ResultPromise<{ buffer: false; stdin: 'ignore'; reject: false }>;

/**
 * Emits `spawn` with `{ pid, command }` for every litestream child started, so callers
 * (and tests) can observe exactly what was run. Arguments never hold secrets.
 */
export const spawnEvents = new EventEmitter<{ spawn: [{ pid: number | undefined; command: string }] }>();

/** How {@link spawnLitestream} starts a process. */
export interface SpawnOptions {
  /**
   * Start it in a process group of its own, so that signals sent to the app's group (a
   * terminal's Ctrl-C) reach the app alone, and the app decides when litestream stops.
   * For the replicator; short-lived commands stay in the app's group and die with it.
   */
  ownProcessGroup?: boolean;
}

/**
 * Starts `binary args…` with the given environment. Output is streamed, never
 * buffered (the replicator runs for days). Its exit never throws; callers read it.
 */
export function spawnLitestream(
  binary: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  options: SpawnOptions = {},
): LitestreamProcess {
  const child = execa(binary, args, {
    env,
    detached: options.ownProcessGroup ?? false,
    extendEnv: false,
    buffer: false,
    stdin: 'ignore',
    reject: false,
    // litestream finishes its own shutdown; execa must not race it with a SIGKILL.
    forceKillAfterDelay: false,
    // execa's cleanup (signal-exit) installs and removes a signal listener with every
    // child. When an app's `process.once('SIGTERM')` handler ran and removed itself,
    // signal-exit sees itself alone and re-raises the signal: the app dies in the middle
    // of its graceful shutdown, before the final sync. `killOnExit` does its job instead.
    cleanup: false,
  });
  killOnExit(child);
  spawnEvents.emit('spawn', { pid: child.pid, command: args[0] ?? '' });
  return child;
}

const live = new Set<LitestreamProcess>();

/**
 * A litestream still running when this process exits (`process.exit()` or an empty event
 * loop; not death by a signal) gets SIGTERM, so it ends now rather than at its next log
 * write. It makes no final sync then: its output pipe closes with this process, and its
 * first shutdown log line kills it. Only `stop()` makes a final sync. An `exit` listener,
 * unlike a signal listener, changes nothing about how the app handles signals.
 */
function killOnExit(child: LitestreamProcess): void {
  if (live.size === 0) process.on('exit', terminateLive);
  live.add(child);
  void child.finally(() => {
    live.delete(child);
    if (live.size === 0) process.off('exit', terminateLive);
  });
}

function terminateLive(): void {
  for (const child of live) child.kill('SIGTERM');
}
