import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Secret } from '../config/secret.js';
import type { AlertSettings } from '../config/types.js';
import type { Logger } from '../logging/logger.js';
import type { ReplicationStatus } from '../replication/types.js';
import { type UnhealthyCause, unhealthyCauses } from './causes.js';

/** What the webhook receives (JSON). */
export interface AlertPayload {
  readonly event: 'unhealthy' | 'recovered';
  /** When replication turned unhealthy (ISO 8601). */
  readonly since: string;
  /** When this was sent (ISO 8601). */
  readonly at: string;
  /** The machine's host name. */
  readonly host: string;
  /** Why it was unhealthy: for `recovered`, the causes it recovered from. */
  readonly causes: readonly UnhealthyCause[];
}

/** What {@link HealthAlerts} depends on, injectable for tests. */
export interface HealthAlertsDeps {
  readonly status: () => ReplicationStatus;
  readonly logger: Logger;
  readonly fetch?: typeof globalThis.fetch;
  readonly now?: () => number;
  /** How often the status is looked at. Default 1000 ms. */
  readonly tickMs?: number;
  /** Pauses between the attempts of one request. Default [1000, 4000] ms. */
  readonly retryDelaysMs?: readonly number[];
  readonly host?: string;
}

/**
 * Pings the heartbeat URL while replication is healthy, and calls the webhook once it has
 * been unhealthy for `unhealthyAfterMs` and again when it recovers. Requests never block
 * replication or the app: a heartbeat still in flight skips the next ping, webhook calls go
 * one at a time (each retried twice), and a failure is logged with the URL's host only.
 */
export class HealthAlerts {
  readonly #settings: AlertSettings;
  readonly #deps: Required<Omit<HealthAlertsDeps, 'fetch'>> & { fetch: typeof globalThis.fetch };
  readonly #stopped = new AbortController();
  #timer: NodeJS.Timeout | undefined;
  #lastPingAt = Number.NEGATIVE_INFINITY;
  #pinging = false;
  #unhealthySince: number | undefined;
  #alerted: readonly UnhealthyCause[] | undefined;
  /** Webhook calls, one after the other. */
  #webhooks: Promise<void> = Promise.resolve();

  constructor(settings: AlertSettings, deps: HealthAlertsDeps) {
    this.#settings = settings;
    this.#deps = {
      fetch: deps.fetch ?? ((...args) => globalThis.fetch(...args)),
      now: Date.now,
      tickMs: 1_000,
      retryDelaysMs: [1_000, 4_000],
      host: os.hostname(),
      ...deps,
    };
  }

  start(): void {
    if (this.#timer || this.#stopped.signal.aborted) return;
    this.#timer = setInterval(() => this.tick(), this.#deps.tickMs);
    // Alerts never keep the process alive by themselves.
    this.#timer.unref();
    this.tick();
  }

  /** Stops looking and gives up the requests in flight; resolves once they have ended. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#stopped.abort();
    await this.#webhooks;
  }

  /** Looks at the status once (the timer calls it every `tickMs`). */
  tick(): void {
    if (this.#stopped.signal.aborted) return;
    const status = this.#deps.status();
    // A stop is not an outage.
    if (status.state === 'stopping' || status.state === 'stopped' || status.state === 'disabled') return;
    const now = this.#deps.now();
    const { heartbeatUrl, heartbeatIntervalMs, webhookUrl, unhealthyAfterMs } = this.#settings;
    if (status.healthy) {
      if (heartbeatUrl && !this.#pinging && now - this.#lastPingAt >= heartbeatIntervalMs)
        this.#ping(heartbeatUrl, now);
      if (this.#alerted && this.#unhealthySince !== undefined && webhookUrl) {
        this.#call(webhookUrl, this.#payload('recovered', this.#unhealthySince, now, this.#alerted));
      }
      this.#unhealthySince = undefined;
      this.#alerted = undefined;
      return;
    }
    this.#unhealthySince ??= now;
    if (!this.#alerted && now - this.#unhealthySince >= unhealthyAfterMs) {
      this.#alerted = unhealthyCauses(status);
      if (webhookUrl) this.#call(webhookUrl, this.#payload('unhealthy', this.#unhealthySince, now, this.#alerted));
    }
  }

  #payload(event: AlertPayload['event'], since: number, now: number, causes: readonly UnhealthyCause[]): AlertPayload {
    return {
      event,
      since: new Date(since).toISOString(),
      at: new Date(now).toISOString(),
      host: this.#deps.host,
      causes,
    };
  }

  /** One GET, not retried: the next interval's ping is the retry. */
  #ping(url: Secret, now: number): void {
    this.#lastPingAt = now;
    this.#pinging = true;
    this.#request(url, { method: 'GET' }, 'heartbeat')
      .catch((error: unknown) => this.#warn('heartbeat', url, error))
      .finally(() => {
        this.#pinging = false;
      });
  }

  /** One webhook call, after those before it, retried with pauses. */
  #call(url: Secret, payload: AlertPayload): void {
    this.#webhooks = this.#webhooks.then(async () => {
      const delays = this.#deps.retryDelaysMs;
      for (let attempt = 0; ; attempt++) {
        try {
          await this.#request(
            url,
            { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(payload) },
            `webhook (${payload.event})`,
          );
          this.#deps.logger.info({ event: payload.event, host: hostOf(url) }, 'replication alert sent');
          return;
        } catch (error) {
          const delay = delays[attempt];
          if (delay === undefined || this.#stopped.signal.aborted) {
            this.#warn(`webhook (${payload.event})`, url, error);
            return;
          }
          await sleep(delay, undefined, { signal: this.#stopped.signal }).catch(() => {});
        }
      }
    });
  }

  async #request(url: Secret, init: RequestInit, what: string): Promise<void> {
    const signal = AbortSignal.any([this.#stopped.signal, AbortSignal.timeout(this.#settings.timeoutMs)]);
    const response = await this.#deps.fetch(url.reveal(), { ...init, signal, redirect: 'follow' });
    // The body is not needed; read it so the connection is reused.
    await response.arrayBuffer().catch(() => {});
    if (!response.ok) throw new Error(`the ${what} answered ${response.status}`);
  }

  #warn(what: string, url: Secret, error: unknown): void {
    if (this.#stopped.signal.aborted) return;
    // Never the URL itself, nor an error that quotes it: it may hold a token.
    const reason =
      error instanceof Error && error.name === 'TimeoutError'
        ? `no answer within ${this.#settings.timeoutMs} ms`
        : error instanceof Error && error.message.startsWith('the ')
          ? error.message
          : `the request failed${causeCode(error)}`;
    this.#deps.logger.warn({ host: hostOf(url), reason }, `replication ${what} not delivered`);
  }
}

/** A network error's code (`ECONNREFUSED`), which names no URL. */
function causeCode(error: unknown): string {
  const code = (error as { cause?: { code?: unknown } } | undefined)?.cause?.code;
  return typeof code === 'string' ? ` (${code})` : '';
}

function hostOf(url: Secret): string {
  return new URL(url.reveal()).host;
}
