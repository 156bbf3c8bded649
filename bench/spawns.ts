// The child processes this process starts, seen through Node's `child_process` diagnostics
// channel: whichever copy of the library runs (the bundle has a spawn module of its own, so
// the spawn events of tsc's modules never see its children), every spawn is seen.
import type { ChildProcess } from 'node:child_process';
import { subscribe } from 'node:diagnostics_channel';

/** One child process: its first argument (litestream's command), when it was started and ended. */
export interface SeenSpawn {
  /** The first argument (`restore`, `version`, `replicate`…), '' without one. */
  readonly command: string;
  /** `performance.now()` when the ChildProcess was made, right before the spawn itself. */
  readonly startedAt: number;
  /** `performance.now()` at its 'exit' event; undefined while it runs. */
  exitedAt: number | undefined;
}

/**
 * Records every child process started from now on; `onSpawn` and `onExit` are called as they
 * start and end. Returns the list, which grows.
 */
export function watchSpawns(
  onSpawn?: (spawn: SeenSpawn) => void,
  onExit?: (spawn: SeenSpawn) => void,
): readonly SeenSpawn[] {
  const seen: SeenSpawn[] = [];
  subscribe('child_process', (message) => {
    // Published as the ChildProcess is made: its arguments are set once it has spawned.
    const child = (message as { process: ChildProcess }).process;
    const startedAt = performance.now();
    child.once('spawn', () => {
      const spawn: SeenSpawn = { command: child.spawnargs[1] ?? '', startedAt, exitedAt: undefined };
      seen.push(spawn);
      onSpawn?.(spawn);
      child.once('exit', () => {
        spawn.exitedAt = performance.now();
        onExit?.(spawn);
      });
    });
  });
  return seen;
}
