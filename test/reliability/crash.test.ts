// Scenarios 1–3: the app dies, stops, or loses its replicator while it commits hundreds of
// rows a second; a new container then restores from the replica.
import { randomUUID } from 'node:crypto';
import { describe, it } from 'vitest';
import { waitFor } from '../support/fixtures.js';
import {
  type Ack,
  between,
  LOSS_BUDGET_MS,
  launchUnderLoad,
  lossWindowMs,
  processEvidence,
  restoreFresh,
  runFor,
  Scenario,
  stopAndRestore,
  trials,
} from './harness.js';

const TRIAL_TIMEOUT_MS = 60_000;

/** The app's commit rate over its run. */
function commitsPerSecond(acks: readonly Ack[]): number {
  const first = acks[0];
  const last = acks.at(-1);
  if (!first || !last || last.at === first.at) return 0;
  return Math.round(((last.to - first.from + 1) * 1000) / (last.at - first.at));
}

describe('reliability under load', () => {
  it(
    '1. hard crash: every write acknowledged more than sync interval + 1 s before the kill survives',
    async ({ task }) => {
      const scenario = new Scenario('1. Hard crash (SIGKILL app + litestream)', task);
      let slowest = Number.POSITIVE_INFINITY;
      for (let trial = 0; trial < trials(20, 1); trial++) {
        const prefix = `crash-${randomUUID()}`;
        const app = await launchUnderLoad(prefix);
        await runFor(between(1_000, 4_000));
        const evidence = await processEvidence(app);
        const killedAt = await app.killContainer();
        const restored = await restoreFresh(prefix);
        const windowMs = lossWindowMs(app.acks, restored.maxId, killedAt);
        const problems = [
          ...(restored.outcome === 'restored' ? [] : [`the new container's restore said ${restored.outcome}`]),
          ...(restored.integrity === 'ok' ? [] : [`integrity_check: ${restored.integrity}`]),
          ...(windowMs > LOSS_BUDGET_MS
            ? [`lost writes acknowledged ${windowMs} ms before the kill (budget ${LOSS_BUDGET_MS} ms)`]
            : []),
          ...scenario.checkSecrets({ ...evidence, 'app output': app.output(), 'restore log': restored.log }),
        ];
        slowest = Math.min(slowest, commitsPerSecond(app.acks));
        scenario.row.notes = `nothing lost = no acknowledged write older than ${LOSS_BUDGET_MS} ms at the kill; load ≥ ${slowest} commits/s`;
        scenario.trial(problems, { windowMs, lostAcknowledged: windowMs > LOSS_BUDGET_MS });
      }
    },
    trials(20, 1) * TRIAL_TIMEOUT_MS,
  );

  it(
    '2. graceful stop: SIGTERM under load loses no acknowledged write',
    async ({ task }) => {
      const scenario = new Scenario('2. Graceful stop (SIGTERM)', task);
      for (let trial = 0; trial < trials(20, 1); trial++) {
        const prefix = `graceful-${randomUUID()}`;
        const app = await launchUnderLoad(prefix);
        await runFor(between(1_000, 4_000));
        const { problems, lost, restored, stoppedAt } = await stopAndRestore(scenario, prefix, app);
        const windowMs = lossWindowMs(app.acks, restored.maxId, stoppedAt);
        scenario.trial(problems, { windowMs, lostAcknowledged: lost > 0 });
      }
    },
    trials(20, 1) * TRIAL_TIMEOUT_MS,
  );

  // On Litestream 0.5 this found a hole (commits the app checkpointed while litestream was
  // down, skipped by the restarted litestream): scenario 3b and the WAL truncation before a
  // restart (Engine.resumeNeedsTruncatedWal).
  it(
    '3. replicator crash: a SIGKILLed litestream is restarted, the app never notices, nothing is lost',
    async ({ task }) => {
      const scenario = new Scenario('3. Replicator crash (SIGKILL litestream ×3)', task);
      for (let trial = 0; trial < trials(5, 1); trial++) {
        const prefix = `replicator-${randomUUID()}`;
        const app = await launchUnderLoad(prefix);
        const problems: string[] = [];
        for (let kill = 1; kill <= 3; kill++) {
          await runFor(between(500, 2_000));
          const victim = app.litestreamPids().at(-1) as number;
          process.kill(victim, 'SIGKILL');
          const acksAtKill = app.acks.length;
          await app.event('restart', 20_000, kill - 1);
          await app.event('spawn', 20_000, kill);
          // The app kept committing through the restart.
          await waitFor(() => app.acks.length > acksAtKill + 10, 10_000, 'writes to go on');
        }
        // The new litestream catches up: healthy again.
        const status = await waitFor(
          async () => {
            const s = await app.status();
            return s.healthy === true ? s : undefined;
          },
          30_000,
          'replication to be healthy after the restarts',
        );
        if (status.restarts !== 3) problems.push(`restarts = ${status.restarts}, expected 3`);
        if (status.writeErrors !== 0) problems.push(`the app saw ${status.writeErrors} failed writes`);
        const end = await stopAndRestore(scenario, prefix, app);
        problems.push(...end.problems);
        scenario.trial(problems, { windowMs: 0, lostAcknowledged: end.lost > 0 });
      }
    },
    trials(5, 1) * TRIAL_TIMEOUT_MS * 2,
  );
});
