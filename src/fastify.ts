/**
 * The Fastify plugin: `await app.register(litestream, options)`.
 *
 * Registration restores missing databases and starts replication, so `app.ready()` and
 * `app.listen()` resolve only once every database is in place. `app.litestream` is the
 * {@link Litestream} instance; an `onClose` hook stops replication after its final sync.
 *
 * @packageDocumentation
 */
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
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
import { DEFAULT_RETRY_AFTER_SECONDS, GATE_MESSAGES } from './adapters/gate.js';
import { healthAnswer } from './adapters/health.js';
import { defineConfig, isLitestreamConfig } from './config/define.js';
import type { LitestreamConfig, LitestreamOptions } from './config/types.js';
import { LitestreamAbortError, LitestreamConfigError, LitestreamError, RestoreError } from './errors.js';
import { Litestream } from './litestream.js';
import type { Logger } from './logging/logger.js';
import { assertRegistry, type MetricsRegistration, type PrometheusRegistry } from './metrics/registry.js';
import type { SyncOptions } from './replication/types.js';

export type { DurableRouteOptions } from './adapters/durable.js';

/**
 * Options of the Fastify plugin: {@link LitestreamOptions}, `{ config }` with a built
 * config (or with plain options, checked the same way), or the built config itself — plus
 * the health route. A misspelt key is an error in every form, never silently ignored.
 */
export type FastifyLitestreamOptions = (
  | LitestreamOptions
  | LitestreamConfig
  | { config: LitestreamConfig | LitestreamOptions }
) & {
  /**
   * Serve replication health at this path (e.g. `/healthz/litestream`) for readiness
   * probes: 200 when healthy, 503 otherwise, with `{ state, healthy, reason }` — what a load
   * balancer needs, and nothing about the host (see `healthDetails`). Off by default.
   */
  healthRoute?: string | false;
  /**
   * Whether the health route also answers with the details: every database's absolute
   * path, position and last error text, litestream's pid, and while waiting for the
   * replica lease the previous holder's host, pid and start time. `true` gives them to
   * every caller — only for a route that is not reachable from outside; a function decides
   * per request (e.g. checks a token header) and gives them when it returns true. Default
   * false: anyone who can reach the port can reach the health route, and the details tell
   * them about the machine.
   */
  healthDetails?: boolean | ((request: FastifyRequest) => boolean | Promise<boolean>);
  /**
   * Serve replication's Prometheus metrics at this path (e.g. `/metrics`; see
   * {@link Litestream.metrics}), while the databases are restored too. Off by default.
   */
  metricsRoute?: string | false;
  /**
   * Add replication's metrics to the app's own prom-client `Registry` (prom-client 15, e.g.
   * its default `register`), so that the app's own `/metrics` route serves them beside its
   * metrics: the names, help and labels of {@link Litestream.metrics}, read at each scrape
   * (see {@link Litestream.registerMetrics}). They are added when the plugin registers,
   * before the restore, and taken out again when the app closes. A metric of the same name
   * already in the registry fails the registration (`MetricNameClashError`) before anything
   * is restored. Off by default; prom-client is never loaded by litestream-node.
   */
  metricsRegistry?: PrometheusRegistry;
  /**
   * Let the server listen before the databases are in place: registration returns at once,
   * and until every database is restored and replicating, routes answer `503` with
   * `Retry-After` — except the health route (`503` with `{ state, healthy, reason }`, where
   * `state` is `restoring`, `waiting` for the previous instance, or `failed`) and routes
   * declared with `config: { litestream: { gate: false } }` (a liveness `/up`). For deploys
   * that health-check the new instance before they stop the old one (Kamal, Fly.io
   * `bluegreen`, Kubernetes `RollingUpdate`), while it waits for the old one's replica lease.
   * Default false: `ready()`/`listen()` resolve only once everything is in place.
   */
  listenWhileRestoring?: boolean;
};

declare module 'fastify' {
  interface FastifyContextConfig {
    litestream?: {
      /** `false`: the route answers while litestream-node restores (see `listenWhileRestoring`). */
      gate?: boolean;
      /**
       * `true` (or options): a successful reply (2xx) is held until the replica holds every
       * write committed before it (`app.litestream.sync()`), and becomes
       * `503 { error: 'not durable', message }` when the replica cannot confirm them within
       * `timeoutMs`; the write stays committed locally either way. An error reply passes as
       * it is. On Litestream 0.5.9+ the sync runs at once; on 0.3 it waits up to one
       * `syncInterval` plus a second.
       */
      durable?: boolean | DurableRouteOptions;
    };
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * The litestream-node instance: `status()`, `replication`, `sync()` (resolves once every
     * write committed before the call is in the replica), `stop()`, `config`.
     */
    litestream: Litestream;
  }
}

