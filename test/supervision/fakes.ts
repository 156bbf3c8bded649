// Fakes for supervision's unit tests: a clock moved by hand, a child process that prints
// and exits on command, a logger that records. No real process, no real time.
import { EventEmitter } from 'node:events';
import { PassThrough } from 'node:stream';
import { ReplicaLeaseError } from '../../src/errors.js';
import type { LeaseState } from '../../src/lease/kept.js';
import type { Logger } from '../../src/logging/logger.js';
import type { ProcessExit } from '../../src/process/spawn.js';
import type { Cancel, Clock } from '../../src/supervision/clock.js';
import type { Leases } from '../../src/supervision/lease-gate.js';

/** A logger that keeps every line. */
export function recordingLogger(): Logger & {
  lines: { level: string; message: string | undefined; fields: object }[];
} {
  const lines: { level: string; message: string | undefined; fields: object }[] = [];
  const at = (level: string) => (fields: object, message?: string) => {
    lines.push({ level, message, fields });
  };
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

interface Timer {
  id: number;
  at: number;
  fn: () => void;
  every: number | undefined;
}

/** Lets promise continuations and stream callbacks run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
}

/** A clock that moves only when told to. */
export class FakeClock implements Clock {
  #now = Date.UTC(2026, 11, 7, 23, 0, 0);
  #timers: Timer[] = [];
  #nextId = 0;

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): Cancel {
    return this.#add(fn, Math.max(0, ms), undefined);
  }

  setInterval(fn: () => void, ms: number): Cancel {
    return this.#add(fn, ms, ms);
  }

  /** Timers waiting to fire. */
  get pending(): number {
    return this.#timers.length;
  }

  /** Moves time on by `ms`, firing each timer due on the way at its own time, in order. */
  async advance(ms: number): Promise<void> {
    const until = this.#now + ms;
    await settle();
    for (;;) {
      const next = this.#timers.filter((timer) => timer.at <= until).sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (!next) break;
      this.#now = next.at;
      if (next.every === undefined) this.#timers = this.#timers.filter((timer) => timer !== next);
      else next.at += next.every;
      next.fn();
      await settle();
    }
    this.#now = until;
    await settle();
  }

  #add(fn: () => void, ms: number, every: number | undefined): Cancel {
    const timer: Timer = { id: this.#nextId++, at: this.#now + ms, fn, every };
    this.#timers.push(timer);
    return () => {
      this.#timers = this.#timers.filter((other) => other !== timer);
    };
  }
}

/** What a fake child does when signalled (default: any signal ends it, as SIGKILL would). */
export type SignalBehaviour = (child: FakeChild, signal: NodeJS.Signals) => void;

/** A child process that prints and exits when the test says so. */
export class FakeChild {
  static #pids = 1000;
  readonly pid = FakeChild.#pids++;
  readonly stdout = new PassThrough();
  readonly stderr = new PassThrough();
  readonly exited: Promise<ProcessExit>;
  /** Signals sent to it, in order. */
  readonly signals: NodeJS.Signals[] = [];
  onSignal: SignalBehaviour = (child, signal) => child.exit(undefined, signal);
  #resolve!: (exit: ProcessExit) => void;
  #exit: ProcessExit | undefined;

  constructor() {
    this.exited = new Promise((resolve) => {
      this.#resolve = resolve;
    });
  }

  get killed(): boolean {
    return this.signals.length > 0;
  }

  get hasExited(): boolean {
    return this.#exit !== undefined;
  }

  /** Prints `line` on stdout (an object is printed as JSON). */
  print(line: string | object): void {
    this.stdout.write(`${typeof line === 'string' ? line : JSON.stringify(line)}\n`);
  }

  /** Ends with `exitCode`, or of `signal`: its streams close, then `exited` settles. */
  exit(exitCode: number | undefined, signal?: NodeJS.Signals): void {
    if (this.#exit) return;
    this.#exit = { exitCode: signal ? undefined : exitCode, signal, error: undefined };
    this.stdout.end();
    this.stderr.end();
    const exit = this.#exit;
    setImmediate(() => this.#resolve(exit));
  }

  kill(signal: NodeJS.Signals): boolean {
    if (this.#exit) return false;
    this.signals.push(signal);
    this.onSignal(this, signal);
    return true;
  }
}

/**
 * One instance's replica leases, driven by the test as the keeper's renewals would drive
 * them: paused by an outage, resumed, or lost to another instance's takeover.
 */
export class FakeLeases extends EventEmitter implements Leases {
  state: LeaseState = 'held';
  error: string | undefined;
  /** `release()` was called. */
  released = false;

  watch(watcher: Parameters<Leases['watch']>[0]): () => void {
    this.on('paused', watcher.paused);
    this.on('resumed', watcher.resumed);
    this.on('lost', watcher.lost);
    return () => this.removeAllListeners();
  }

  get paused(): boolean {
    return this.state === 'paused' || this.state === 'lost';
  }

  get lost(): boolean {
    return this.state === 'lost';
  }

  status() {
    return { state: this.state, error: this.error };
  }

  async release(): Promise<void> {
    this.released = true;
    // A lost lease is not ours to release.
    if (this.state !== 'lost') this.state = 'released';
  }

  pause(error: string): void {
    this.state = 'paused';
    this.error = error;
    this.emit('paused');
  }

  resume(): void {
    this.state = 'held';
    this.error = undefined;
    this.emit('resumed');
  }

  loseTo(holder: string, replica = 's3://bucket/app.db'): void {
    this.state = 'lost';
    this.error = `taken over by ${holder}`;
    this.emit('lost', new ReplicaLeaseError(`another instance (${holder}) took ${replica} over`, replica, undefined));
  }
}
