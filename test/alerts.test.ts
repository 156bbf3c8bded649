// Heartbeat and webhook alerts. The requests the Node process makes are tested with msw
// (answers, 5xx, timeouts, retries, no retry storms, nothing that blocks); one run drives
// them end to end from the real litestream to a local HTTP server.
import { createServer, type IncomingMessage } from 'node:http';
import { delay, HttpResponse, http } from 'msw';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type AlertPayload, HealthAlerts } from '../src/alerts/health-alerts.js';
import {
  configFromEnv,
  defineConfig,
  LitestreamConfigError,
  type ReplicationStatus,
  startReplication,
} from '../src/index.js';
import { captureLogger, onCleanup, tempDir, testConfig, track, waitFor, writeRows } from './support/fixtures.js';

const TOKEN = 'hc-0b6f3d2e-secret-token';
const HEARTBEAT = `https://hc-ping.example/${TOKEN}`;
const WEBHOOK = `https://alerts.example/hooks/${TOKEN}`;
const DB = '/data/app.sqlite3';

/** A status that a test turns healthy or not. */
function statusOf(state: { healthy: boolean; error?: string }): () => ReplicationStatus {
  return () => ({
    state: 'running',
    healthy: state.healthy,
    lastError: undefined,
    pid: 1,
    restarts: 0,
    startedAt: new Date(),
    databases: [
      {
        path: DB,
        initialized: true,
        synced: true,
        generation: undefined,
        txid: 1,
        lastSyncAt: new Date(),
        lastError: state.error ? { message: state.error, at: new Date() } : undefined,
        uploadingSince: undefined,
      },
    ],
    stalled: [],
    lease: { state: 'held', error: undefined },
  });
}

function settings(overrides: Partial<ConstructorParameters<typeof HealthAlerts>[0]> = {}) {
  const config = defineConfig({
    databases: [DB],
    replica: { type: 'file', path: '/tmp/never-used' },
    logger: false,
    alerts: {
      heartbeatUrl: HEARTBEAT,
      heartbeatIntervalMs: 1_000,
      webhookUrl: WEBHOOK,
      unhealthyAfterMs: 5_000,
      timeoutMs: 200,
    },
  });
  return { ...(config.alerts as NonNullable<typeof config.alerts>), ...overrides };
}

