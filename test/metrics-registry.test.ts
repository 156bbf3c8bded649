// litestream-node's metrics in an app's own prom-client registry: the same families as the
// text output, read at scrape time, all or none, and prom-client never loaded by us. Against
// the real litestream and S3 server, through the instance, the module functions and the
// adapters.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Server } from 'node:http';
import path from 'node:path';
import { promisify } from 'node:util';
import express from 'express';
import Fastify from 'fastify';
import { Counter, Gauge, type OpenMetricsContentType, Registry } from 'prom-client';
import { describe, expect, it, vi } from 'vitest';
import { expressLitestream } from '../src/express.js';
import litestream from '../src/fastify.js';
import {
  ensureRestored,
  Litestream,
  MetricNameClashError,
  MetricsRegistryError,
  type PrometheusRegistry,
  registerMetrics,
  startReplication,
} from '../src/index.js';
import { type ParsedFamily, parseFamilies } from './support/exposition-parser.js';
import {
  litestreamChildren,
  onCleanup,
  seedBackup,
  tempDir,
  testConfig,
  track,
  waitFor,
  writeRows,
} from './support/fixtures.js';

const run = promisify(execFile);
const OURS = /^litestream_node_/;

/** The app's own metrics, as an app that already exports Prometheus metrics has them. */
function appRegistry() {
  const registry = new Registry();
  const requests = new Counter({
    name: 'http_requests_total',
    help: 'Requests served.',
    labelNames: ['route'],
    registers: [registry],
  });
  requests.inc({ route: '/items' }, 2);
  return registry;
}

/** Runs `read` with the clock stopped, so that two readings of ages describe one moment. */
async function atOneMoment<T>(read: () => Promise<T>): Promise<T> {
  vi.useFakeTimers({ toFake: ['Date'], now: Date.now() });
  try {
    return await read();
  } finally {
    vi.useRealTimers();
  }
}

/** The values of a family's samples. */
const values = (family: ParsedFamily | undefined) => family?.samples.map((sample) => sample.value);

