// Scenario 16: a persistent disk that comes back stale. Instance A writes under load on its
// own disk; instance B (another disk) restores from the replica, writes more and stops; A
// boots again on its old disk. Its copy must never be replicated over B's writes — whether A
// stopped cleanly (its copy is behind) or was SIGKILLed with writes the replica never got
// (its copy diverged).
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../support/fixtures.js';
import {
  between,
  FULL,
  type LoadApp,
  launchApp,
  launchUnderLoad,
  restoreFresh,
  runFor,
  Scenario,
  trials,
} from './harness.js';

const TRIAL_TIMEOUT_MS = 90_000;

/** B: a new instance on its own disk that restores, writes under load, and stops cleanly. */
async function otherInstanceWrites(prefix: string): Promise<LoadApp> {
  const b = await launchUnderLoad(prefix);
  await runFor(between(1_000, 2_500));
  await b.terminate();
  return b;
}

/** A boots again on its old disk: the problems, if it did anything but refuse. */
async function staleBootRefused(prefix: string, dir: string): Promise<string[]> {
  const again = launchApp(prefix, { dir });
  const exited = await again.exited;
  const error = again.events.find((event) => event.event === 'error');
  const started = again.events.find((event) => event.event === 'ready' || event.event === 'spawn');
  return [
    ...(String(error?.message).includes('set LITESTREAM_ON_STALE to "restore"')
      ? []
      : [`the refusal does not name the variable to set: ${String(error?.message)}`]),
    ...(error?.name === 'StaleDatabaseError'
      ? []
      : [`the stale instance did not refuse with StaleDatabaseError: ${JSON.stringify(again.events)}`]),
    ...(started ? ['the stale instance started replicating'] : []),
    ...(exited.code === 1 ? [] : [`the stale instance exited ${JSON.stringify(exited)}`]),
  ];
}

describe('reliability: a stale disk comes back', () => {
  it(
    '16. A, then B, then A again on its old disk (A stopped cleanly, or was SIGKILLed under load): A is refused, every row B acknowledged stays the newest backup; with LITESTREAM_ON_STALE=restore A restores and goes on',
    async ({ task }) => {
      const scenario = new Scenario('16. Stale disk comes back (A, B, A again)', task);
      // npm test runs the SIGKILLed A only (a clean stop's A is test/stale-disk.test.ts's first case).
      for (let trial = 0; trial < trials(6, 1); trial++) {
        const crash = !FULL || trial % 2 === 1;
        const prefix = `stale-${randomUUID()}`;
        const dirA = tempDir();
        const a = await launchUnderLoad(prefix, { dir: dirA });
        await runFor(between(1_000, 2_500));
        if (crash) await a.killContainer();
        else await a.terminate();

        const b = await otherInstanceWrites(prefix);
        const afterB = await restoreFresh(prefix);
        const problems = [
          ...(afterB.maxId >= b.lastAcked() ? [] : [`B's rows up to ${b.lastAcked()} are not in the replica`]),
          ...(await staleBootRefused(prefix, dirA)),
        ];
        // Nothing A's refused boot did changed the replica.
        const afterRefusal = await restoreFresh(prefix);
        if (afterRefusal.maxId !== afterB.maxId || afterRefusal.integrity !== 'ok') {
          problems.push(`the replica changed after A's refused boot: ${afterB.maxId} → ${afterRefusal.maxId}`);
        }

        // The operator's fix: A sets its copy aside, restores B's state, and goes on.
        const a2 = await launchUnderLoad(prefix, { dir: dirA, env: { LITESTREAM_ON_STALE: 'restore' } });
        const restored = a2.events.find((event) => event.event === 'restored');
        expect(restored?.outcomes).toEqual(['restored']);
        await runFor(500);
        await a2.terminate();
        const final = await restoreFresh(prefix);
        if (final.maxId < a2.lastAcked() || a2.lastAcked() <= afterB.maxId) {
          problems.push(
            `A's writes after its restore (to ${a2.lastAcked()}) are not after B's (${afterB.maxId}) in the replica (${final.maxId})`,
          );
        }
        if (final.integrity !== 'ok') problems.push(`integrity_check: ${final.integrity}`);
        const kept = path.basename(a.database);
        scenario.row.notes = `A stopped cleanly in half the trials, SIGKILLed under load in the other half; the set-aside copy is kept beside ${kept}`;
        scenario.trial(problems, {
          windowMs: 0,
          lostAcknowledged: problems.some((p) => p.includes('not in the replica')),
        });
      }
    },
    trials(6, 1) * TRIAL_TIMEOUT_MS,
  );
});
