// What health and metrics endpoints tell a caller who is not the operator: by default the
// state, whether it is healthy and a short reason — no database path, pid, host or error
// text — and the details only where the app asks for them.
import type { Server } from 'node:http';
import { hostname } from 'node:os';
import path from 'node:path';
import express from 'express';
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { appEnvironment, LIBRARY_SECRET_VARIABLES } from '../src/adapters/app-env.js';
import { healthAnswer, replicationHealth } from '../src/adapters/health.js';
import { ENV } from '../src/config/from-env.js';
import { expressLitestream } from '../src/express.js';
import litestream from '../src/fastify.js';
import { Litestream } from '../src/index.js';
import { databaseLabels } from '../src/metrics/labels.js';
import type { ReplicationStatus } from '../src/replication/types.js';
import { onCleanup, tempDir, testConfig, writeRows } from './support/fixtures.js';

/** A status with everything a caller must not learn from the summary. */
function status(overrides: Partial<ReplicationStatus> = {}): ReplicationStatus {
  const database = {
    path: '/srv/secret-app/storage/production.sqlite3',
    initialized: true,
    synced: true,
    generation: 'abc',
    txid: undefined,
    lastSyncAt: new Date(),
    lastError: undefined,
    uploadingSince: undefined,
  };
  // Fields other releases add are left out: the summary must not depend on them.
  return {
    state: 'running',
    healthy: true,
    pid: 4242,
    restarts: 0,
    startedAt: new Date(),
    databases: [database, { ...database, path: '/srv/secret-app/storage/queue.sqlite3' }],
    stalled: [],
    lease: { state: 'held', error: undefined },
    ...overrides,
  } as ReplicationStatus;
}

/** Fails when `body` mentions a path, pid or host of this status (or of this machine). */
function expectNothingAboutTheHost(body: unknown): void {
  const text = JSON.stringify(body);
  for (const secret of ['/srv/secret-app', 'production.sqlite3', '4242', 'ECONNREFUSED 10.0.0.7', hostname()]) {
    expect(text).not.toContain(secret);
  }
}

describe('the health summary', () => {
  it('says state and healthy, and why not in a few words, never a path, pid, host or error text', () => {
    expect(replicationHealth(status())).toEqual({ state: 'running', healthy: true });
    const failing = status({
      healthy: false,
      databases: status().databases.map((db, index) =>
        index === 0 ? { ...db, lastError: { message: 'dial tcp: ECONNREFUSED 10.0.0.7', at: new Date() } } : db,
      ),
    });
    expect(replicationHealth(failing)).toEqual({
      state: 'running',
      healthy: false,
      reason: 'replica errors on 1 of 2 databases',
    });
    const stalled = status({ healthy: false, stalled: ['/srv/secret-app/storage/production.sqlite3'] });
    expect(replicationHealth(stalled).reason).toBe('replica uploads stalled on 1 of 2 databases');
    expect(replicationHealth(status({ healthy: false, state: 'restarting' })).reason).toBe('litestream is restarting');
    const paused = status({ healthy: false, lease: { state: 'paused', error: 'PUT https://10.0.0.7/… failed' } });
    expect(replicationHealth(paused).reason).toBe('the replica lease is not held');
    for (const one of [failing, stalled, paused]) expectNothingAboutTheHost(replicationHealth(one));
  });

  it('while the boot runs: the state and a fixed sentence; the previous holder only with details', () => {
    const holder = { host: hostname(), pid: 4242, startedAt: '2026-01-01T00:00:00.000Z', version: '0.1.0' };
    const waiting = healthAnswer({ gate: 'waiting', holder }, status, false);
    expect(waiting.statusCode).toBe(503);
    expect(waiting.body).toEqual({
      state: 'waiting',
      healthy: false,
      reason: expect.stringMatching(/waiting for the previous instance/),
    });
    expectNothingAboutTheHost(waiting.body);
    expect(healthAnswer({ gate: 'waiting', holder }, status, true).body).toMatchObject({ state: 'waiting', holder });
    // Ready: the full status only with details.
    expect(healthAnswer({ gate: 'ready' }, status, false)).toEqual({
      statusCode: 200,
      body: { state: 'running', healthy: true },
    });
    expect(healthAnswer({ gate: 'ready' }, status, true).body).toMatchObject({
      pid: 4242,
      databases: expect.any(Array),
    });
  });
});

