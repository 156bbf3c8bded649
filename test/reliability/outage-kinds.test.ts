// Scenario 4c: an S3 outage of each kind, under load, looks like one within seconds: status
// turns unhealthy, `lastError` names what failed (refused, timeout, DNS, credentials, 5xx),
// the lease says the same, and once S3 is back replication turns healthy again with nothing
// lost. Scenario 4d: the alerts during an outage — the heartbeat stops, and the webhook's
// cause is the status's. Between litestream and the real S3 server stands a proxy made to
// fail (test/support/failing-proxy.ts); the DNS outage takes the endpoint's name out of the
// app's own /etc/hosts (a mount namespace of its own) and cuts the connections open.
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ReplicaLocation } from '../../src/config/replica-location.js';
import type { DatabaseConfig } from '../../src/config/types.js';
import { Litestream } from '../../src/index.js';
import { failureKindOfText } from '../../src/replica/failure-cause.js';
import { probeReplica } from '../../src/replica/probe.js';
import type { ReplicaFailure } from '../../src/replication/outage.js';
import { failingProxy, type ProxyFault } from '../support/failing-proxy.js';
import { onCleanup, s3Replica, tempDir, testConfig, track, waitFor, writeRows } from '../support/fixtures.js';
import { testS3 } from '../support/s3-per-file.js';
import {
  type AppEvent,
  FULL,
  type LoadApp,
  launchUnderLoad,
  Scenario,
  SYNC_INTERVAL_MS,
  stopAndRestore,
  trials,
} from './harness.js';

/** The target: unhealthy within two sync intervals, or 5 s if longer, of the first failed request. */
const TARGET_MS = Math.max(2 * SYNC_INTERVAL_MS, 5_000);
/** The normal suite only checks that it happens at all; the figures come from the reliability run. */
const GENEROUS_MS = 45_000;

type Kind = 'refused' | 'timeout' | 'dns' | 'credentials' | 'server-error';
const FAULTS: Record<Exclude<Kind, 'dns'>, ProxyFault> = {
  refused: 'refused',
  timeout: 'hang',
  credentials: 'credentials',
  'server-error': 'server-error',
};

/** The worst and the median time to unhealthy of a kind, across trials. */
function figures(times: readonly number[]): string {
  const sorted = [...times].sort((a, b) => a - b);
  const median = sorted[Math.floor((sorted.length - 1) / 2)] ?? 0;
  return `median ${median} ms, worst ${sorted.at(-1) ?? 0} ms over ${sorted.length}`;
}

/** Asks the app for its status until it says unhealthy; resolves to that status. */
function unhealthy(app: LoadApp, timeoutMs: number): Promise<AppEvent> {
  return waitFor(
    async () => {
      const status = await app.status();
      return status.healthy === false ? status : undefined;
    },
    timeoutMs,
    'status to turn unhealthy',
  );
}

/** What the status says about the outage, as problems when it is not `kind`, told consistently. */
function causeProblems(status: AppEvent, kind: Kind): string[] {
  const problems: string[] = [];
  const lastError = status.lastError as ReplicaFailure | undefined;
  if (lastError?.kind !== kind) problems.push(`lastError should name ${kind}: ${JSON.stringify(status)}`);
  const lease = status.lease as { state: string; error?: string };
  if (lease.error && failureKindOfText(lease.error) !== kind) {
    problems.push(`the lease's error names another cause than ${kind}: ${lease.error}`);
  }
  if (status.state === 'restarting' && status.restarts === 0) problems.push(`state restarting with 0 restarts`);
  return problems;
}

/** A copy of /etc/hosts with `name` on 127.0.0.1, and the command that runs the app with it as its /etc/hosts. */
function hostsWith(name: string): { wrap: string[]; remove(): void; restore(): void } {
  const file = path.join(tempDir(), 'hosts');
  const original = readFileSync('/etc/hosts', 'utf8');
  const restore = () => writeFileSync(file, `${original.trimEnd()}\n127.0.0.1 ${name}\n`);
  restore();
  return {
    // The app's own mount namespace, where the file is /etc/hosts (unprivileged: a user namespace).
    wrap: [
      'unshare',
      '--user',
      '--map-root-user',
      '--mount',
      'sh',
      '-c',
      'mount --bind "$0" /etc/hosts && exec "$@"',
      file,
    ],
    // In place: the bind mount follows the file, not its name.
    remove: () => writeFileSync(file, original),
    restore,
  };
}

