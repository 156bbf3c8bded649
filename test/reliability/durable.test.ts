// Durable writes: the app acknowledges a batch only once sync() confirmed it is in the
// replica; then the container is SIGKILLed (app and litestream) at a random moment, and a new
// container restores. Nothing acknowledged may be missing: not one row, whatever the moment.
import { randomUUID } from 'node:crypto';
import { describe, it } from 'vitest';
import { family } from '../support/litestream-version.js';
import { between, launchUnderLoad, restoreFresh, runFor, Scenario, trials } from './harness.js';

const TRIAL_TIMEOUT_MS = 60_000;
// On 0.5 a regular sync every 30 s: what reached the replica within a trial came from sync().
// 0.3 has no control socket and sync() waits for the regular sync: 1 s.
const SYNC_INTERVAL = family === '0.5' ? '30s' : '1s';

describe('durable writes', () => {
  it(
    '6. kill -9 right after sync() resolved: every row reported durable is restored',
    async ({ task }) => {
      const scenario = new Scenario('6. Durable writes (sync() then SIGKILL app + litestream)', task);
      let batches = 0;
      for (let trial = 0; trial < trials(20, 2); trial++) {
        const prefix = `durable-${randomUUID()}`;
        const env = { APP_DURABLE: '1', LITESTREAM_SYNC_INTERVAL: SYNC_INTERVAL };
        const app = await launchUnderLoad(prefix, { env });
        await runFor(between(300, 2_000));
        await app.killContainer();
        const durable = app.lastAcked();
        batches += app.acks.length;
        const restored = await restoreFresh(prefix, { LITESTREAM_SYNC_INTERVAL: SYNC_INTERVAL });
        const problems = [
          ...(restored.outcome === 'restored' ? [] : [`the new container's restore said ${restored.outcome}`]),
          ...(restored.integrity === 'ok' ? [] : [`integrity_check: ${restored.integrity}`]),
          ...(restored.maxId < durable
            ? [`rows ${restored.maxId + 1}–${durable} were reported durable and are not in the replica`]
            : []),
          ...scenario.checkSecrets({ 'app output': app.output(), 'restore log': restored.log }),
        ];
        scenario.row.notes = `sync interval ${SYNC_INTERVAL}; ${batches} durable batches acknowledged over the trials`;
        scenario.trial(problems, { windowMs: 0, lostAcknowledged: restored.maxId < durable });
      }
    },
    trials(20, 2) * TRIAL_TIMEOUT_MS,
  );
});