describe('Litestream#registerMetrics', () => {
  it("puts ours in the app's own /metrics output: the same families, labels and values as the text output, read at each scrape", async () => {
    const dir = tempDir();
    const { config } = testConfig(dir);
    for (const db of config.databases) writeRows(db.path, 'registry', 3);
    const instance = new Litestream(config);
    onCleanup(() => instance.stop().then(() => undefined));
    const registry = appRegistry();
    const registration = instance.registerMetrics(registry);
    await instance.ensureRestored();
    await instance.startReplication().ready;
    await waitFor(() => instance.status().databases.every((db) => db.synced && db.lastSyncAt));

    const { text, scraped } = await atOneMoment(async () => ({
      text: instance.metrics(),
      scraped: await registry.metrics(),
    }));
    const today = parseFamilies(text);
    const all = parseFamilies(scraped);
    // The app's own metric is still there, beside ours.
    expect(all.get('http_requests_total')).toEqual({
      type: 'counter',
      help: 'Requests served.',
      samples: [{ labels: { route: '/items' }, value: 2 }],
    });
    // Every family of the text output, equal; ours that have nothing to say yet (the final
    // sync before a stop) are announced without samples.
    const ours = new Map([...all].filter(([name]) => OURS.test(name)));
    expect([...ours.keys()]).toEqual(registration.names);
    for (const [name, family] of ours) {
      expect(family, name).toEqual(today.get(name) ?? { ...family, samples: [] });
    }
    expect([...today.keys()].every((name) => ours.has(name))).toBe(true);
    expect(values(ours.get('litestream_node_replication_up'))).toEqual([1]);
    // Labelled per database, by file name.
    expect(ours.get('litestream_node_database_synced')?.samples).toEqual(
      config.databases
        .map((db) => ({ labels: { database: path.basename(db.path) }, value: 1 }))
        .sort((a, b) => a.labels.database.localeCompare(b.labels.database)),
    );
    expect(ours.get('litestream_node_restore_info')?.samples).toHaveLength(2);

    // Read at scrape time: after the stop, replication is down and the final sync shows.
    await instance.stop();
    const after = parseFamilies(await registry.metrics());
    expect(values(after.get('litestream_node_replication_up'))).toEqual([0]);
    expect(after.get('litestream_node_final_sync_clean')?.samples).toEqual([{ labels: {}, value: 1 }]);

    registration.unregister();
    expect(registry.getMetricsAsArray().map((metric) => metric.name)).toEqual(['http_requests_total']);
  });

  it("works with the registry's other readings: JSON, one metric, default labels, OpenMetrics, reset and merge", async () => {
    const dir = tempDir();
    const database = path.join(dir, 'app.db');
    const instance = new Litestream({
      databases: [database],
      replica: { type: 'file', path: path.join(dir, 'replica') },
      logger: false,
    });
    const label = { database: 'app.db' };

    const registry = appRegistry();
    instance.registerMetrics(registry);
    const json = await registry.getMetricsAsJSON();
    expect(json.find((metric) => metric.name === 'litestream_node_sync_errors_total')).toMatchObject({
      type: 'counter',
      values: [{ labels: label, value: 0 }],
    });
    expect(await registry.getSingleMetricAsString('litestream_node_replication_up')).toBe(
      `# HELP litestream_node_replication_up ${instance.metrics().match(/# HELP litestream_node_replication_up (.*)/)?.[1]}\n# TYPE litestream_node_replication_up gauge\nlitestream_node_replication_up 0`,
    );
    registry.setDefaultLabels({ service: 'api' });
    expect(parseFamilies(await registry.metrics()).get('litestream_node_upload_stalled')?.samples).toEqual([
      { labels: { ...label, service: 'api' }, value: 0 },
    ]);
    // Nothing to reset (the values come from replication), and resetting breaks nothing.
    registry.resetMetrics();
    expect(parseFamilies(await registry.metrics()).get('litestream_node_upload_stalled')?.samples).toHaveLength(1);
    // Merged with another registry, as apps with several do (a merge has no default labels).
    const other = new Registry();
    new Gauge({ name: 'queue_depth', help: 'Jobs waiting.', registers: [other] }).set(4);
    const merged = parseFamilies(await Registry.merge([registry, other]).metrics());
    expect(merged.get('queue_depth')?.samples).toEqual([{ labels: {}, value: 4 }]);
    expect(merged.get('litestream_node_database_error')?.samples).toEqual([{ labels: label, value: 0 }]);

    // OpenMetrics: a counter's family is named without _total, its sample with it.
    const open = new Registry<OpenMetricsContentType>();
    open.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
    const registration = instance.registerMetrics(open);
    const text = await open.metrics();
    expect(text).toContain('# TYPE litestream_node_sync_errors counter\n');
    expect(text).toContain('\nlitestream_node_sync_errors_total{database="app.db"} 0\n');
    expect(text).not.toContain('_total_total');
    expect(text.endsWith('# EOF\n')).toBe(true);
    // Taken out by the names they were registered under, though the registry renamed counters.
    registration.unregister();
    expect(open.getMetricsAsArray()).toEqual([]);
  });

  it('refuses a second registration, or a name the app already uses, with a clear error, and adds nothing', () => {
    const dir = tempDir();
    const options = {
      databases: [path.join(dir, 'app.db')],
      replica: { type: 'file' as const, path: path.join(dir, 'replica') },
      logger: false as const,
    };
    const instance = new Litestream(options);
    const registry = appRegistry();
    const first = instance.registerMetrics(registry);
    const registered = registry.getMetricsAsArray();

    const twice = catchError<MetricNameClashError>(() => instance.registerMetrics(registry));
    expect(twice).toBeInstanceOf(MetricNameClashError);
    expect(twice.names).toEqual(first.names);
    expect(twice.message).toMatch(
      /^litestream-node's metrics were not added to the prom-client registry: litestream-node's metrics are already registered there \(litestream_node_replication_up, .* and 16 more\): register once per registry, or call unregister\(\) on what the first registration returned/,
    );
    // Another instance cannot share the registry either (its unlabelled metrics would collide).
    expect(catchError(() => new Litestream(options).registerMetrics(registry))).toBeInstanceOf(MetricNameClashError);
    expect(registry.getMetricsAsArray()).toEqual(registered);

    // An app metric of one of our names: named, and none of ours added.
    const app = new Registry();
    new Gauge({ name: 'litestream_node_lease_info', help: 'The app’s own.', registers: [app] });
    const theirs = catchError<MetricNameClashError>(() => instance.registerMetrics(app));
    expect(theirs).toBeInstanceOf(MetricNameClashError);
    expect(theirs.names).toEqual(['litestream_node_lease_info']);
    expect(theirs.message).toMatch(
      /the registry has metrics of its own named litestream_node_lease_info: rename them .* or give litestream-node another Registry\.$/,
    );
    expect(app.getMetricsAsArray().map((metric) => metric.name)).toEqual(['litestream_node_lease_info']);

    // A registry that fails part of the way keeps none of ours.
    let calls = 0;
    const failing = Object.assign(Object.create(app) as Registry, {
      registerMetric(metric: never) {
        if (++calls === 5) throw new Error('registry full');
        app.registerMetric(metric);
      },
    });
    app.removeSingleMetric('litestream_node_lease_info');
    expect(() => instance.registerMetrics(failing)).toThrow('registry full');
    expect(app.getMetricsAsArray()).toEqual([]);

    // Unregistered (twice is harmless), a registration is possible again.
    first.unregister();
    first.unregister();
    expect(registry.getMetricsAsArray().map((metric) => metric.name)).toEqual(['http_requests_total']);
    expect(instance.registerMetrics(registry).names).toHaveLength(19);
  });

  it('says what to install when it is given no prom-client registry', () => {
    const instance = new Litestream({
      databases: ['/tmp/x/app.db'],
      replica: { type: 'file', path: '/tmp/x/replica' },
      logger: false,
    });
    for (const [given, described] of [
      [undefined, 'undefined'],
      [Registry, 'a function \\(a class\\? pass an instance: `new Registry\\(\\)`\\)'],
      [{}, 'an object without registerMetric, getSingleMetric and removeSingleMetric'],
    ] as const) {
      const error = catchError(() => instance.registerMetrics(given as unknown as PrometheusRegistry));
      expect(error).toBeInstanceOf(MetricsRegistryError);
      expect(error.message).toMatch(
        new RegExp(
          `^registerMetrics\\(registry\\) must be a prom-client Registry .* but it is ${described}\\. Install prom-client 15 in the app \\(\`npm install prom-client\`\\)`,
        ),
      );
    }
  });
});

