/**
 * Express integration: `expressLitestream(options)` returns
 * `{ gate, durable, health, metrics, listen(app, port, host?), close(), litestream }`.
 *
 * @packageDocumentation
 */
import type { Server } from 'node:http';
import type { Express, NextFunction, Request, Response } from 'express';
import { BootSequence } from './adapters/boot.js';
import {
  BODY_HEADERS,
  confirmDurable,
  type DurableRouteOptions,
  durableSyncOptions,
  isSuccess,
  NOT_DURABLE_BODY,
  NOT_DURABLE_STATUS,
} from './adapters/durable.js';
import { DEFAULT_RETRY_AFTER_SECONDS, GATE_MESSAGES, type GateState } from './adapters/gate.js';
import { healthAnswer } from './adapters/health.js';
import { defineConfig, isLitestreamConfig } from './config/define.js';
import type { LitestreamConfig, LitestreamOptions } from './config/types.js';
import { Litestream } from './litestream.js';
import { assertRegistry, type MetricsRegistration, type PrometheusRegistry } from './metrics/registry.js';
import type { RestoreResult } from './restore/ensure-restored.js';

export type { DurableRouteOptions } from './adapters/durable.js';
export type { GateState } from './adapters/gate.js';

/** Options of {@link expressLitestream}. */
export interface ExpressLitestreamOptions {
  /** Seconds clients are told to wait (`Retry-After`) while the restore runs. Default 5. */
  retryAfterSeconds?: number;
  /**
   * Whether {@link ExpressLitestream.health} also answers with the details: every
   * database's absolute path, position and last error text, litestream's pid, and while
   * waiting for the replica lease the previous holder's host, pid and start time. `true`
   * gives them to every caller — only for a route that is not reachable from outside; a
   * function decides per request (e.g. checks a token header) and gives them when it
   * returns true. Default false: the health route usually sits on the app's public port.
   */
  healthDetails?: boolean | ((request: Request) => boolean | Promise<boolean>);
  /**
   * Add replication's metrics to the app's own prom-client `Registry` (prom-client 15, e.g.
   * its default `register`), so that the app's own `/metrics` route serves them beside its
   * metrics: the names, help and labels of {@link Litestream.metrics}, read at each scrape
   * (see {@link Litestream.registerMetrics}). They are added by
   * {@link ExpressLitestream.start} (and so `listen`) before the restore, and taken out
   * again by {@link ExpressLitestream.close} or when the server `listen` opened closes. A
   * metric of the same name already in the registry fails `start` (`MetricNameClashError`)
   * before anything is restored. Off by default; prom-client is never loaded by litestream-node.
   */
  metricsRegistry?: PrometheusRegistry;
}

/** What {@link expressLitestream} returns. */
export interface ExpressLitestream {
  /**
   * Middleware answering `503` with `Retry-After` until the databases are restored, then
   * passing every request through. Use it when the server must listen before the restore
   * is done (e.g. for liveness probes); with {@link ExpressLitestream.listen} it never sees
   * a request before the restore.
   */
  gate: (request: Request, response: Response, next: NextFunction) => void;
  /**
   * Middleware for the routes whose writes must be in the replica before the client hears of
   * them (a payment, a signup): a successful response (2xx) is held — status, headers and
   * body — until `litestream.sync()` resolves, and becomes
   * `503 { error: 'not durable', message }` when the replica cannot confirm the writes within
   * `timeoutMs` (the writes stay committed locally either way). An error response passes as
   * it is. Mount it before the handler, e.g. `app.post('/payments', litestream.durable(), pay)`.
   * On Litestream 0.5.9+ the sync runs at once; on 0.3 it waits up to one `syncInterval` plus
   * a second. Throws a `LitestreamConfigError` for options it cannot use.
   */
  durable(options?: DurableRouteOptions): (request: Request, response: Response, next: NextFunction) => void;
  /**
   * A handler answering with replication's Prometheus metrics (see
   * {@link Litestream.metrics}), before the restore is done too: mount it on a route of your
   * choice, before the gate, e.g. `app.get('/metrics', litestream.metrics)`.
   */
  metrics: (request: Request, response: Response) => void;
  /**
   * A handler answering replication health for readiness probes, before the restore is done
   * too: 200 when healthy, 503 otherwise, with `{ state, healthy, reason }` and nothing
   * about the host (see {@link ExpressLitestreamOptions.healthDetails}). Mount it before the
   * gate, e.g. `app.get('/healthz/litestream', litestream.health)`.
   */
  health: (request: Request, response: Response) => void;
  /**
   * Restores the databases and starts replication (once; later calls share the result).
   * `listen` calls it; call it yourself when you listen on your own.
   */
  start(): Promise<RestoreResult[]>;
  /**
   * Restores, starts replication, then listens. Resolves to the `http.Server`; closing that
   * server stops replication after its final sync. Rejects — without binding the port —
   * when the restore fails.
   */
  listen(app: Express, port: number, host?: string): Promise<Server>;
  /** Closes the server (if `listen` opened it) and resolves after the final sync. */
  close(): Promise<void>;
  /**
   * Opt-in graceful shutdown: on the first of `signals` (default SIGTERM and SIGINT),
   * `close()`, then exit with code 0 (1 if closing failed). Returns a function that
   * removes the handlers. Skip it when terminus or close-with-grace owns shutdown, and
   * call `close()` from their hook instead.
   */
  closeOnSignals(signals?: readonly NodeJS.Signals[]): () => void;
  /** The underlying instance: `status()`, `replication`, `config`. */
  readonly litestream: Litestream;
  /** Where the restore stands. */
  readonly state: GateState;
}

