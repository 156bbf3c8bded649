import type { ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import type { Readable } from 'node:stream';
import { loadChildProcess } from '../support/load-on-use.js';

/** How a child ended. Exactly one of `exitCode` and `signal` is set, or neither when it never started. */
export interface ProcessExit {
  readonly exitCode: number | undefined;
  readonly signal: NodeJS.Signals | undefined;
  /** Why it could not be started (`ENOENT`, `EACCES`, …), when it could not. */
  readonly error: Error | undefined;
}

/**
 * A running child process (litestream, the short Node child that truncates a WAL, or the
 * app `litestream-node run` runs): its output streams, a way to signal it, and its exit,
 * which never rejects. Built on `node:child_process` alone: a process manager library cost
 * a cold boot ~95 ms of import time for the little used here.
 */
export class SpawnedChild {
  readonly #child: ChildProcess;
  /** Settles once the process has exited and its output streams have closed. */
  readonly exited: Promise<ProcessExit>;

  constructor(child: ChildProcess) {
    this.#child = child;
    this.exited = new Promise((resolve) => {
      let startError: Error | undefined;
      // 'error' without a pid: it never started, and 'close' follows with no code.
      child.once('error', (error) => {
        startError ??= error;
      });
      child.once('close', (code, signal) => {
        // A child that never started closes with a negative errno as its code.
        resolve({
          exitCode: startError ? undefined : (code ?? undefined),
          signal: signal ?? undefined,
          error: startError,
        });
      });
    });
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  get stdout(): Readable {
    return this.#child.stdout as Readable;
  }

  get stderr(): Readable {
    return this.#child.stderr as Readable;
  }

  /** True once a signal was sent to it by {@link kill}. */
  get killed(): boolean {
    return this.#child.killed;
  }

  /** Sends `signal`; false when the process has already exited. */
  kill(signal: NodeJS.Signals): boolean {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return false;
    return this.#child.kill(signal);
  }
}

/**
 * Emits `spawn` with `{ pid, command }` for every litestream child started, so callers
 * (and tests) can observe exactly what was run. Arguments never hold secrets.
 */
export const spawnEvents = new EventEmitter<{ spawn: [{ pid: number | undefined; command: string }] }>();

/** How {@link spawnChild} starts a process. */
export interface SpawnOptions {
  /**
   * Start it in a process group of its own, so that signals sent to the app's group (a
   * terminal's Ctrl-C) reach the app alone, and the app decides when litestream stops.
   * For the replicator; short-lived commands stay in the app's group and die with it.
   */
  ownProcessGroup?: boolean;
  /** Let it write to this process's stdout and stderr (an app run by `litestream-node run`) instead of pipes. */
  inheritOutput?: boolean;
}

/**
 * Loads what starting litestream needs (Node's child_process, a few milliseconds) ahead
 * of the first start: called while file operations are in flight, it costs that start
 * nothing.
 */
export function prepareSpawn(): void {
  loadChildProcess();
}

/**
 * Starts `binary args…` with the given environment: the library's one way to start a
 * process. Output is streamed, never buffered (the replicator runs for days). Its exit
 * never throws; callers read it.
 */
export function spawnChild(
  binary: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  options: SpawnOptions = {},
): SpawnedChild {
  const child = new SpawnedChild(
    loadChildProcess().spawn(binary, args, {
      env,
      detached: options.ownProcessGroup ?? false,
      stdio: options.inheritOutput ? ['ignore', 'inherit', 'inherit'] : ['ignore', 'pipe', 'pipe'],
    }),
  );
  killOnExit(child);
  spawnEvents.emit('spawn', { pid: child.pid, command: args[0] ?? '' });
  return child;
}

const live = new Set<SpawnedChild>();

/**
 * A litestream still running when this process exits (`process.exit()` or an empty event
 * loop; not death by a signal) gets SIGTERM, so it ends now rather than at its next log
 * write. It makes no final sync then: its output pipe closes with this process, and its
 * first shutdown log line kills it. Only `stop()` makes a final sync. An `exit` listener,
 * unlike a signal listener, changes nothing about how the app handles signals.
 */
function killOnExit(child: SpawnedChild): void {
  if (live.size === 0) process.on('exit', terminateLive);
  live.add(child);
  void child.exited.then(() => {
    live.delete(child);
    if (live.size === 0) process.off('exit', terminateLive);
  });
}

function terminateLive(): void {
  for (const child of live) child.kill('SIGTERM');
}
