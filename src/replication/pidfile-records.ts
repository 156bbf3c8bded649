/**
 * The pidfiles of one replication's databases: claimed before litestream first starts,
 * rewritten with each litestream's pid, removed after the final sync. Writes and removals
 * run in order, so a removal never overtakes a write (a late write would leave a record of
 * a process that is gone behind).
 *
 * @packageDocumentation
 */
import type { Logger } from '../logging/logger.js';
import { claimDatabase, releaseRecord, writeRecord } from '../process/pidfile.js';

export class PidfileRecords {
  readonly #databases: readonly string[];
  readonly #logger: Logger;
  /** Writes and removals, in order. */
  #work: Promise<void> = Promise.resolve();

  constructor(databases: readonly string[], logger: Logger) {
    this.#databases = databases;
    this.#logger = logger;
  }

  /**
   * Claims every database for this process, one at a time, in the config's order (see
   * `claimDatabase`); `afterEach` runs after each claim (e.g. to give up when stopped).
   */
  async claim(timeoutMs: number, signal: AbortSignal, afterEach: () => void): Promise<void> {
    for (const database of this.#databases) {
      await claimDatabase(database, timeoutMs, this.#logger, signal);
      afterEach();
    }
  }

  /** Records `pid` as the litestream replicating every database, after what was queued before. */
  record(pid: number): Promise<void> {
    return this.#queue(() => Promise.all(this.#databases.map((database) => writeRecord(database, pid))));
  }

  /** Removes this process's records (others' are left alone), after any write still in flight. */
  release(): Promise<void> {
    return this.#queue(() => Promise.all(this.#databases.map((database) => releaseRecord(database))));
  }

  /** Runs `work` after everything queued before it; a failure is logged, never thrown. */
  #queue(work: () => Promise<unknown>): Promise<void> {
    this.#work = this.#work.then(work).then(
      () => {},
      (error: unknown) => {
        this.#logger.warn({ error: String(error) }, 'could not update the replicator pidfile');
      },
    );
    return this.#work;
  }
}
