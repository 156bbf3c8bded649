/**
 * The one boot every adapter runs (the Fastify plugin, the Express integration and
 * `litestream-node run`): restore what is missing (waiting for a previous instance's lease
 * when told to), then start replication and wait until litestream runs. Where it stands is
 * kept for the adapters' gates and health answers.
 *
 * @packageDocumentation
 */
import type { Litestream } from '../litestream.js';
import type { RestoreResult } from '../restore/ensure-restored.js';
import { abortable, throwIfAborted } from '../support/abort.js';
import type { GateState } from './gate.js';
import type { BootState } from './health.js';

/** One boot of one {@link Litestream} instance, run once; later calls get the same outcome. */
export class BootSequence {
  readonly #litestream: Litestream;
  #state: BootState;
  #run: Promise<RestoreResult[]> | undefined;

  /** `initial`: what the gate says before {@link BootSequence.run} is called. */
  constructor(litestream: Litestream, initial: GateState = 'idle') {
    this.#litestream = litestream;
    this.#state = { gate: initial };
  }

  /** Where the boot stands, and who holds the replica while it waits. */
  get state(): BootState {
    return this.#state;
  }

  /**
   * Restores, then starts replication; resolves with the restore's results once litestream
   * runs (the app may open its databases and take requests), rejects when either fails.
   * `signal` gives the boot up: a replication being started is stopped at once (nothing was
   * replicated yet, so there is no final sync to wait for), and it rejects with a
   * `LitestreamAbortError`. `prepare` runs first, as part of the boot: when it throws, the
   * boot has failed.
   */
  run(signal?: AbortSignal, prepare?: () => void): Promise<RestoreResult[]> {
    this.#run ??= this.#boot(signal, prepare).catch((error: unknown) => {
      this.#state = { gate: 'failed' };
      throw error;
    });
    return this.#run;
  }

  async #boot(signal: AbortSignal | undefined, prepare: (() => void) | undefined): Promise<RestoreResult[]> {
    this.#state = { gate: 'restoring' };
    prepare?.();
    const results = await this.#litestream.ensureRestored({
      ...(signal === undefined ? {} : { signal }),
      onWaiting: (event) => {
        this.#state = { gate: 'waiting', holder: event.holder };
      },
    });
    this.#state = { gate: 'restoring' };
    throwIfAborted(signal, 'starting replication');
    const replication = this.#litestream.startReplication();
    await abortable(replication.started, signal, 'starting replication', async () => {
      await replication.stop({ signal: AbortSignal.abort() }).catch(() => {});
    });
    this.#state = { gate: 'ready' };
    return results;
  }
}
