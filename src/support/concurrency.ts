import { availableParallelism } from 'node:os';

/**
 * How many databases are worked on at once, where each costs a process or a request: a
 * restore (a litestream process, then an integrity check in a worker thread), a look at a
 * replica path. More at once than this only queue for the same cores, disk and
 * connections, and hundreds at once (a database per tenant) would start hundreds of
 * processes.
 */
export const DATABASES_AT_ONCE = Math.min(8, Math.max(2, availableParallelism() * 2));

/**
 * Runs at most `limit` tasks at once; the rest wait their turn, first come first served.
 * Restoring hundreds of databases (one per tenant) must not start hundreds of litestream
 * processes at once.
 */
export class ConcurrencyLimit {
  readonly #limit: number;
  #running = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(limit: number) {
    this.#limit = Math.max(1, limit);
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#running >= this.#limit) await new Promise<void>((resolve) => this.#waiting.push(resolve));
    else this.#running++;
    try {
      return await task();
    } finally {
      // The slot passes straight to the next in line, or is freed.
      const next = this.#waiting.shift();
      if (next) next();
      else this.#running--;
    }
  }
}
