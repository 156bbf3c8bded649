// Scenarios 4, 4b and 5: S3 goes away under load, and an app boots while S3 is away or
// with the wrong secret. In 4 and 5 a fault-injecting TCP proxy on loopback stands between
// litestream and the test S3 server; in 4b the server process itself is frozen or killed.
import { randomUUID } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { describe, it } from 'vitest';
import { tempDir, waitFor } from '../support/fixtures.js';
import { holdingProxy } from '../support/proxy.js';
import { startS3Server, testS3 } from '../support/s3-per-file.js';
import {
  type AppEvent,
  FULL,
  type LoadApp,
  launchApp,
  launchUnderLoad,
  runFor,
  Scenario,
  stopAndRestore,
  trials,
} from './harness.js';

const OUTAGE_MS = 15_000;
/**
 * npm test ends an outage once the app has shown what the scenario checks (status unhealthy,
 * and after a hung upload litestream restarted), but not before this; the full run holds every
 * outage `OUTAGE_MS`, for the table's figures.
 */
const SHORT_OUTAGE_MIN_MS = 5_000;
/** How long the outages last, for the scenarios' names. */
const OUTAGE_LABEL = FULL ? `${OUTAGE_MS / 1000} s` : `${SHORT_OUTAGE_MIN_MS / 1000}-${OUTAGE_MS / 1000} s`;

/** How a booting app finds S3 in scenario 5. */
const BOOT_FAULTS = ['refused', 'stalled', 'wrong secret'] as const;

/** The app's log without debug lines: what an operator would read. */
function appLog(app: LoadApp): string {
  return app
    .output()
    .split('\n')
    .filter((line) => line.startsWith('{"level":') && !line.startsWith('{"level":"debug"'))
    .slice(-40)
    .join('\n');
}

/**
 * Polls the app's status every 250 ms for `ms`; returns when it first reported unhealthy.
 * npm test returns sooner: once `SHORT_OUTAGE_MIN_MS` have passed, status has been unhealthy
 * and `seen()` holds.
 */
async function watchStatus(
  app: LoadApp,
  ms: number,
  seen: () => boolean = () => true,
): Promise<{ unhealthyAfterMs?: number; last?: AppEvent }> {
  const started = Date.now();
  const minMs = FULL ? ms : SHORT_OUTAGE_MIN_MS;
  let unhealthyAfterMs: number | undefined;
  let last: AppEvent | undefined;
  while (Date.now() - started < ms) {
    last = await app.status();
    if (last.healthy === false && unhealthyAfterMs === undefined) unhealthyAfterMs = Date.now() - started;
    if (Date.now() - started >= minMs && unhealthyAfterMs !== undefined && seen()) break;
    await runFor(Math.min(250, Math.max(0, ms - (Date.now() - started))));
  }
  return { unhealthyAfterMs, last };
}

/** The worst figures of each outage mode across trials, for the scenario's notes. */
class WorstPerMode {
  readonly #worst = new Map<string, { unhealthyMs: number; recoveredMs: number }>();

  record(mode: string, unhealthyAfterMs: number | undefined, recoveredMs: number): void {
    const seen = this.#worst.get(mode) ?? { unhealthyMs: 0, recoveredMs: 0 };
    this.#worst.set(mode, {
      unhealthyMs: Math.max(seen.unhealthyMs, unhealthyAfterMs ?? Number.POSITIVE_INFINITY),
      recoveredMs: Math.max(seen.recoveredMs, recoveredMs),
    });
  }

  /** `worst: drop unhealthy after … ms, healthy … ms after <back>; …` */
  describe(back: string): string {
    const modes = [...this.#worst].map(
      ([mode, ms]) => `${mode} unhealthy after ${ms.unhealthyMs} ms, healthy ${ms.recoveredMs} ms after ${back}`,
    );
    return `worst: ${modes.join('; ')}`;
  }
}

/**
 * Once an outage is over: a problem when the app's writes stalled with S3,
 * when its status stayed healthy throughout, or when it does not turn healthy again.
 * Resolves to how long it took to turn healthy.
 */
