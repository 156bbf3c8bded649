import { existsSync } from 'node:fs';
import { createConnection } from 'node:net';
import { hostname } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import litestream, { type FastifyLitestreamOptions } from '../src/fastify.js';
import {
  configFromEnv,
  defineConfig,
  ensureRestored,
  LitestreamConfigError,
  ReplicaUnreachableError,
  RestoreError,
} from '../src/index.js';
import { launchUnderLoad } from './reliability/harness.js';
import {
  captureLogger,
  closedPort,
  deleteDatabase,
  litestreamChildren,
  onCleanup,
  openDatabase,
  readIds,
  s3Replica,
  seedBackup,
  seedEnv,
  tempDir,
  testConfig,
  waitFor,
  writeRows,
} from './support/fixtures.js';
import { expectWellFormed, sample } from './support/prometheus.js';
import { holdingProxy } from './support/proxy.js';
import { testS3 } from './support/s3-per-file.js';

/** An app whose routes open the database at request time, so an early listen would show. */
function buildApp(options: { pluginTimeout?: number } = {}) {
  const app = Fastify({ logger: false, ...options });
  onCleanup(() => app.close());
  return app;
}

function addRoutes(app: ReturnType<typeof buildApp>, main: string) {
  app.get('/items', async () => {
    const db = new Database(main, { readonly: true, fileMustExist: true });
    try {
      return db.prepare('SELECT id FROM items ORDER BY id').all();
    } finally {
      db.close();
    }
  });
  app.post('/items/:label', async (request) => {
    const db = openDatabase(main);
    try {
      const { label } = request.params as { label: string };
      return {
        id: Number(db.prepare('INSERT INTO items (label, body) VALUES (?, ?)').run(label, label).lastInsertRowid),
      };
    } finally {
      db.close();
    }
  });
}

async function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.on('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.on('error', () => resolve(true));
  });
}