describe('metrics labels', () => {
  it('name databases by file name, with as many directories as tell two of the same name apart', () => {
    const label = databaseLabels(['/srv/a/app.db', '/srv/b/app.db', '/srv/b/queue.db', '/x/y/a/app.db']);
    expect(['/srv/a/app.db', '/srv/b/app.db', '/srv/b/queue.db', '/x/y/a/app.db'].map(label)).toEqual([
      'srv/a/app.db',
      'b/app.db',
      'queue.db',
      'y/a/app.db',
    ]);
    expect(label('/elsewhere/other.db')).toBe('other.db');
  });

  it('Litestream#metrics() says nothing about the directories unless asked to', () => {
    const dir = tempDir();
    const { config } = testConfig(dir);
    const instance = new Litestream(config);
    expect(instance.metrics()).toContain('database="production.sqlite3"');
    expect(instance.metrics()).not.toContain(dir);
    expect(instance.metrics({ databaseLabel: 'path' })).toContain(`database="${path.join(dir, 'production.sqlite3')}"`);
  });
});

describe("run's environment for the app", () => {
  it("drops litestream-node's own secrets unless asked to pass them", () => {
    const env = {
      PATH: '/bin',
      DATABASE_URL: 'file:app.db',
      AWS_ACCESS_KEY_ID: 'the-platform-s',
      LITESTREAM_S3_BUCKET: 'backups',
      LITESTREAM_ACCESS_KEY_ID: 'AKIA-LIBRARY',
      LITESTREAM_SECRET_ACCESS_KEY: 'library-secret',
      LITESTREAM_HEARTBEAT_URL: 'https://hc-ping.com/uuid-token',
      LITESTREAM_ALERT_WEBHOOK_URL: 'https://hooks.slack.com/services/T/B/token',
    };
    expect(appEnvironment(env, false)).toEqual({
      PATH: '/bin',
      DATABASE_URL: 'file:app.db',
      AWS_ACCESS_KEY_ID: 'the-platform-s',
      LITESTREAM_S3_BUCKET: 'backups',
    });
    expect(appEnvironment(env, true)).toEqual(env);
    // A secret variable added to the library later must join the list.
    const secretLooking = Object.values(ENV).filter((name) => /KEY|SECRET|TOKEN|PASSWORD|URL/.test(name));
    expect([...LIBRARY_SECRET_VARIABLES].sort()).toEqual(secretLooking.sort());
  });
});

describe('the adapters', () => {
  it('Fastify: the health route answers the summary; healthDetails decides per request who gets the details', async () => {
    const dir = tempDir();
    const { config } = testConfig(dir);
    for (const db of config.databases) writeRows(db.path, 'health', 1);
    const app = Fastify({ logger: false });
    onCleanup(() => app.close());
    await app.register(litestream, {
      config,
      healthRoute: '/healthz',
      healthDetails: (request) => request.headers['x-health-token'] === 'operator',
    });
    await app.litestream.replication?.ready;

    const summary = await app.inject('/healthz');
    expect(summary.statusCode).toBe(200);
    expect(summary.json()).toEqual({ state: 'running', healthy: true });
    expect(summary.body).not.toContain(dir);
    expect(summary.body).not.toContain(String(app.litestream.status().pid));

    const details = await app.inject({ url: '/healthz', headers: { 'x-health-token': 'operator' } });
    expect(details.statusCode).toBe(200);
    expect(details.json()).toMatchObject({ state: 'running', healthy: true, pid: app.litestream.status().pid });
    expect(details.body).toContain(path.join(dir, 'production.sqlite3'));
  });

  it('Express: the health handler answers the summary by default, the details with healthDetails', async () => {
    const dir = tempDir();
    const { config } = testConfig(dir);
    for (const db of config.databases) writeRows(db.path, 'health', 1);
    const integration = expressLitestream(config, { healthDetails: (request) => request.query.token === 'operator' });
    const app = express();
    app.get('/healthz', integration.health);
    const server: Server = await integration.listen(app, 0, '127.0.0.1');
    onCleanup(() => integration.close());
    await integration.litestream.replication?.ready;
    const base = `http://127.0.0.1:${(server.address() as { port: number }).port}/healthz`;

    const summary = await fetch(base);
    expect(summary.status).toBe(200);
    expect(await summary.json()).toEqual({ state: 'running', healthy: true });
    const details = await fetch(`${base}?token=operator`);
    expect(await details.text()).toContain(path.join(dir, 'production.sqlite3'));
  });
});