describe('registerMetrics (the module functions)', () => {
  it('registers before the boot, then shows what ensureRestored and startReplication did', async () => {
    const registry = appRegistry();
    const registration = registerMetrics(registry);
    // Nothing booted yet: every family announced, none with samples.
    const before = parseFamilies(await registry.metrics());
    expect(registration.names.map((name) => before.get(name)?.samples)).toEqual(registration.names.map(() => []));

    const dir = tempDir();
    const { config } = testConfig(dir);
    const main = config.databases[0]?.path as string;
    await ensureRestored(config);
    let families = parseFamilies(await registry.metrics());
    expect(families.get('litestream_node_restore_info')?.samples).toContainEqual({
      labels: { database: path.basename(main), outcome: 'no-backup' },
      value: 1,
    });
    expect(values(families.get('litestream_node_replication_up'))).toEqual([0]);

    const replication = track(startReplication());
    await replication.ready;
    families = parseFamilies(await registry.metrics());
    expect(values(families.get('litestream_node_replication_up'))).toEqual([1]);
    await replication.stop();
    families = parseFamilies(await registry.metrics());
    expect(families.get('litestream_node_final_sync_clean')?.samples).toEqual([{ labels: {}, value: 1 }]);
    registration.unregister();
  });
});

describe('prom-client is not loaded by litestream-node', () => {
  it('importing every entry, or registering in a registry, loads none of it; importing it shows up', async () => {
    const dist = path.resolve('dist');
    const script = (extra: string) => `
      import { createRequire } from 'node:module';
      const { Litestream } = await import(${JSON.stringify(path.join(dist, 'index.js'))});
      await import(${JSON.stringify(path.join(dist, 'fastify.js'))});
      await import(${JSON.stringify(path.join(dist, 'express.js'))});
      ${extra}
      const loaded = Object.keys(createRequire(import.meta.url).cache).some((file) => file.includes('/node_modules/prom-client/'));
      console.log(JSON.stringify({ loaded }));
    `;
    const node = async (extra: string) =>
      JSON.parse((await run(process.execPath, ['--input-type=module', '-e', script(extra)], { cwd: dist })).stdout);
    expect(await node('')).toEqual({ loaded: false });
    // The collectors are plain objects: registering them needs no prom-client of ours.
    expect(
      await node(`
        const metrics = new Map();
        const registry = { registerMetric: (m) => metrics.set(m.name, m), getSingleMetric: (n) => metrics.get(n), removeSingleMetric: (n) => metrics.delete(n) };
        new Litestream({ databases: ['/tmp/x/app.db'], replica: { type: 'file', path: '/tmp/x/replica' }, logger: false }).registerMetrics(registry);
        if (metrics.size !== 19) throw new Error('not registered');
      `),
    ).toEqual({ loaded: false });
    // The check sees prom-client when something does import it.
    expect(await node(`await import('prom-client');`)).toEqual({ loaded: true });
  });
});