describe('HealthAlerts (requests mocked with msw)', () => {
  const server = setupServer();
  beforeAll(() => server.listen({ onUnhandledRequest: 'error' }));
  afterEach(() => server.resetHandlers());
  afterAll(() => server.close());

  /** Every request the handlers saw, in order. */
  function record(
    answer: (request: Request) => Promise<Response> | Response = () => new HttpResponse(null, { status: 200 }),
  ) {
    const seen: { method: string; url: string; body: AlertPayload | undefined }[] = [];
    const handle = async ({ request }: { request: Request }) => {
      seen.push({
        method: request.method,
        url: request.url,
        body: request.method === 'POST' ? ((await request.clone().json()) as AlertPayload) : undefined,
      });
      return answer(request);
    };
    server.use(http.get(HEARTBEAT, handle), http.post(WEBHOOK, handle));
    return seen;
  }

  function alertsWith(state: { healthy: boolean; error?: string }, overrides = {}) {
    let now = Date.parse('2026-12-03T12:00:00Z');
    const logger = captureLogger();
    const alerts = new HealthAlerts(settings(overrides), {
      status: statusOf(state),
      logger,
      now: () => now,
      retryDelaysMs: [10, 20],
      host: 'web-1',
    });
    onCleanup(() => alerts.stop());
    return { alerts, logger, advance: (ms: number) => (now += ms) };
  }

  it('pings the heartbeat every interval while healthy, and not while unhealthy', async () => {
    const seen = record();
    const state = { healthy: true };
    const { alerts, advance } = alertsWith(state);
    alerts.tick();
    await waitFor(() => seen.length === 1);
    advance(500);
    alerts.tick();
    advance(600);
    alerts.tick();
    await waitFor(() => seen.length === 2);
    state.healthy = false;
    advance(2_000);
    alerts.tick();
    await new Promise((resolve) => setImmediate(resolve));
    expect(seen.map((request) => request.method)).toEqual(['GET', 'GET']);
  });

  it('calls the webhook once after unhealthyAfterMs, with the database, the cause and since when, and once on recovery', async () => {
    const seen = record();
    const state = { healthy: false, error: 'monitor error: connection refused' };
    const { alerts, advance } = alertsWith(state, { heartbeatUrl: undefined });
    alerts.tick();
    advance(4_000);
    alerts.tick();
    expect(seen).toEqual([]);
    advance(1_000);
    alerts.tick();
    advance(10_000);
    alerts.tick();
    await waitFor(() => seen.length === 1);
    expect(seen[0]?.body).toEqual({
      event: 'unhealthy',
      since: '2026-12-03T12:00:00.000Z',
      at: '2026-12-03T12:00:05.000Z',
      host: 'web-1',
      causes: [{ database: DB, cause: 'monitor error: connection refused' }],
    });
    state.healthy = true;
    advance(1_000);
    alerts.tick();
    alerts.tick();
    await waitFor(() => seen.length === 2);
    expect(seen[1]?.body).toMatchObject({ event: 'recovered', since: '2026-12-03T12:00:00.000Z' });
    await alerts.stop();
    expect(seen).toHaveLength(2);
  });

  it('retries a webhook that answers 5xx twice, then gives up and logs the host only', async () => {
    const seen = record(() => new HttpResponse('boom', { status: 503 }));
    const { alerts, advance, logger } = alertsWith({ healthy: false }, { heartbeatUrl: undefined });
    alerts.tick();
    advance(5_000);
    alerts.tick();
    await waitFor(() => logger.text().includes('not delivered'));
    expect(seen).toHaveLength(3);
    expect(logger.text()).toContain('alerts.example');
    expect(logger.text()).toContain('503');
    expect(logger.text()).not.toContain(TOKEN);
  });

  it('gives a request up after timeoutMs; a heartbeat in flight skips the next instead of piling up', async () => {
    const seen = record(async () => {
      await delay('infinite');
      return new HttpResponse(null, { status: 200 });
    });
    const { alerts, advance, logger } = alertsWith({ healthy: true }, { webhookUrl: undefined });
    alerts.tick();
    await waitFor(() => seen.length === 1);
    for (let i = 0; i < 5; i++) {
      advance(1_000);
      alerts.tick();
    }
    expect(seen).toHaveLength(1);
    await waitFor(() => logger.text().includes('no answer within 200 ms'));
    expect(logger.text()).not.toContain(TOKEN);
    advance(1_000);
    alerts.tick();
    await waitFor(() => seen.length === 2);
  });

  it('never blocks the caller, and stop() ends what is in flight', async () => {
    const seen = record(async () => {
      await delay('infinite');
      return new HttpResponse(null, { status: 200 });
    });
    const { alerts, advance, logger } = alertsWith({ healthy: false }, { heartbeatUrl: undefined });
    alerts.tick();
    advance(5_000);
    // tick() returned while the webhook it called is never answered: it does not wait on it.
    alerts.tick();
    await waitFor(() => seen.length === 1);
    alerts.tick();
    expect(seen).toHaveLength(1);
    await alerts.stop();
    alerts.tick();
    expect(seen).toHaveLength(1);
    // Given up by stop(), not failed: nothing to warn about.
    expect(logger.text()).not.toContain('not delivered');
  });
});

