// Scenario 15: the app's clock 10 minutes away from the S3 server's, either way (a proxy moves
// every time in the server's answers: listings, Date, Last-Modified). Replication, the boot
// restore and a crash's recovery do not read clocks; a point-in-time restore does, and it
// reads the replica's: a timestamp names the state the replica's clock saw then.
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { describe, it } from 'vitest';
import { configFromEnv, restore } from '../../src/index.js';
import { seedEnv, tempDir } from '../support/fixtures.js';
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
            () => readLoad(output).maxId,
            (error: Error) => error,
          );
        };
        // The replica's time for the app's moment: the state then, give or take a sync.
        const onReplicaClock = await restoreAt(pointAt + skew);
        const [low, high] = [ackedBy(app, pointAt - LOSS_BUDGET_MS), ackedBy(app, pointAt + LOSS_BUDGET_MS)];
        if (typeof onReplicaClock !== 'number')
          problems.push(`a restore at the replica's time failed: ${onReplicaClock.message}`);
        else if (onReplicaClock < low || onReplicaClock > high)
          problems.push(`a restore at the replica's time gave id ${onReplicaClock}, not between ${low} and ${high}`);
        // The app's own clock names another moment: with the server ahead, one before every
        // backup (refused); with it behind, one 10 minutes later (here, the latest state).
        const onAppClock = await restoreAt(pointAt);
        if (skew > 0 && !(onAppClock instanceof Error && /before the first backup/.test(onAppClock.message)))
          problems.push(`a restore at the app's time with the server ahead gave ${String(onAppClock)}`);
        if (skew < 0 && onAppClock !== end.restored.maxId)
          problems.push(
            `a restore at the app's time with the server behind gave ${String(onAppClock)}, not the latest state`,
          );
        scenario.row.notes =
          "replication, boot restore: unaffected; point in time: the replica's clock (ahead: the app's time is before the first backup; behind: it restores 10 min later)";
        scenario.trial(problems, { windowMs: 0, lostAcknowledged: end.lost > 0 });
      }
    },
    trials(4, 2) * 90_000,
  );
});
