// Durable routes in the adapters (issue 32): a reply that says a write happened reaches the
// client only once the replica holds it, and becomes a 503 when the replica cannot confirm it.
import type { Server } from 'node:http';
import path from 'node:path';
import express, { type NextFunction, type Request, type Response } from 'express';
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { expressLitestream } from '../src/express.js';
import litestream from '../src/fastify.js';
import { Litestream, type LitestreamConfig, LitestreamConfigError } from '../src/index.js';
import {
  deleteDatabase,
  litestreamChildren,
  onCleanup,
  openDatabase,
  readIds,
  s3Replica,
  tempDir,
  testConfig,
  writeRows,
} from './support/fixtures.js';
import { family } from './support/litestream-version.js';
import { holdingProxy } from './support/proxy.js';
import { testS3 } from './support/s3-per-file.js';

// On 0.5 the sync interval is 30 s: a row in the replica within the test came from sync(),
// never from the regular schedule. 0.3 has no channel and waits for that schedule: 1 s.
const syncInterval = family === '0.5' ? '30s' : '1s';

const NOT_DURABLE = { error: 'not durable', message: expect.stringContaining('not confirmed durable') };

/** Inserts a row labelled `label` into `database`; returns its id. */
function insert(database: string, label: string): number {
  const db = openDatabase(database);
  try {
    return Number(db.prepare('INSERT INTO items (label, body) VALUES (?, ?)').run(label, label).lastInsertRowid);
  } finally {
    db.close();
  }
}

/** A database with its table, and a config replicating it (through `endpoint` when given). */
function setUp(endpoint?: string) {
  const dir = tempDir();
  const database = path.join(dir, 'shop.sqlite3');
  writeRows(database, 'seed', 2);
  const { config, logger } = testConfig(dir, {
    databases: [database],
    syncInterval,
    ...(endpoint === undefined ? {} : { replica: s3Replica({ endpoint }) }),
  });
  return { database, config, logger };
}

/**
 * As a kill -9 of the app's litestream right when the reply arrived: no final sync, the disk
 * lost, and the next container restores from the replica. Returns the ids it restored.
 */
async function idsInTheReplica(app: Litestream, config: LitestreamConfig, database: string): Promise<number[]> {
  const stopped = await app.replication?.stop({ signal: AbortSignal.abort() }).catch((error: unknown) => error);
  expect(stopped).toMatchObject({ name: 'AbortError' });
  expect(litestreamChildren()).toEqual([]);
  deleteDatabase(database);
  const next = new Litestream(config);
  onCleanup(() => next.stop().then(() => {}));
  const [restored] = await next.ensureRestored();
  expect(restored?.outcome).toBe('restored');
  return readIds(database);
}

async function fastifyApp(config: LitestreamConfig, database: string, durable: true | { timeoutMs: number } = true) {
  const app = Fastify({ logger: false });
  onCleanup(() => app.close());
  await app.register(litestream, { config });
  app.post('/payments/:label', { config: { litestream: { durable } } }, async (request, reply) => {
    // Headers that describe this answer's body: a 503 that replaces it must not carry them.
    reply.header('etag', '"payment-v1"').header('content-disposition', 'inline');
    return { id: insert(database, (request.params as { label: string }).label) };
  });
  app.post('/refused/:label', { config: { litestream: { durable } } }, async (request, reply) => {
    insert(database, (request.params as { label: string }).label);
    return reply.code(409).send({ error: 'duplicate payment' });
  });
  app.post('/notes/:label', async (request) => ({ id: insert(database, (request.params as { label: string }).label) }));
  await app.listen({ port: 0, host: '127.0.0.1' });
  const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  return { app, post: (route: string) => fetch(`${base}${route}`, { method: 'POST' }) };
}

async function expressApp(config: LitestreamConfig, database: string, timeoutMs?: number) {
  const integration = expressLitestream(config);
  onCleanup(() => integration.close());
  const app = express();
  const durable = integration.durable(timeoutMs === undefined ? {} : { timeoutMs });
  app.post('/payments/:label', durable, (request: Request, response: Response) => {
    response.status(201).json({ id: insert(database, request.params.label as string) });
  });
  app.post('/refused/:label', durable, (request: Request, response: Response) => {
    insert(database, request.params.label as string);
    response.status(409).json({ error: 'duplicate payment' });
  });
  app.post('/notes/:label', (request: Request, response: Response) => {
    response.json({ id: insert(database, request.params.label as string) });
  });
  // A streamed body is held as well: every chunk waits for the replica, and the sync covers
  // a commit made after the answer began (between its first write and its end).
  app.post('/receipts/:label', durable, async (request: Request, response: Response, next: NextFunction) => {
    try {
      response.type('text/plain');
      response.write('receipt ');
      // Work between the first chunk and the commit, as a call to a payment provider takes.
      await new Promise((resolve) => setTimeout(resolve, 100));
      const id = insert(database, request.params.label as string);
      response.end(String(id));
    } catch (error) {
      next(error);
    }
  });
  const server: Server = await integration.listen(app, 0, '127.0.0.1');
  const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return { integration, post: (route: string) => fetch(`${base}${route}`, { method: 'POST' }) };
}