describe('alert options', () => {
  it('take the URLs from the options or the environment, and never repeat a bad URL in the error', () => {
    const config = configFromEnv(
      {
        LITESTREAM_ENABLED: 'true',
        LITESTREAM_FILE_REPLICA: '/tmp/replica',
        LITESTREAM_HEARTBEAT_URL: HEARTBEAT,
        LITESTREAM_ALERT_WEBHOOK_URL: WEBHOOK,
        LITESTREAM_ALERT_AFTER: '90s',
      },
      { databases: [DB], logger: false },
    );
    expect(config.alerts?.heartbeatUrl?.reveal()).toBe(HEARTBEAT);
    expect(config.alerts?.unhealthyAfterMs).toBe(90_000);
    expect(String(config.alerts?.webhookUrl)).not.toContain(TOKEN);

    const bad = (() => {
      try {
        configFromEnv(
          {
            LITESTREAM_ENABLED: 'true',
            LITESTREAM_FILE_REPLICA: '/tmp/replica',
            LITESTREAM_HEARTBEAT_URL: `ftp://x/${TOKEN}`,
            LITESTREAM_ALERT_AFTER: 'soon',
          },
          { databases: [DB], logger: false },
        );
      } catch (error) {
        return error as LitestreamConfigError;
      }
      return undefined;
    })();
    expect(bad).toBeInstanceOf(LitestreamConfigError);
    expect(bad?.message).toMatch(/LITESTREAM_HEARTBEAT_URL.*http:\/\/ or https:\/\//);
    expect(bad?.message).toMatch(/LITESTREAM_ALERT_AFTER/);
    expect(bad?.message).not.toContain(TOKEN);
  });
});

describe('alerts end to end', () => {
  it('a real litestream: pings while healthy, the webhook when it is down for longer than unhealthyAfterMs, then recovered', async () => {
    const received: { method: string; url: string; body: string }[] = [];
    const receiver = createServer((request: IncomingMessage, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => {
        body += chunk.toString();
      });
      request.on('end', () => {
        received.push({ method: request.method ?? '', url: request.url ?? '', body });
        response.end('ok');
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    onCleanup(() => new Promise<void>((resolve) => receiver.close(() => resolve())));
    const base = `http://127.0.0.1:${(receiver.address() as { port: number }).port}`;

    const dir = tempDir();
    const { config } = testConfig(dir, {
      supervisor: { initialBackoffMs: 8_000, maxBackoffMs: 8_000, resetAfterMs: 60_000 },
      alerts: {
        heartbeatUrl: `${base}/ping/${TOKEN}`,
        heartbeatIntervalMs: 1_000,
        webhookUrl: `${base}/hook/${TOKEN}`,
        unhealthyAfterMs: 1_000,
      },
    });
    for (const db of config.databases) writeRows(db.path, 'alerts', 1);
    const replication = track(startReplication(config));
    await replication.ready;
    await waitFor(() => received.some((request) => request.url.startsWith('/ping/')), 10_000, 'a heartbeat');

    // litestream dies and stays down (a restart backoff of 8 s, at least 4 s with jitter) for longer than 1 s.
    process.kill(replication.status().pid as number, 'SIGKILL');
    await waitFor(() => received.some((request) => request.url.startsWith('/hook/')), 10_000, 'the unhealthy webhook');
    const unhealthy = JSON.parse(
      received.find((request) => request.url.startsWith('/hook/'))?.body ?? '{}',
    ) as AlertPayload;
    expect(unhealthy.event).toBe('unhealthy');
    expect(unhealthy.causes.map((cause) => cause.cause)).toContain('litestream is restarting');
    const pings = () => received.filter((request) => request.url.startsWith('/ping/')).length;
    const pingsWhenDown = pings();

    await waitFor(
      () => received.filter((request) => request.url.startsWith('/hook/')).length === 2,
      20_000,
      'the recovered webhook',
    );
    const recovered = JSON.parse(
      received.filter((request) => request.url.startsWith('/hook/'))[1]?.body ?? '{}',
    ) as AlertPayload;
    expect(recovered).toMatchObject({ event: 'recovered', since: unhealthy.since });
    // No ping while it was down (the tick that finds it healthy again pings before it reports the recovery).
    expect(pings() - pingsWhenDown).toBeLessThanOrEqual(1);
    await waitFor(() => pings() > pingsWhenDown + 1, 10_000, 'pings again');
    expect(JSON.stringify(received.map((request) => request.body))).not.toContain(
      config.credentials?.secretAccessKey.reveal() ?? 'no secret',
    );
    expect((await replication.stop()).clean).toBe(true);
  });
});