/**
 * Wires litestream-node into an Express app.
 *
 * @example
 * ```ts
 * const litestream = expressLitestream(configFromEnv(process.env, { databases: ['storage/production.sqlite3'] }));
 * const server = await litestream.listen(app, 3000);
 * process.on('SIGTERM', () => litestream.close());
 * ```
 */
export function expressLitestream(
  options: LitestreamOptions | LitestreamConfig,
  settings: ExpressLitestreamOptions = {},
): ExpressLitestream {
  const { metricsRegistry } = settings;
  if (metricsRegistry !== undefined) assertRegistry(metricsRegistry, 'The option metricsRegistry');
  const litestream = new Litestream(isLitestreamConfig(options) ? options : defineConfig(options));
  const retryAfter = String(settings.retryAfterSeconds ?? DEFAULT_RETRY_AFTER_SECONDS);
  const sequence = new BootSequence(litestream);
  let started: Promise<RestoreResult[]> | undefined;
  let server: Server | undefined;
  let registration: MetricsRegistration | undefined;

  const start = () => {
    // The metrics go in before the restore, so that a scrape shows how it goes (taken out by
    // stop()); a registry that refuses them fails the boot, and the gate says so.
    started ??= sequence.run(undefined, () => {
      if (metricsRegistry !== undefined) registration = litestream.registerMetrics(metricsRegistry);
    });
    return started;
  };

  const gate = (_request: Request, response: Response, next: NextFunction) => {
    const { gate: state } = sequence.state;
    if (state === 'ready') return next();
    response.status(503).set('Retry-After', retryAfter).json({ error: GATE_MESSAGES[state] });
  };

  const durable = (options: DurableRouteOptions = {}) => {
    const syncOptions = durableSyncOptions(options, 'durable(options)') ?? {};
    return (_request: Request, response: Response, next: NextFunction) => {
      holdUntilDurable(response, () => confirmDurable(litestream, syncOptions));
      next();
    };
  };

  const metrics = (_request: Request, response: Response) => {
    response.set('Content-Type', Litestream.metricsContentType).send(litestream.metrics());
  };

  const health = (request: Request, response: Response) => {
    const answer = (details: boolean) => {
      const { statusCode, body } = healthAnswer(sequence.state, () => litestream.status(), details);
      response.status(statusCode).json(body);
    };
    const { healthDetails = false } = settings;
    if (typeof healthDetails !== 'function') return answer(healthDetails);
    Promise.resolve()
      .then(() => healthDetails(request))
      .then(
        (given) => answer(given === true),
        (error: unknown) => {
          litestream.config.logger.error(
            { error: error instanceof Error ? error.message : String(error) },
            'healthDetails threw; answering without the details',
          );
          answer(false);
        },
      );
  };

  const stop = async () => {
    try {
      await litestream.stop();
    } finally {
      registration?.unregister();
    }
  };

  const listen = async (app: Express, port: number, host?: string): Promise<Server> => {
    await start();
    server = await new Promise<Server>((resolve, reject) => {
      const onError = (error: Error) => reject(error);
      const created: Server = host === undefined ? app.listen(port, done) : app.listen(port, host, done);
      function done(error?: Error) {
        created.off('error', onError);
        if (error) reject(error);
        else resolve(created);
      }
      created.once('error', onError);
    });
    server.on('close', () => {
      // Nobody awaits this: a failure is logged, never left as an unhandled rejection
      // (which Node turns into a crash by default).
      stop().catch((error: unknown) => {
        litestream.config.logger.error(
          { error: error instanceof Error ? error.message : String(error) },
          'stopping replication after the server closed failed',
        );
      });
    });
    return server;
  };

  const close = async () => {
    const open = server;
    if (open?.listening) {
      await new Promise<void>((resolve, reject) => open.close((error) => (error ? reject(error) : resolve())));
    }
    await stop();
  };

  const closeOnSignals = (signals: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT']) => {
    const onSignal = (signal: NodeJS.Signals) => {
      remove();
      litestream.config.logger.info({ signal }, 'signal received; closing after the final sync');
      close().then(
        () => process.exit(0),
        (error: unknown) => {
          litestream.config.logger.error({ error: String(error) }, 'graceful shutdown failed');
          process.exit(1);
        },
      );
    };
    const remove = () => {
      for (const signal of signals) process.off(signal, onSignal);
    };
    for (const signal of signals) process.on(signal, onSignal);
    return remove;
  };

  return {
    gate,
    durable,
    metrics,
    health,
    start,
    listen,
    close,
    closeOnSignals,
    litestream,
    get state() {
      return sequence.state.gate;
    },
  };
}