// Leave avvio this much of pluginTimeout to cancel the restore, clean up, and report our
// error instead of its own.
const TIMEOUT_MARGIN_MS = 500;

const plugin: FastifyPluginAsync<FastifyLitestreamOptions> = async (app, options) => {
  if (app.hasDecorator('litestream')) {
    throw new LitestreamError(
      'litestream-node is already registered on this Fastify instance: register it once, at the root.',
    );
  }
  const healthRoute = options.healthRoute ?? false;
  const healthDetails = options.healthDetails ?? false;
  const metricsRoute = options.metricsRoute ?? false;
  const { metricsRegistry } = options;
  if (metricsRegistry !== undefined) assertRegistry(metricsRegistry, 'The option metricsRegistry');
  const config = toConfig(options, app.log.child({ plugin: 'litestream' }) as unknown as Logger);
  const litestream = new Litestream(config);
  // Before the restore, so that a scrape shows how it goes; taken out when the app closes.
  const registration: MetricsRegistration | undefined = metricsRegistry && litestream.registerMetrics(metricsRegistry);
  const stop = async () => {
    try {
      await litestream.stop();
    } finally {
      registration?.unregister();
    }
  };
  const sequence = new BootSequence(litestream, 'restoring');
  const boot = async (signal: AbortSignal) => {
    await sequence.run(signal);
  };

  app.decorate('litestream', litestream);
  if (options.listenWhileRestoring) {
    const cancel = new AbortController();
    const booted = boot(cancel.signal).catch((error: unknown) => {
      if (!cancel.signal.aborted) {
        app.log.error({ err: error }, 'litestream-node could not restore the databases; every request gets 503');
      }
    });
    app.addHook('onRequest', async (request, reply) => {
      const { gate } = sequence.state;
      if (gate === 'ready' || request.routeOptions.config?.litestream?.gate === false) return;
      if (healthRoute && request.routeOptions.url === healthRoute) return;
      return reply
        .code(503)
        .header('Retry-After', String(DEFAULT_RETRY_AFTER_SECONDS))
        .send({ error: GATE_MESSAGES[gate] });
    });
    app.addHook('onClose', async () => {
      cancel.abort();
      await booted;
      await stop();
    });
  } else {
    try {
      await withinPluginTimeout(app, boot);
    } catch (error) {
      // A boot given up after its restore holds the replica leases: given back, so that the
      // next instance need not wait them out. Unregisters the metrics too.
      await stop().catch(() => {});
      throw error;
    }
    app.addHook('onClose', stop);
  }

  // Durable routes: the setting is checked as each route is declared, so that a typo fails
  // at startup rather than on the first payment.
  app.addHook('onRoute', (route) => {
    const config = route.config as { litestream?: { durable?: unknown } } | undefined;
    durableSyncOptions(config?.litestream?.durable, `${route.method} ${route.url}: config.litestream.durable`);
  });
  app.addHook('onSend', async (request, reply, payload) => {
    const durable = request.routeOptions.config?.litestream?.durable;
    if (durable === undefined || durable === false || !isSuccess(reply.statusCode)) return payload;
    const options = durableSyncOptions(durable, 'config.litestream.durable') as SyncOptions;
    if (await confirmDurable(litestream, options)) return payload;
    // The handler's answer never reaches the client: a stream it returned is closed.
    if (typeof (payload as { destroy?: unknown } | null)?.destroy === 'function') {
      (payload as { destroy(): void }).destroy();
    }
    for (const name of Object.keys(reply.getHeaders())) {
      if (BODY_HEADERS.has(name.toLowerCase())) reply.removeHeader(name);
    }
    reply.code(NOT_DURABLE_STATUS).type('application/json; charset=utf-8');
    return JSON.stringify(NOT_DURABLE_BODY);
  });

  if (metricsRoute) {
    // Ungated, as any route can be: it says how the restore went while it runs.
    app.get(metricsRoute, { config: { litestream: { gate: false } } }, async (_request, reply) =>
      reply.type(Litestream.metricsContentType).send(litestream.metrics()),
    );
  }

  if (healthRoute) {
    app.get(healthRoute, async (request, reply) => {
      const details = typeof healthDetails === 'function' ? (await healthDetails(request)) === true : healthDetails;
      const answer = healthAnswer(sequence.state, () => litestream.status(), details);
      return reply.code(answer.statusCode).send(answer.body);
    });
  }
};