describe('the Fastify plugin', () => {
  it('restores before the first request, replicates, and makes a final sync on close', async () => {
    const dir = tempDir();
    const { config, ids } = await seedBackup(dir);
    const main = config.databases[0]?.path as string;
    const app = buildApp();
    await app.register(litestream, { config });
    addRoutes(app, main);
    await app.listen({ port: 0, host: '127.0.0.1' });

    // The very first request already sees every restored row.
    const response = await fetch(`http://127.0.0.1:${(app.server.address() as { port: number }).port}/items`);
    expect(response.status).toBe(200);
    expect(((await response.json()) as { id: number }[]).map((row) => row.id)).toEqual(ids[0]);
    expect(app.litestream.status().state).toBe('running');

    await app.litestream.replication?.ready;
    const written = await app.inject({ method: 'POST', url: '/items/last-write' });
    const lastId = (written.json() as { id: number }).id;
    await app.close();
    expect(litestreamChildren()).toEqual([]);
    expect(app.litestream.status().state).toBe('stopped');

    deleteDatabase(main);
    await ensureRestored(config);
    expect(readIds(main)).toEqual([...(ids[0] as number[]), lastId]);
  });

  it('an unreachable replica rejects ready and binds no port', async () => {
    const dir = tempDir();
    const port = await closedPort();
    const { config } = testConfig(dir, {
      replica: s3Replica({ endpoint: `http://127.0.0.1:${port}` }),
      restore: { retryForMs: 500 },
    });
    const app = buildApp();
    app.register(litestream, { config });
    const listenPort = await closedPort();
    const error = await app.listen({ port: listenPort, host: '127.0.0.1' }).then(
      () => undefined,
      (reason: unknown) => reason,
    );
    expect(error).toBeInstanceOf(ReplicaUnreachableError);
    expect(await portIsFree(listenPort)).toBe(true);
    expect(litestreamChildren()).toEqual([]);
  });

  it("fails with a message naming pluginTimeout when the restore outlasts it, not avvio's timeout", async () => {
    const dir = tempDir();
    await seedBackup(dir);
    const proxy = await holdingProxy(testS3().endpoint);
    proxy.hold();
    const { config } = testConfig(dir, { replica: s3Replica({ endpoint: proxy.endpoint }) });
    const app = buildApp({ pluginTimeout: 1_000 });
    app.register(litestream, { config });
    const error = await app.ready().then(
      () => undefined,
      (reason: unknown) => reason as Error,
    );
    expect(error).toBeInstanceOf(RestoreError);
    expect(error?.message).toMatch(/pluginTimeout \(1000 ms\).*Fastify\(\{ pluginTimeout: 120_000 \}\)/);
    proxy.release();
  });

  it('serves Prometheus metrics: a first boot with no backup, replication, litestream restarted, and the final sync', async () => {
    const dir = tempDir();
    const { config } = testConfig(dir, {
      supervisor: { initialBackoffMs: 200, maxBackoffMs: 200, resetAfterMs: 60_000 },
    });
    const main = config.databases[0]?.path as string;
    const app = buildApp();
    await app.register(litestream, { config, metricsRoute: '/metrics' });
    // No backup: `ready` came before these databases existed; wait for their first sync.
    for (const db of config.databases) writeRows(db.path, 'metrics', 1);
    await waitFor(() => app.litestream.status().databases.every((db) => db.synced));

    const first = await app.inject('/metrics');
    expect(first.statusCode).toBe(200);
    expect(first.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    expectWellFormed(first.body);
    // Labelled by file name: a scrape says nothing about the host's directories.
    const label = { database: path.basename(main) };
    expect(sample(first.body, 'litestream_node_restore_info', { ...label, outcome: 'no-backup' })).toBe(1);
    expect(sample(first.body, 'litestream_node_database_synced', label)).toBe(1);
    expect(sample(first.body, 'litestream_node_last_sync_age_seconds', label)).toBeLessThan(60);
    expect(sample(first.body, 'litestream_node_litestream_restarts_total')).toBe(0);

    process.kill(app.litestream.status().pid as number, 'SIGKILL');
    await waitFor(() => app.litestream.status().restarts === 1 && app.litestream.status().state === 'running');
    const restarted = (await app.inject('/metrics')).body;
    expect(sample(restarted, 'litestream_node_litestream_restarts_total')).toBe(1);
    await app.close();
    expect(sample(app.litestream.metrics(), 'litestream_node_final_sync_clean')).toBe(1);
  });

  it('serves a health route: 200 while replicating, 503 while litestream is down', async () => {
    const dir = tempDir();
    const { config } = testConfig(dir, {
      supervisor: { initialBackoffMs: 3_000, maxBackoffMs: 3_000, resetAfterMs: 60_000 },
    });
    for (const db of config.databases) writeRows(db.path, 'health', 1);
    const app = buildApp();
    await app.register(litestream, { config, healthRoute: '/healthz/litestream', healthDetails: true });
    await app.litestream.replication?.ready;

    const healthy = await app.inject('/healthz/litestream');
    expect(healthy.statusCode).toBe(200);
    expect(healthy.json()).toMatchObject({ state: 'running', healthy: true });
    expect((healthy.json() as { databases: unknown[] }).databases).toHaveLength(2);

    process.kill(app.litestream.status().pid as number, 'SIGKILL');
    await waitFor(() => app.litestream.status().state === 'restarting');
    const down = await app.inject('/healthz/litestream');
    expect(down.statusCode).toBe(503);
    expect(down.json()).toMatchObject({ state: 'restarting', healthy: false });
  });

  it('first boot into a directory that does not exist yet, with register options Fastify passes on (prefix)', async () => {
    const dir = tempDir();
    // storage/ does not exist: no backup, so the app creates its databases there itself.
    const options = {
      databases: [path.join(dir, 'storage', 'production.sqlite3')],
      replica: s3Replica(),
      syncInterval: '1s',
      logger: false as const,
      prefix: '/api',
      healthRoute: '/health',
    };
    const app = buildApp();
    await app.register(litestream, options);
    await app.ready();
    expect(app.litestream.status().state).toBe('running');
    writeRows(options.databases[0] as string, 'first', 3);
    await app.litestream.replication?.ready;
    const health = await app.inject({ method: 'GET', url: '/health' });
    expect(health.statusCode).toBe(200);
    await app.close();
  });

  it('refuses to be registered twice', async () => {
    const dir = tempDir();
    const { config } = testConfig(dir);
    for (const db of config.databases) writeRows(db.path, 'x', 1);
    const app = buildApp();
    await app.register(litestream, { config });
    app.register(litestream, { config });
    await expect(app.ready()).rejects.toThrow(/already registered/);
  });

  it('takes plain options and logs through app.log', async () => {
    const dir = tempDir();
    const lines: string[] = [];
    const app = Fastify({
      logger: { level: 'info', stream: { write: (line: string) => lines.push(line) } },
    });
    onCleanup(() => app.close());
    await app.register(litestream, {
      databases: [path.join(dir, 'app.db')],
      replica: { type: 'file', path: path.join(dir, 'replica') },
    });
    await app.ready();
    expect(app.litestream.config.databases[0]?.path).toBe(path.join(dir, 'app.db'));
    expect(lines.some((line) => /"plugin":"litestream"/.test(line) && /no backup in the replica/.test(line))).toBe(
      true,
    );
  });

  it('disabled mode changes nothing and spawns nothing', async () => {
    const dir = tempDir();
    const config = defineConfig({ enabled: false, databases: [path.join(dir, 'app.db')], logger: captureLogger() });
    const app = buildApp();
    await app.register(litestream, { config, healthRoute: '/health' });
    await app.ready();
    expect(app.litestream.status().state).toBe('disabled');
    expect((await app.inject('/health')).statusCode).toBe(200);
    expect(litestreamChildren()).toEqual([]);
    await app.close();
  });
});

describe('the Fastify plugin options', () => {
  it('accept a built config as the options object itself', async () => {
    const dir = tempDir();
    const { config } = testConfig(dir);
    for (const db of config.databases) writeRows(db.path, 'x', 1);
    const app = buildApp();
    await app.register(litestream, config);
    await app.ready();
    expect(app.litestream.config).toBe(config);
    await app.close();
    expect(litestreamChildren()).toEqual([]);
  });

  it('name a misspelt key in every form, before anything is restored or started', async () => {
    const dir = tempDir();
    const { config } = testConfig(dir);
    const forms: [string, object, RegExp][] = [
      ['{ config, … }', { config, healtRoute: '/healthz' }, /healtRoute: is not an option of the plugin.*healthRoute/],
      [
        'plain options',
        { databases: [path.join(dir, 'a.db')], replica: s3Replica(), healtRoute: '/healthz' },
        /options: has unknown option "healtRoute"/,
      ],
      [
        '{ config: plain options }',
        { config: { databases: [path.join(dir, 'a.db')], replica: s3Replica(), synkInterval: '1s' } },
        /config: has unknown option "synkInterval"/,
      ],
    ];
    for (const [form, options, message] of forms) {
      const app = buildApp();
      app.register(litestream, options as FastifyLitestreamOptions);
      const error = await app.ready().then(
        () => undefined,
        (reason: unknown) => reason,
      );
      expect(error, form).toBeInstanceOf(LitestreamConfigError);
      expect((error as Error).message, form).toMatch(message);
    }
    expect(litestreamChildren()).toEqual([]);
    for (const db of config.databases) expect(existsSync(db.path)).toBe(false);
  });

  it('validate plain options under config like direct ones, naming the field under config', async () => {
    const dir = tempDir();
    const bad = buildApp();
    bad.register(litestream, { config: { databases: [path.join(dir, 'a.db')], replica: s3Replica({ bucket: '' }) } });
    await expect(bad.ready()).rejects.toThrow(/config\.replica\.bucket: is required/);

    const main = path.join(dir, 'app.db');
    const app = buildApp();
    await app.register(litestream, {
      config: { databases: [main], replica: s3Replica(), syncInterval: '1s' },
      healthRoute: '/healthz',
    });
    await app.ready();
    expect(app.litestream.config.databases.map((db) => db.path)).toEqual([main]);
    expect(app.litestream.config.syncInterval).toBe('1s');
    await app.litestream.replication?.ready;
    expect((await app.inject('/healthz')).statusCode).toBe(200);
    await app.close();
    expect(litestreamChildren()).toEqual([]);
  });
});

describe('listenWhileRestoring (a rolling deploy health-checks the new instance first)', () => {
  it('answers while it waits for the previous instance: 503 with Retry-After, the health route says it waits and for whom, an ungated route answers; then every row of the previous instance is there', async () => {
    const prefix = `fastify-deploy-${Date.now()}`;
    const lease = { LITESTREAM_LEASE_TTL: '3s' };
    const previous = await launchUnderLoad(prefix, { env: lease });
    await waitFor(() => previous.acks.length > 20, 10_000, 'the previous instance to take writes');

    // Same file name, so the same replica path; another directory, as another container.
    const database = path.join(tempDir(), 'app.sqlite3');
    const app = buildApp();
    await app.register(litestream, {
      config: configFromEnv(seedEnv(prefix, [database], lease), { logger: false }),
      healthRoute: '/healthz',
      healthDetails: true,
      metricsRoute: '/metrics',
      listenWhileRestoring: true,
    });
    app.get('/up', { config: { litestream: { gate: false } } }, async () => 'ok');
    app.get('/items', async () => {
      const db = new Database(database, { readonly: true, fileMustExist: true });
      try {
        return db.prepare('SELECT count(*) AS count FROM items').get();
      } finally {
        db.close();
      }
    });
    await app.ready();

    await waitFor(async () => (await app.inject('/healthz')).json().state === 'waiting', 10_000, 'the wait');
    const health = await app.inject('/healthz');
    expect(health.statusCode).toBe(503);
    expect(health.json()).toMatchObject({
      state: 'waiting',
      reason: expect.stringMatching(/waiting for the previous instance/),
      holder: { host: hostname(), pid: previous.pid },
    });
    const gated = await app.inject('/items');
    expect(gated.statusCode).toBe(503);
    expect(gated.headers['retry-after']).toBe('5');
    expect(gated.json().error).toMatch(/waiting for the previous instance/);
    expect((await app.inject('/up')).body).toBe('ok');
    // The metrics answer too: nothing replicates and no restore has ended yet.
    const waiting = await app.inject('/metrics');
    expect(waiting.statusCode).toBe(200);
    expect(sample(waiting.body, 'litestream_node_replication_up')).toBe(0);
    expect(waiting.body).not.toContain('litestream_node_restore_info');
    expect(existsSync(database)).toBe(false);

    await previous.terminate();
    await waitFor(
      async () => (await app.inject('/healthz')).statusCode === 200,
      30_000,
      'the restore after the release',
    );
    const items = await app.inject('/items');
    expect(items.statusCode).toBe(200);
    expect(items.json()).toEqual({ count: previous.lastAcked() });
    expect(
      sample((await app.inject('/metrics')).body, 'litestream_node_restore_info', {
        database: path.basename(database),
        outcome: 'restored',
      }),
    ).toBe(1);
    await app.close();
    expect(litestreamChildren()).toEqual([]);
  });
});
