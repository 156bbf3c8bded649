/**
 * The supervision core: one child process at a time and what is known of it — when it
 * started, whether it has spoken, when it last printed anything — its output read line by
 * line, and its exit reported once every line it printed has been read. What to do about
 * an exit, a silence or a line is the policies' business (see the files beside this one).
 *
 * @packageDocumentation
 */
import type { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { lineSplitter } from '../process/log-lines.js';
import type { ProcessExit } from '../process/spawn.js';
import type { Clock } from './clock.js';

/** What the core needs of a child process (`SpawnedChild` is one; tests pass a fake). */
export interface ChildProcessLike {
  readonly pid: number | undefined;
  /** True once a signal was sent to it. */
  readonly killed: boolean;
  readonly stdout: Readable;
  readonly stderr: Readable;
  /** Settles once it has exited; never rejects. */
  readonly exited: Promise<ProcessExit>;
  /** Sends `signal`; false when it has already exited. */
  kill(signal: NodeJS.Signals): boolean;
}

/** Starts the child (the command and its arguments are the caller's). */
export type SpawnFunction = () => ChildProcessLike;

/** How a child ended, reported once its output has been read to the end. */
export interface ChildExit {
  readonly exitCode: number | undefined;
  readonly signal: string | undefined;
  /** How long it ran. */
  readonly ranForMs: number;
}

/** See {@link SupervisedProcess}. */
export interface SupervisedProcessOptions {
  readonly spawn: SpawnFunction;
  readonly clock: Clock;
  /** One line of the child's output (stdout or stderr). True when it meant something: waiters wake. */
  onLine(raw: string): boolean;
  /** The current child exited (a child replaced before it exited is not reported). */
  onExit(exit: ChildExit): void;
}

/** Owns the supervised child: spawn, output lines, exit, and waiting for the next change. */
export class SupervisedProcess {
  readonly #options: SupervisedProcessOptions;
  readonly #clock: Clock;
  #child: ChildProcessLike | undefined;
  /** The current child has exited and its output has been read to the end. */
  #done: Promise<void> = Promise.resolve();
  #startedAt = 0;
  #spoke = false;
  #lastOutputAt = 0;
  #waiters: (() => void)[] = [];

  constructor(options: SupervisedProcessOptions) {
    this.#options = options;
    this.#clock = options.clock;
  }

  /** The running child, if one runs. */
  get child(): ChildProcessLike | undefined {
    return this.#child;
  }

  /** Settles once the current (or last) child has exited and all its output was read. */
  get done(): Promise<void> {
    return this.#done;
  }

  /** A child has been started before (the next one resumes after it). */
  get hasRun(): boolean {
    return this.#startedAt !== 0;
  }

  /** The current child has printed a meaningful line (see {@link markSpoke}). */
  get spoke(): boolean {
    return this.#spoke;
  }

  /** When the child last printed anything, or was last signalled (see {@link resetSilence}). */
  get lastOutputAt(): number {
    return this.#lastOutputAt;
  }

  /** Says the current child has spoken (litestream: its signal handler is installed). */
  markSpoke(): void {
    this.#spoke = true;
  }

  /** Counts silence from now (after a signal, silence is measured from the signal). */
  resetSilence(): void {
    this.#lastOutputAt = this.#clock.now();
  }

  /** Starts a child (the caller makes sure none runs) and reads its output. */
  start(): ChildProcessLike {
    const child = this.#options.spawn();
    this.#child = child;
    this.#startedAt = this.#clock.now();
    this.#spoke = false;
    const onLine = (raw: string) => {
      this.#lastOutputAt = this.#clock.now();
      if (this.#options.onLine(raw)) this.wake();
    };
    const stdout = lineSplitter(onLine);
    const stderr = lineSplitter(onLine);
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    // Exited, and every line it printed read: its last lines decide how its shutdown went.
    const drained = (stream: Readable) => finished(stream).catch(() => {});
    this.#done = Promise.all([child.exited, drained(child.stdout), drained(child.stderr)]).then(([result]) => {
      stdout.end();
      stderr.end();
      this.#exited(child, result);
    });
    return child;
  }

  /** Signals the running child, if any. */
  kill(signal: NodeJS.Signals): void {
    this.#child?.kill(signal);
  }

  /** Resolves when `done()` holds, the child exits, `signal` aborts, or the deadline passes. */
  async waitUntil(done: () => boolean, deadline: number, signal: AbortSignal): Promise<void> {
    while (!done() && this.#child && this.#clock.now() < deadline && !signal.aborted) {
      await this.nextChange(deadline);
    }
  }

  /** Resolves at the next change — a meaningful line, the child's exit, a {@link wake} — or at `at`. */
  nextChange(at: number): Promise<void> {
    return new Promise<void>((resolve) => {
      // A wait left behind (the child exited first) must not keep the process alive until
      // its deadline: an app that ends by letting the event loop drain would linger.
      const cancel = this.#clock.setTimeout(wake, at - this.#clock.now());
      function wake() {
        cancel();
        resolve();
      }
      this.#waiters.push(wake);
    });
  }

  /** Wakes every {@link nextChange} waiting. */
  wake(): void {
    for (const wake of this.#waiters.splice(0)) wake();
  }

  #exited(child: ChildProcessLike, result: ProcessExit): void {
    if (child !== this.#child) return;
    this.#child = undefined;
    this.wake();
    this.#options.onExit({
      exitCode: result.exitCode,
      signal: result.signal,
      ranForMs: this.#clock.now() - this.#startedAt,
    });
  }
}