describe('S3 outages of each kind', () => {
  for (const kind of ['refused', 'timeout', 'dns', 'credentials', 'server-error'] as const) {
    it(
      `4c. ${kind}: unhealthy within seconds, the cause named, healthy again after, nothing lost`,
      async ({ task }) => {
        const scenario = new Scenario(`4c. S3 outage: ${kind}`, task);
        const times: number[] = [];
        const causes = new Map<string, number>();
        // Every trial runs (the figures need them all); the test fails at the end if one did.
        const failed: string[] = [];
        for (let trial = 0; trial < trials(5, 1); trial++) {
          const proxy = await failingProxy(testS3().endpoint);
          const prefix = `outage-${kind}-${randomUUID()}`;
          // The DNS outage needs a name: one that resolves nowhere once out of the app's hosts file.
          const name = `s3-${randomUUID().slice(0, 8)}.lsnode.invalid`;
          const hosts = kind === 'dns' ? hostsWith(name) : undefined;
          const endpoint = hosts ? `http://${name}:${proxy.port}` : proxy.endpoint;
          const app = await launchUnderLoad(prefix, {
            env: { LITESTREAM_S3_ENDPOINT: endpoint, APP_STALL_RESTART_MS: '8000' },
            ...(hosts ? { wrap: hosts.wrap } : {}),
          });
          const problems: string[] = [];
          await waitFor(async () => (await app.status()).healthy === true, 20_000, 'healthy before the outage');

          const faultAt = Date.now();
          if (kind === 'dns') {
            hosts?.remove();
            proxy.dropConnections();
          } else await proxy.fail(FAULTS[kind]);
          const status = await unhealthy(app, GENEROUS_MS);
          const tookMs = Date.now() - faultAt;
          times.push(tookMs);
          problems.push(...causeProblems(status, kind));
          const failure = status.lastError as ReplicaFailure | undefined;
          const named = `${failure?.kind} (seen by ${failure?.source})`;
          causes.set(named, (causes.get(named) ?? 0) + 1);
          // The reliability run holds it to the target (DNS: after Go's 5 s cache of /etc/hosts).
          const bound = TARGET_MS + SYNC_INTERVAL_MS + (kind === 'dns' ? 5_000 : 0);
          if (FULL && tookMs > bound) problems.push(`unhealthy only after ${tookMs} ms (bound ${bound} ms)`);

          if (hosts) hosts.restore();
          else await proxy.heal();
          await waitFor(async () => (await app.status()).healthy === true, 60_000, 'healthy after the outage').catch(
            async (error: Error) => problems.push(`${error.message}: ${JSON.stringify(await app.status())}`),
          );
          const end = await stopAndRestore(scenario, prefix, app, [], { LITESTREAM_S3_ENDPOINT: proxy.endpoint });
          problems.push(...end.problems);
          const seen = [...causes].map(([cause, count]) => `${cause} ×${count}`).join(', ');
          scenario.row.notes = `unhealthy after the fault: ${figures(times)}; lastError.kind: ${seen}`;
          scenario.record(problems, { windowMs: 0, lostAcknowledged: end.lost > 0 });
          if (problems.length > 0) failed.push(`trial ${trial + 1}:\n${problems.join('\n')}`);
        }
        if (failed.length > 0) throw new Error(`"${scenario.row.scenario}":\n${failed.join('\n')}`);
      },
      trials(5, 1) * 150_000,
    );
  }
});