/** The config the options describe, in any of their three forms; throws naming a bad key. */
function toConfig(options: FastifyLitestreamOptions, log: Logger): LitestreamConfig {
  if (isLitestreamConfig(options)) return options;
  const {
    healthRoute: _,
    healthDetails: ____,
    listenWhileRestoring: __,
    metricsRoute: ___,
    metricsRegistry: _____,
    ...given
  } = withoutKeys(options, FASTIFY_REGISTER_OPTIONS) as Record<string, unknown>;
  if (!('config' in given)) return withLogger(given as LitestreamOptions, log, '');
  const { config, ...rest } = given;
  const unknown = Object.keys(rest);
  if (unknown.length > 0) {
    throw new LitestreamConfigError(
      unknown.map((key) => ({
        field: key,
        message:
          'is not an option of the plugin: check the spelling. Beside config, it takes only healthRoute, healthDetails, metricsRoute, metricsRegistry and listenWhileRestoring.',
      })),
    );
  }
  if (isLitestreamConfig(config)) return config;
  if (typeof config !== 'object' || config === null) {
    throw new LitestreamConfigError([
      {
        field: 'config',
        message:
          'must be a config from defineConfig() or configFromEnv(), or an options object { databases, replica, … }',
      },
    ]);
  }
  return withLogger(config as LitestreamOptions, log, 'config.');
}

/** `defineConfig` with Fastify's logger by default; fields named as the user wrote them. */
function withLogger(options: LitestreamOptions, log: Logger, prefix: string): LitestreamConfig {
  try {
    return defineConfig({ ...options, logger: options.logger ?? log });
  } catch (error) {
    if (!(error instanceof LitestreamConfigError) || prefix === '') throw error;
    throw new LitestreamConfigError(
      error.issues.map((issue) => ({
        field: issue.field === 'options' ? prefix.slice(0, -1) : `${prefix}${issue.field}`,
        message: issue.message,
      })),
    );
  }
}

/** Options Fastify's `register()` understands itself and passes on to the plugin too. */
const FASTIFY_REGISTER_OPTIONS = ['prefix', 'logLevel', 'logSerializers'];

function withoutKeys<T extends object>(value: T, keys: readonly string[]): T {
  const rest = { ...(value as Record<string, unknown>) };
  for (const key of keys) delete rest[key];
  return rest as T;
}

/**
 * A restore can outlast Fastify's `pluginTimeout` (10 s by default); avvio would then
 * fail with a generic timeout, and the restore would go on in the background while the
 * app exits, leaving a partial copy behind. Instead, give the work up shortly before the
 * timeout (the restore is killed and cleans up), then fail with a message that says what
 * to change.
 */
async function withinPluginTimeout(app: FastifyInstance, work: (signal: AbortSignal) => Promise<void>): Promise<void> {
  const pluginTimeout = app.initialConfig.pluginTimeout ?? 10_000;
  const controller = new AbortController();
  if (!pluginTimeout || pluginTimeout <= TIMEOUT_MARGIN_MS) return work(controller.signal);
  const timer = setTimeout(() => controller.abort(), pluginTimeout - TIMEOUT_MARGIN_MS);
  try {
    await work(controller.signal);
  } catch (error) {
    if (controller.signal.aborted && error instanceof LitestreamAbortError) {
      throw new RestoreError(
        `Restoring the databases and starting replication took longer than Fastify's pluginTimeout (${pluginTimeout} ms), so the server will not start on an incomplete database; the restore was cancelled and left nothing behind. Raise it for large databases, e.g. Fastify({ pluginTimeout: 120_000 }), or set it to 0 to wait as long as the restore takes.`,
        { cause: error },
      );
    }
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

/** The plugin, wrapped with fastify-plugin so `app.litestream` is visible app-wide. */
const litestreamPlugin = fp(plugin, { name: 'litestream-node', fastify: '4.x || 5.x' });
export default litestreamPlugin;
export { litestreamPlugin };