async function afterOutage(
  app: LoadApp,
  outage: { start: number; end: number; unhealthyAfterMs: number | undefined },
  what: string,
  problems: string[],
): Promise<number> {
  const acksDuring = app.acks.filter((ack) => ack.at >= outage.start && ack.at <= outage.end).length;
  if (outage.unhealthyAfterMs === undefined) problems.push(`status stayed healthy ${what}`);
  // A few hundred commits a second, as before the outage: the app did not stall with S3.
  const outageMs = outage.end - outage.start;
  if (acksDuring < (outageMs / 1000) * 50)
    problems.push(`only ${acksDuring} write batches during the ${outageMs} ms outage`);
  const backAt = Date.now();
  await waitFor(async () => (await app.status()).healthy === true, 60_000, 'healthy after the outage').catch(
    async (error: Error) => problems.push(`${error.message}: ${JSON.stringify(await app.status())}\n${appLog(app)}`),
  );
  return Date.now() - backAt;
}

describe('S3 outages', () => {
  it(
    '4. S3 outage under load: the app keeps serving, status turns unhealthy and back, nothing is lost',
    async ({ task }) => {
      const scenario = new Scenario(`4. S3 outage under load (${OUTAGE_LABEL} drop / stall / half-open)`, task);
      const worst = new WorstPerMode();
      // npm test runs the half-open link only: a refused and an unanswered replica are
      // scenario 4c's refused and timeout cases, under load too; the full run has all three.
      const modes = FULL ? (['drop', 'stall', 'half-open'] as const) : (['half-open'] as const);
      for (let trial = 0; trial < trials(9, 1); trial++) {
        const mode = modes[trial % modes.length] as 'drop' | 'stall' | 'half-open';
        const proxy = await holdingProxy(testS3().endpoint);
        const prefix = `outage-${randomUUID()}`;
        const app = await launchUnderLoad(prefix, {
          // A hung upload restarts litestream after 8 s here (2 minutes by default).
          env: { LITESTREAM_S3_ENDPOINT: proxy.endpoint, APP_STALL_RESTART_MS: '8000' },
        });
        await runFor(1_000);
        const problems: string[] = [];
        const before = await app.status();
        if (before.healthy !== true) problems.push(`unhealthy before the outage: ${JSON.stringify(before)}`);

        // drop: refused and reset; stall: accepted, unanswered, then answered again;
        // half-open: the open connections never answer again, new ones would.
        if (mode === 'drop') proxy.cut();
        else if (mode === 'stall') proxy.stall();
        else proxy.freezeOpen();
        const outageStart = Date.now();
        const restarted = () => app.events.some((e) => e.event === 'restart');
        const during = await watchStatus(app, OUTAGE_MS, mode === 'half-open' ? restarted : undefined);
        const outageEnd = Date.now();
        if (mode === 'drop') proxy.restore();
        if (mode === 'stall') proxy.release();
        if (mode === 'half-open' && !restarted()) {
          problems.push('litestream was not restarted after its upload hung');
        }
        const outage = { start: outageStart, end: outageEnd, unhealthyAfterMs: during.unhealthyAfterMs };
        const recoveredMs = await afterOutage(app, outage, `through the ${mode}`, problems);
        worst.record(mode, during.unhealthyAfterMs, recoveredMs);
        const end = await stopAndRestore(scenario, prefix, app);
        problems.push(...end.problems);
        scenario.row.notes = worst.describe('S3 is back');
        scenario.trial(problems, { windowMs: 0, lostAcknowledged: end.lost > 0 });
      }
    },
    trials(9, 1) * 120_000,
  );

  it(
    '4b. the S3 server itself frozen (SIGSTOP) or crashed and restarted on its data: nothing acknowledged is lost',
    async ({ task }) => {
      const scenario = new Scenario(`4b. S3 server process frozen ${OUTAGE_LABEL} / SIGKILLed and restarted`, task);
      const worst = new WorstPerMode();
      // The full run kills the server 20 times under load (uploads every second, so most
      // kills land mid-upload), and freezes it 4 times; npm test kills it once (a server that
      // accepts and never answers is scenario 4c's timeout case, under load too).
      const modes: ('frozen' | 'crashed')[] = FULL
        ? [...Array<'crashed'>(20).fill('crashed'), ...Array<'frozen'>(4).fill('frozen')]
        : ['crashed'];
      for (const mode of modes) {
        const server = await startS3Server();
        const prefix = `server-down-${randomUUID()}`;
        const onServer = { LITESTREAM_S3_ENDPOINT: server.endpoint };
        const app = await launchUnderLoad(prefix, { env: { ...onServer, APP_STALL_RESTART_MS: '8000' } });
        await runFor(1_000);
        const problems: string[] = [];
        if ((await app.status()).healthy !== true) problems.push('unhealthy before the outage');

        // frozen: every connection stays open and nothing answers (a hung server); crashed:
        // the process is gone (connections refused) until it starts again on the same data.
        const outageStart = Date.now();
        if (mode === 'frozen') server.pause();
        else await server.crash();
        const during = await watchStatus(app, OUTAGE_MS);
        const outageEnd = Date.now();
        if (mode === 'frozen') server.resume();
        else await server.restart();
        const outage = { start: outageStart, end: outageEnd, unhealthyAfterMs: during.unhealthyAfterMs };
        const recoveredMs = await afterOutage(app, outage, `while the server was ${mode}`, problems);
        worst.record(mode, during.unhealthyAfterMs, recoveredMs);
        const end = await stopAndRestore(scenario, prefix, app, [], onServer);
        problems.push(...end.problems);
        scenario.row.notes = `${server.label}; ${worst.describe('it is back')}`;
        scenario.trial(problems, { windowMs: 0, lostAcknowledged: end.lost > 0 });
      }
    },
    trials(24, 1) * 120_000,
  );

  it(
    '5. boot during an outage or with a wrong secret: a typed error in bounded time, no database file',
    async ({ task }) => {
      const scenario = new Scenario('5. Boot during outage / wrong secret', task);
      // A backup exists: a booting app must restore, and cannot.
      const prefix = `boot-${randomUUID()}`;
      const seeder = launchApp(prefix);
      await seeder.event('ready');
      await seeder.terminate();

      const wrongSecret = `wrong-${randomUUID()}-must-not-leak`;
      const retryForMs = 3_000;
      const stallMs = 3_000;
      const boundMs = retryForMs + stallMs + 10_000;
      const worst: Record<string, number> = {};
      const boot = async (variant: (typeof BOOT_FAULTS)[number]): Promise<string[]> => {
        const proxy = await holdingProxy(testS3().endpoint);
        if (variant === 'refused') proxy.cut();
        if (variant === 'stalled') proxy.stall();
        const dir = tempDir();
        const started = Date.now();
        const app = launchApp(prefix, {
          dir,
          env: {
            LITESTREAM_S3_ENDPOINT: proxy.endpoint,
            APP_RESTORE_RETRY_MS: String(retryForMs),
            APP_RESTORE_STALL_MS: String(stallMs),
            ...(variant === 'wrong secret' ? { LITESTREAM_SECRET_ACCESS_KEY: wrongSecret } : {}),
          },
        });
        const exit = await app.exited;
        const tookMs = Date.now() - started;
        worst[variant] = Math.max(worst[variant] ?? 0, tookMs);
        const error = app.events.find((e) => e.event === 'error');
        const left = readdirSync(dir);
        return [
          ...(exit.code === 1 ? [] : [`exit ${JSON.stringify(exit)}, expected code 1`]),
          ...(error?.name === 'ReplicaUnreachableError'
            ? []
            : [`expected ReplicaUnreachableError, got ${JSON.stringify(error ?? app.events)}`]),
          ...(tookMs <= boundMs ? [] : [`took ${tookMs} ms, bound ${boundMs} ms`]),
          ...(left.length === 0 ? [] : [`left behind in the database directory: ${left.join(', ')}`]),
          ...(app.events.some((e) => e.event === 'ready') ? ['the app started replicating anyway'] : []),
          ...scenario.checkSecrets({ 'app output': app.output() }),
          ...(app.output().includes(wrongSecret) ? ['the wrong secret appears in the app output'] : []),
        ];
      };
      const variants = Array.from({ length: trials(21, 3) }, (_, trial) => BOOT_FAULTS[trial % BOOT_FAULTS.length]);
      // npm test boots the three side by side (none of them can read the backup they share, nor
      // take its lease); the full run one after another, for the figures.
      const together = FULL ? 1 : BOOT_FAULTS.length;
      for (let start = 0; start < variants.length; start += together) {
        const batch = variants.slice(start, start + together) as (typeof BOOT_FAULTS)[number][];
        for (const outcome of await Promise.allSettled(batch.map(boot))) {
          if (outcome.status === 'rejected') throw outcome.reason;
          scenario.row.notes = Object.entries(worst)
            .map(([name, ms]) => `${name}: failed within ${ms} ms`)
            .join('; ');
          scenario.trial(outcome.value);
        }
      }
    },
    trials(21, 3) * 40_000 + 30_000,
  );
});