/** A local HTTP server that records what the heartbeat and the webhook receive. */
async function alertReceiver(): Promise<{
  url: string;
  pings: number[];
  payloads: { at: number; body: { event: string; causes: { database?: string; kind?: string; cause: string }[] } }[];
}> {
  const pings: number[] = [];
  const payloads: { at: number; body: never }[] = [];
  const server = createServer((request: IncomingMessage, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => {
      body += chunk.toString('utf8');
    });
    request.on('end', () => {
      if (request.url === '/ping') pings.push(Date.now());
      else payloads.push({ at: Date.now(), body: JSON.parse(body) as never });
      response.end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onCleanup(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, pings, payloads };
}

describe('alerts during an S3 outage', () => {
  it('4d. the heartbeat stops, the webhook names the cause status() names, failed syncs are counted', async ({
    task,
  }) => {
    const scenario = new Scenario('4d. Alerts during an S3 outage (refused)', task);
    const proxy = await failingProxy(testS3().endpoint);
    const receiver = await alertReceiver();
    const dir = tempDir();
    const { config } = testConfig(dir, {
      replica: s3Replica({ endpoint: proxy.endpoint }),
      alerts: {
        heartbeatUrl: `${receiver.url}/ping`,
        heartbeatIntervalMs: 200,
        webhookUrl: `${receiver.url}/hook`,
        unhealthyAfterMs: 1,
        timeoutMs: 2_000,
      },
    });
    for (const db of config.databases) writeRows(db.path, 'before', 3);
    const litestream = new Litestream(config);
    await litestream.ensureRestored();
    const replication = track(litestream.startReplication());
    await replication.ready;
    // Writes keep coming, so uploads are due during the outage.
    const writer = setInterval(() => writeRows(config.databases[0]?.path as string, 'during', 1), 100);
    onCleanup(() => clearInterval(writer));
    await waitFor(() => receiver.pings.length > 0, 10_000, 'a heartbeat while healthy');

    const faultAt = Date.now();
    await proxy.fail('refused');
    const unhealthyAlert = await waitFor(
      () => receiver.payloads.find((payload) => payload.body.event === 'unhealthy'),
      GENEROUS_MS,
      'the unhealthy webhook',
    );
    const status = litestream.status();
    const metrics = litestream.metrics();
    const healAt = Date.now();
    await proxy.heal();
    await waitFor(() => receiver.payloads.some((payload) => payload.body.event === 'recovered'), 60_000, 'recovered');
    clearInterval(writer);

    const [first] = unhealthyAlert.body.causes;
    const problems = [
      ...(first?.kind === 'refused'
        ? []
        : [`the webhook's first cause is not "refused": ${JSON.stringify(unhealthyAlert.body)}`]),
      ...(status.lastError?.kind === 'refused' ? [] : [`status().lastError: ${JSON.stringify(status.lastError)}`]),
      ...(first?.cause === status.lastError?.message ? [] : ['the webhook and status() name different causes']),
      ...unhealthyAlert.body.causes
        .filter((cause) => cause.cause.includes('lease') && failureKindOfText(cause.cause) !== 'refused')
        .map((cause) => `the lease names another cause: ${cause.cause}`),
      ...(status.state === 'restarting' && status.restarts === 0 ? ['state restarting with 0 restarts'] : []),
      // The heartbeat's last ping may have been in flight as status turned; none after that.
      ...receiver.pings
        .filter((at) => at > unhealthyAlert.at + 500 && at < healAt)
        .map((at) => `a heartbeat ${at - faultAt} ms into the outage`),
      ...(/litestream_node_sync_errors_total\{database="[^"]+"\} [1-9]/.test(metrics)
        ? []
        : [`no failed sync counted:\n${metrics}`]),
      ...(metrics.includes('litestream_node_replica_unreachable_info{kind="refused"} 1')
        ? []
        : ['no litestream_node_replica_unreachable_info{kind="refused"}']),
    ];
    // What a probe costs: one listing request, this long against the test server.
    const location = (config.databases[0] as DatabaseConfig).replicas[0] as ReplicaLocation;
    const probes: number[] = [];
    for (let probe = 0; probe < 20; probe++) {
      const outcome = await probeReplica(location, { timeoutMs: 2_500 });
      if (outcome.ok) probes.push(outcome.ms);
    }
    scenario.row.notes = `webhook ${unhealthyAlert.at - faultAt} ms after S3 went down (alert after 1 ms); heartbeat stopped; one probe (a listing): ${figures(probes)}`;
    await replication.stop();
    expect(replication.status().state).toBe('stopped');
    scenario.trial(problems);
  }, 120_000);
});
