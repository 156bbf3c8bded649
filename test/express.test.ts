import type { Server } from 'node:http';
import path from 'node:path';
import Database from 'better-sqlite3';
import express from 'express';
import { describe, expect, it } from 'vitest';
import { expressLitestream } from '../src/express.js';
import { configFromEnv, defineConfig, ReplicaUnreachableError } from '../src/index.js';
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

/** An Express app whose routes open the database at request time. */
function buildApp(main: string) {
  const app = express();
  app.get('/items', (_request, response) => {
    const db = new Database(main, { readonly: true, fileMustExist: true });
    try {
      response.json(db.prepare('SELECT id FROM items ORDER BY id').all());
    } finally {
      db.close();
    }
  });
  app.post('/items/:label', (request, response) => {
    const db = openDatabase(main);
    try {
      const info = db.prepare('INSERT INTO items (label, body) VALUES (?, ?)').run(request.params.label, 'x');
      response.json({ id: Number(info.lastInsertRowid) });
    } finally {
      db.close();
    }
  });
  return app;
}

const url = (server: Server, route: string) =>
  `http://127.0.0.1:${(server.address() as { port: number }).port}${route}`;

describe('expressLitestream', () => {
  it('serves Prometheus metrics on the route the app chooses: the restore, the last sync, and after close the final sync', async () => {
    const dir = tempDir();
    const { config } = await seedBackup(dir);
    const main = config.databases[0]?.path as string;
    const litestream = expressLitestream(config);
    onCleanup(() => litestream.close());
    const app = buildApp(main);
    app.get('/metrics', litestream.metrics);
    const server = await litestream.listen(app, 0, '127.0.0.1');
    await litestream.litestream.replication?.ready;

    const answer = await fetch(url(server, '/metrics'));
    expect(answer.status).toBe(200);
    expect(answer.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const text = await answer.text();
    expectWellFormed(text);
    expect(sample(text, 'litestream_node_replication_up')).toBe(1);
    expect(sample(text, 'litestream_node_replication_healthy')).toBe(1);
    // Labelled by file name: a scrape says nothing about the host's directories.
    const label = { database: path.basename(main) };
    expect(sample(text, 'litestream_node_restore_info', { ...label, outcome: 'restored' })).toBe(1);
    const syncedAt = sample(text, 'litestream_node_last_sync_timestamp_seconds', label) as number;
    expect(Math.abs(syncedAt - Date.now() / 1000)).toBeLessThan(60);
    expect(sample(text, 'litestream_node_sync_errors_total', label)).toBe(0);

    await litestream.close();
    const after = litestream.litestream.metrics();
    expect(sample(after, 'litestream_node_replication_up')).toBe(0);
    expect(sample(after, 'litestream_node_final_sync_clean')).toBe(1);
  });

  it('listen restores before the first request; close makes the final sync and leaves no process', async () => {
    const dir = tempDir();
    const { config, ids } = await seedBackup(dir);
    const main = config.databases[0]?.path as string;
    const litestream = expressLitestream(config);
    onCleanup(() => litestream.close());
    const server = await litestream.listen(buildApp(main), 0, '127.0.0.1');

    const first = await fetch(url(server, '/items'));
    expect(first.status).toBe(200);
    expect(((await first.json()) as { id: number }[]).map((row) => row.id)).toEqual(ids[0]);

    await litestream.litestream.replication?.ready;
    const written = (await (await fetch(url(server, '/items/last'), { method: 'POST' })).json()) as { id: number };
    await litestream.close();
    expect(server.listening).toBe(false);
    expect(litestreamChildren()).toEqual([]);

    deleteDatabase(main);
    const again = expressLitestream(config);
    await again.start();
    await again.close();
    expect(readIds(main)).toEqual([...(ids[0] as number[]), written.id]);
  });

  it('closing the returned server stops replication after its final sync', async () => {
    const dir = tempDir();
    const { config } = testConfig(dir);
    for (const db of config.databases) writeRows(db.path, 'x', 1);
    const litestream = expressLitestream(config);
    onCleanup(() => litestream.close());
    const server = await litestream.listen(buildApp(config.databases[0]?.path as string), 0, '127.0.0.1');
    const stopped = new Promise((resolve) => litestream.litestream.replication?.once('stopped', resolve));
    await new Promise<void>((resolve) => server.close(() => resolve()));
    expect(await stopped).toMatchObject({ clean: true });
    expect(litestreamChildren()).toEqual([]);
  });

  it('an unreachable replica rejects listen and binds no port', async () => {
    const dir = tempDir();
    const port = await closedPort();
    const { config } = testConfig(dir, {
      replica: s3Replica({ endpoint: `http://127.0.0.1:${port}` }),
      restore: { retryForMs: 500 },
    });
    const litestream = expressLitestream(config);
    const listenPort = await closedPort();
    const app = buildApp(config.databases[0]?.path as string);
    await expect(litestream.listen(app, listenPort, '127.0.0.1')).rejects.toBeInstanceOf(ReplicaUnreachableError);
    await expect(fetch(`http://127.0.0.1:${listenPort}/items`)).rejects.toThrow();
    expect(litestream.state).toBe('failed');
    expect(litestreamChildren()).toEqual([]);
  });

  it('gate answers 503 with Retry-After while the restore is held open, then passes requests through', async () => {
    const dir = tempDir();
    const proxy = await holdingProxy(testS3().endpoint);
    const { config } = await seedBackup(dir, { replica: s3Replica({ endpoint: proxy.endpoint }) });
    const main = config.databases[0]?.path as string;
    const litestream = expressLitestream(config, { retryAfterSeconds: 2 });
    onCleanup(() => litestream.close());
    const app = express();
    app.use(litestream.gate);
    app.use(buildApp(main));
    const server = await new Promise<Server>((resolve) => {
      const created = app.listen(0, '127.0.0.1', () => resolve(created));
    });
    onCleanup(() => new Promise<void>((resolve) => server.close(() => resolve())));

    proxy.hold();
    const starting = litestream.start();
    await waitFor(() => proxy.waiting > 0, 10_000, 'the restore to reach the replica');
    const during = await fetch(url(server, '/items'));
    expect(during.status).toBe(503);
    expect(during.headers.get('retry-after')).toBe('2');
    expect(litestream.state).toBe('restoring');

    proxy.release();
    await starting;
    const after = await fetch(url(server, '/items'));
    expect(after.status).toBe(200);
    expect(((await after.json()) as unknown[]).length).toBe(25);
  });

  it('disabled mode changes nothing and spawns nothing', async () => {
    const dir = tempDir();
    const main = path.join(dir, 'app.db');
    writeRows(main, 'local', 2);
    const litestream = expressLitestream(defineConfig({ enabled: false, databases: [main], logger: captureLogger() }));
    const app = express();
    app.use(litestream.gate);
    app.use(buildApp(main));
    const server = await litestream.listen(app, 0, '127.0.0.1');
    expect((await fetch(url(server, '/items'))).status).toBe(200);
    expect(litestreamChildren()).toEqual([]);
    await litestream.close();
  });
});

describe('closing the server directly', () => {
  it('a failing stop after server.close() is logged, never an unhandled rejection', async () => {
    const dir = tempDir();
    const { config, logger } = testConfig(dir);
    for (const db of config.databases) writeRows(db.path, 'rows', 1);
    const litestream = expressLitestream(config);
    onCleanup(() => litestream.close());
    const server = await litestream.listen(buildApp(config.databases[0]?.path as string), 0, '127.0.0.1');
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    onCleanup(() => {
      process.off('unhandledRejection', onUnhandled);
    });
    // Whatever makes the stop fail (here the instance's own stop), nobody awaits it.
    const realStop = litestream.litestream.stop.bind(litestream.litestream);
    let failures = 1;
    litestream.litestream.stop = async () => {
      const result = await realStop();
      if (failures-- > 0) throw new Error('stop failed for a test');
      return result;
    };
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await waitFor(
      () => logger.lines.some((line) => line.message === 'stopping replication after the server closed failed'),
      20_000,
      'the failure to be logged',
    );
    // An unhandled rejection is reported after a turn of the event loop.
    await new Promise((resolve) => setImmediate(resolve));
    expect(unhandled).toEqual([]);
    expect(litestreamChildren()).toEqual([]);
  });
});

describe('a rolling deploy', () => {
  it('gate says it waits for the previous instance while that one holds the replica, then serves every row it left', async () => {
    const prefix = `express-deploy-${Date.now()}`;
    const lease = { LITESTREAM_LEASE_TTL: '3s' };
    const previous = await launchUnderLoad(prefix, { env: lease });
    await waitFor(() => previous.acks.length > 20, 10_000, 'the previous instance to take writes');

    // Same file name, so the same replica path; another directory, as another container.
    const database = path.join(tempDir(), 'app.sqlite3');
    const litestream = expressLitestream(configFromEnv(seedEnv(prefix, [database], lease), { logger: false }));
    onCleanup(() => litestream.close());
    const app = express();
    app.get('/up', (_request, response) => {
      response.send('ok');
    });
    app.use(litestream.gate);
    app.get('/count', (_request, response) => {
      const db = new Database(database, { readonly: true, fileMustExist: true });
      try {
        response.json(db.prepare('SELECT count(*) AS count FROM items').get());
      } finally {
        db.close();
      }
    });
    const server = await new Promise<Server>((resolve) => {
      const created = app.listen(0, '127.0.0.1', () => resolve(created));
    });
    onCleanup(() => new Promise<void>((resolve) => server.close(() => resolve())));

    const starting = litestream.start();
    await waitFor(() => litestream.state === 'waiting', 10_000, 'the wait for the previous instance');
    const during = await fetch(url(server, '/count'));
    expect(during.status).toBe(503);
    expect(during.headers.get('retry-after')).toBe('5');
    expect(((await during.json()) as { error: string }).error).toMatch(/waiting for the previous instance/);
    expect(await (await fetch(url(server, '/up'))).text()).toBe('ok');

    await previous.terminate();
    await starting;
    const after = await fetch(url(server, '/count'));
    expect(after.status).toBe(200);
    expect(await after.json()).toEqual({ count: previous.lastAcked() });
  });
});