describe('durable routes: the Fastify plugin', () => {
  it('a durable reply arrives only once the replica holds its row', async () => {
    const { database, config } = setUp();
    const { app, post } = await fastifyApp(config, database);
    await app.litestream.replication?.ready;

    const reply = await post('/payments/card-1');
    expect(reply.status).toBe(200);
    const { id } = (await reply.json()) as { id: number };
    // Written right after the durable reply, by code that does not wait: on 0.5 (30 s
    // interval) nothing but sync() uploads, so this row is lost with the disk.
    const after = insert(database, 'after');

    const restored = await idsInTheReplica(app.litestream, config, database);
    expect(restored).toContain(id);
    if (family === '0.5') expect(restored).not.toContain(after);
  });

  it('answers 503 "not durable" when the replica is unreachable; the row stays committed locally, other replies pass', async () => {
    const proxy = await holdingProxy(testS3().endpoint);
    const { database, config, logger } = setUp(proxy.endpoint);
    const { app, post } = await fastifyApp(config, database, { timeoutMs: 1_500 });
    await app.litestream.replication?.ready;
    proxy.cut();
    onCleanup(() => proxy.restore());

    const refused = await post('/payments/card-2');
    expect(refused.status).toBe(503);
    expect(refused.headers.get('content-type')).toMatch(/^application\/json/);
    expect(refused.headers.get('etag')).toBeNull();
    expect(refused.headers.get('content-disposition')).toBeNull();
    const body = await refused.json();
    expect(body).toEqual(NOT_DURABLE);
    // Nothing about the host in the answer: the reason is in the log.
    expect(JSON.stringify(body)).not.toContain(path.dirname(database));
    expect(
      logger.lines.some((line) => line.level === 'warn' && line.message?.includes('durable route answered 503')),
    ).toBe(true);
    expect(readIds(database, 'card-2')).toHaveLength(1);

    // An error reply of a durable route passes as it is; a route that is not durable does not wait.
    const conflict = await post('/refused/card-3');
    expect(conflict.status).toBe(409);
    expect(await conflict.json()).toEqual({ error: 'duplicate payment' });
    const note = await post('/notes/offline');
    expect(note.status).toBe(200);
    expect(readIds(database, 'offline')).toEqual([((await note.json()) as { id: number }).id]);
  });

  it('a misspelt durable setting fails when the route is declared; with litestream disabled durable routes answer at once', async () => {
    const dir = tempDir();
    const database = path.join(dir, 'dev.sqlite3');
    writeRows(database, 'seed', 1);
    const disabled = testConfig(dir, { databases: [database], enabled: false }).config;
    const app = Fastify({ logger: false });
    onCleanup(() => app.close());
    await app.register(litestream, { config: disabled });
    expect(() =>
      app.post('/typo', { config: { litestream: { durable: { timeout: 5 } as never } } }, async () => ({})),
    ).toThrow(LitestreamConfigError);
    expect(() =>
      app.post('/typo', { config: { litestream: { durable: { timeout: 5 } as never } } }, async () => ({})),
    ).toThrow(/POST \/typo: config\.litestream\.durable\.timeout/);
    app.post('/payments', { config: { litestream: { durable: true } } }, async () => ({ id: insert(database, 'dev') }));
    const reply = await app.inject({ method: 'POST', url: '/payments' });
    expect(reply.statusCode).toBe(200);
    expect(readIds(database, 'dev')).toEqual([reply.json<{ id: number }>().id]);
    expect(litestreamChildren()).toEqual([]);
  });
});

describe('durable routes: the Express middleware', () => {
  it.each([
    ['JSON (res.status().json())', '/payments/card-1', 201],
    ['streamed (res.write(), res.end())', '/receipts/card-1', 200],
  ])('a durable response arrives only once the replica holds its row: %s', async (_kind, route, status) => {
    const { database, config } = setUp();
    const { integration, post } = await expressApp(config, database);
    await integration.litestream.replication?.ready;

    const reply = await post(route);
    expect(reply.status).toBe(status);
    const after = insert(database, 'after');
    const text = await reply.text();
    const id = Number(/(\d+)\D*$/.exec(text)?.[1]);
    expect(readIds(database, 'card-1')).toEqual([id]);

    const restored = await idsInTheReplica(integration.litestream, config, database);
    expect(restored).toContain(id);
    if (family === '0.5') expect(restored).not.toContain(after);
  });

  it('answers 503 "not durable" when the replica is unreachable; the row stays committed locally, other responses pass', async () => {
    const proxy = await holdingProxy(testS3().endpoint);
    const { database, config } = setUp(proxy.endpoint);
    const { integration, post } = await expressApp(config, database, 1_500);
    await integration.litestream.replication?.ready;
    proxy.cut();
    onCleanup(() => proxy.restore());

    const refused = await post('/payments/card-2');
    expect(refused.status).toBe(503);
    expect(refused.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await refused.json()).toEqual(NOT_DURABLE);
    expect(readIds(database, 'card-2')).toHaveLength(1);
    const streamed = await post('/receipts/card-3');
    expect(streamed.status).toBe(503);
    expect(await streamed.json()).toEqual(NOT_DURABLE);

    const conflict = await post('/refused/card-4');
    expect(conflict.status).toBe(409);
    expect(await conflict.json()).toEqual({ error: 'duplicate payment' });
    const note = await post('/notes/offline');
    expect(note.status).toBe(200);
    expect(readIds(database, 'offline')).toEqual([((await note.json()) as { id: number }).id]);
  });

  it('durable() refuses options it cannot use', () => {
    const { config } = setUp();
    const integration = expressLitestream(config);
    expect(() => integration.durable({ timeoutMs: -1 })).toThrow(/durable\(options\)\.timeoutMs/);
    expect(() => integration.durable({ database: ['x'] } as never)).toThrow(LitestreamConfigError);
  });
});
