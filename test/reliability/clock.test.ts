// Scenario 15: the app's clock 10 minutes away from the S3 server's, either way (a proxy moves
// every time in the server's answers: listings, Date, Last-Modified). Replication, the boot
// restore and a crash's recovery do not read clocks; a point-in-time restore does. 0.3 dates
// backups by the server's clock; 0.5.18 mixes its own (the time litestream writes into an
// object's metadata) with the server's (for objects without it), so that a time is off by up
// to the skew one way or the other. Either way what is restored is a consistent state.
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { describe, it } from 'vitest';
import { configFromEnv, restore } from '../../src/index.js';
import { seedEnv, tempDir } from '../support/fixtures.js';
import { family } from '../support/litestream-version.js';
import { skewedClockProxy } from '../support/proxy.js';
import { testS3 } from '../support/s3-per-file.js';
import {
  LOSS_BUDGET_MS,
  type LoadApp,
  launchUnderLoad,
  readLoad,
  runFor,
  Scenario,
  stopAndRestore,
  trials,
} from './harness.js';

const SKEW_MS = 10 * 60_000;

/** The last id acknowledged at or before `at` (0 when none). */
function ackedBy(app: LoadApp, at: number): number {
  return app.acks.filter((ack) => ack.at <= at).at(-1)?.to ?? 0;
}

describe('a skewed clock', () => {
  it(
    "15. the S3 server's clock 10 minutes ahead of the app's, or behind: replication and the boot restore behave; a point-in-time restore takes the replica's time",
    async ({ task }) => {
      const scenario = new Scenario('15. Clock 10 min off (S3 server ahead / behind the app)', task);
      const outcomes = new Map<string, string>();
      for (let trial = 0; trial < trials(4, 2); trial++) {
        const skew = trial % 2 === 0 ? SKEW_MS : -SKEW_MS;
        const proxy = await skewedClockProxy(testS3().endpoint, skew);
        const env = { LITESTREAM_S3_ENDPOINT: proxy.endpoint };
        const prefix = `clock-${randomUUID()}`;
        const app = await launchUnderLoad(prefix, { env });
        await runFor(2_500);
        const pointAt = Date.now();
        await runFor(2_500);
        const end = await stopAndRestore(scenario, prefix, app, [], env);
        const problems = [...end.problems];
        const config = configFromEnv(seedEnv(prefix, [path.join(tempDir(), 'app.sqlite3')], env), { logger: false });
        const database = config.databases[0]?.path as string;
        const restoreAt = async (at: number) => {
          const output = path.join(tempDir(), 'pitr.db');
          return restore(config, { database, output, timestamp: new Date(at) }).then(
            () => readLoad(output),
            (error: Error) => error,
          );
        };
        const onReplicaClock = await restoreAt(pointAt + skew);
        const onAppClock = await restoreAt(pointAt);
        for (const [clock, result] of [
          ['replica', onReplicaClock],
          ['app', onAppClock],
        ] as const) {
          // Whatever a time names, what is restored is a consistent state the app had.
          if (!(result instanceof Error) && result.integrity !== 'ok')
            problems.push(`a restore at the ${clock}'s time: integrity_check ${result.integrity}`);
          if (result instanceof Error && result.name !== 'RestoreError')
            problems.push(`a restore at the ${clock}'s time failed with ${result.name}: ${result.message}`);
        }
        const seen = (result: { maxId: number } | Error) =>
          result instanceof Error
            ? 'refused (before the first backup)'
            : result.maxId === end.restored.maxId
              ? 'the latest state'
              : `the state at id ${result.maxId}`;
        if (family === '0.3') {
          // 0.3 dates backups by the server's clock alone: the replica's time for the app's
          // moment is the state then, give or take a sync; the app's own time names another
          // moment (server ahead: before every backup; behind: 10 minutes later, here the latest).
          const [low, high] = [ackedBy(app, pointAt - LOSS_BUDGET_MS), ackedBy(app, pointAt + LOSS_BUDGET_MS)];
          if (onReplicaClock instanceof Error || onReplicaClock.maxId < low || onReplicaClock.maxId > high)
            problems.push(
              `a restore at the replica's time gave ${seen(onReplicaClock)}, not an id between ${low} and ${high}`,
            );
          if (skew > 0 && !(onAppClock instanceof Error && /before the first backup/.test(onAppClock.message)))
            problems.push(`a restore at the app's time with the server ahead gave ${seen(onAppClock)}`);
          if (skew < 0 && (onAppClock instanceof Error || onAppClock.maxId !== end.restored.maxId))
            problems.push(
              `a restore at the app's time with the server behind gave ${seen(onAppClock)}, not the latest state`,
            );
        }
        const side = skew > 0 ? 'ahead' : 'behind';
        outcomes.set(side, `replica's time → ${seen(onReplicaClock)}, app's time → ${seen(onAppClock)}`);
        scenario.row.notes = `replication, boot restore unaffected; point in time (app's moment 2.5 s into the load): ${[...outcomes].map(([k, v]) => `server ${k}: ${v}`).join('; ')}`;
        scenario.trial(problems, { windowMs: 0, lostAcknowledged: end.lost > 0 });
      }
    },
    trials(4, 2) * 90_000,
  );
});