describe('the adapters', () => {
  it("Fastify's metricsRegistry: the app's own /metrics route serves ours; gone after close", async () => {
    const dir = tempDir();
    const { config } = testConfig(dir);
    const registry = appRegistry();
    const app = Fastify({ logger: false });
    onCleanup(() => app.close());
    await app.register(litestream, { config, metricsRegistry: registry });
    app.get('/metrics', async (_request, reply) => reply.type(registry.contentType).send(await registry.metrics()));
    for (const db of config.databases) writeRows(db.path, 'fastify', 1);
    await waitFor(() => app.litestream.status().databases.every((db) => db.synced));

    const answer = await app.inject('/metrics');
    expect(answer.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    const families = parseFamilies(answer.body);
    expect(families.get('http_requests_total')?.samples).toEqual([{ labels: { route: '/items' }, value: 2 }]);
    expect(families.get('litestream_node_database_synced')?.samples).toContainEqual({
      labels: { database: path.basename(config.databases[0]?.path as string) },
      value: 1,
    });
    expect(families.get('litestream_node_restore_info')?.samples).toHaveLength(2);

    await app.close();
    expect(registry.getMetricsAsArray().map((metric) => metric.name)).toEqual(['http_requests_total']);
    expect(litestreamChildren()).toEqual([]);
  });

  it('Fastify: a clash or a bad metricsRegistry fails the registration before anything is restored', async () => {
    const dir = tempDir();
    const { config } = await seedBackup(dir);
    const main = config.databases[0]?.path as string;
    const registry = appRegistry();
    registerMetrics(registry);
    const names = registry.getMetricsAsArray().map((metric) => metric.name);

    for (const [metricsRegistry, expected] of [
      [registry, MetricNameClashError],
      [{ registerMetric() {} }, MetricsRegistryError],
    ] as const) {
      const app = Fastify({ logger: false });
      onCleanup(() => app.close());
      app.register(litestream, { config, metricsRegistry: metricsRegistry as unknown as PrometheusRegistry });
      const error = await app.ready().then(
        () => undefined,
        (reason: unknown) => reason as Error,
      );
      expect(error).toBeInstanceOf(expected);
      if (expected === MetricsRegistryError)
        expect(error?.message).toMatch(/^The option metricsRegistry must be a prom-client Registry/);
      expect(existsSync(main)).toBe(false);
      expect(litestreamChildren()).toEqual([]);
    }
    expect(registry.getMetricsAsArray().map((metric) => metric.name)).toEqual(names);
  });

  it('Express: a registry that refuses our metrics fails start(), and the gate and health say failed, not restoring', async () => {
    const dir = tempDir();
    const { config } = await seedBackup(dir);
    const main = config.databases[0]?.path as string;
    const registry = appRegistry();
    registerMetrics(registry);
    const integration = expressLitestream(config, { metricsRegistry: registry });
    onCleanup(() => integration.close());
    await expect(integration.start()).rejects.toBeInstanceOf(MetricNameClashError);
    // A health check or a client would otherwise be told to retry for good.
    expect(integration.state).toBe('failed');
    expect(existsSync(main)).toBe(false);
    expect(litestreamChildren()).toEqual([]);
  });

  it("Express's metricsRegistry: ours are in the app's /metrics from listen; gone after close", async () => {
    const dir = tempDir();
    const { config } = await seedBackup(dir);
    const registry = appRegistry();
    expect(() => expressLitestream(config, { metricsRegistry: 'register' as unknown as PrometheusRegistry })).toThrow(
      MetricsRegistryError,
    );
    const integration = expressLitestream(config, { metricsRegistry: registry });
    onCleanup(() => integration.close());
    const app = express();
    app.get('/metrics', async (_request, response) => {
      response.set('Content-Type', registry.contentType).send(await registry.metrics());
    });
    // Not registered before start: the app's registry is its own until then.
    expect(registry.getMetricsAsArray()).toHaveLength(1);
    const server: Server = await integration.listen(app, 0, '127.0.0.1');
    await integration.litestream.replication?.ready;

    const port = (server.address() as { port: number }).port;
    const families = parseFamilies(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());
    expect(families.get('http_requests_total')?.samples).toEqual([{ labels: { route: '/items' }, value: 2 }]);
    expect(families.get('litestream_node_restore_info')?.samples).toContainEqual({
      labels: { database: path.basename(config.databases[0]?.path as string), outcome: 'restored' },
      value: 1,
    });
    expect(values(families.get('litestream_node_replication_up'))).toEqual([1]);

    await integration.close();
    expect(registry.getMetricsAsArray().map((metric) => metric.name)).toEqual(['http_requests_total']);
  });
});

function catchError<T extends Error>(fn: () => unknown): T {
  try {
    fn();
  } catch (error) {
    return error as T;
  }
  throw new Error('expected an error');
}