/** What a held response was asked to do, in order: replayed once the replica confirmed it. */
type HeldCall = { method: 'writeHead' | 'write' | 'end'; args: unknown[] };

/**
 * Holds `response`'s first `writeHead`, `write` or `end` — and every call after it — when its
 * status is a success, until `confirm()` resolves: true replays them, false answers 503
 * instead (or, when the handler had already sent the headers itself, closes the connection:
 * the client must not take the answer for a success). Any other status passes at once.
 * Holding these three covers `res.json`, `res.send`, `res.sendStatus`, `res.redirect`,
 * piped streams and the raw Node calls: none of them reaches the socket any other way.
 */
function holdUntilDurable(response: Response, confirm: () => Promise<boolean>): void {
  const original = { writeHead: response.writeHead, write: response.write, end: response.end };
  const held: HeldCall[] = [];
  // open: the handler is still answering; waiting: it ended, the sync runs; settled: passed on.
  let state: 'open' | 'waiting' | 'settled' = 'open';
  const settle = () => {
    state = 'settled';
    response.writeHead = original.writeHead;
    response.write = original.write;
    response.end = original.end;
  };
  const replay = () => {
    settle();
    for (const { method, args } of held) (response[method] as (...args: unknown[]) => unknown)(...args);
  };
  const refuse = () => {
    settle();
    if (response.headersSent) {
      response.destroy();
      return;
    }
    for (const name of response.getHeaderNames()) {
      if (BODY_HEADERS.has(name)) response.removeHeader(name);
    }
    response.status(NOT_DURABLE_STATUS).json(NOT_DURABLE_BODY);
  };
  /** The status the handler answered with: its writeHead's, else the one it set. */
  const answeredStatus = () => {
    const head = held.find((call) => call.method === 'writeHead');
    return head && typeof head.args[0] === 'number' ? head.args[0] : response.statusCode;
  };
  const intercept =
    (method: HeldCall['method']) =>
    (...args: unknown[]) => {
      // A reference kept from before (e.g. by compression mounted after this) passes through.
      if (state === 'settled') return (original[method] as (...args: unknown[]) => unknown).apply(response, args);
      held.push({ method, args });
      // The sync starts once the answer is complete: every commit the handler made is before it.
      if (method === 'end' && state === 'open') {
        state = 'waiting';
        if (!isSuccess(answeredStatus())) replay();
        else
          confirm()
            .then((confirmed) => (confirmed ? replay() : refuse()), refuse)
            // Nobody awaits this: a response that cannot be written (the client left) is closed,
            // never left as an unhandled rejection.
            .catch(() => response.destroy());
      }
      return method === 'write' ? true : response;
    };
  response.writeHead = intercept('writeHead') as Response['writeHead'];
  response.write = intercept('write') as Response['write'];
  response.end = intercept('end') as Response['end'];
}
