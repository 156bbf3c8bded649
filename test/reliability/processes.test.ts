// Scenarios 6 and 7: an app restarted on the same directory after a SIGKILL, and two apps
// booting on one empty directory at once. Never two replicators, never a torn restore.
import { randomUUID } from 'node:crypto';
import { describe, it } from 'vitest';
import { replicatorsOf, tempDir, waitFor } from '../support/fixtures.js';
import {
  type AppEvent,
  between,
  type LoadApp,
  launchApp,
  launchUnderLoad,
  processEvidence,
  readLoad,
  restoreFresh,
  runFor,
  Scenario,
  stopAndRestore,
  trials,
} from './harness.js';

/** Resolves to the app's `ready` event, or its `error` event once it has exited. */
async function outcome(app: LoadApp): Promise<AppEvent> {
  return Promise.race([
    app.event('ready', 60_000),
    app.exited.then(() => app.events.find((e) => e.event === 'error') ?? { event: 'exit without error' }),
  ]);
}

describe('processes', () => {
  it(
    '6. orphans: an app SIGKILLed and started again on its directory ends with exactly one replicator',
    async ({ task }) => {
      const scenario = new Scenario('6. Orphans (SIGKILL app, start again)', task);
      for (let trial = 0; trial < trials(10, 1); trial++) {
        const prefix = `orphans-${randomUUID()}`;
        const dir = tempDir();
        const first = await launchUnderLoad(prefix, { dir });
        await runFor(between(500, 2_000));
        // Only the app: its litestream is left behind, as after an OOM kill of the Node process.
        process.kill(first.pid, 'SIGKILL');
        await first.exited;
        const second = launchApp(prefix, { dir });
        const ready = await second.event('ready');
        const problems: string[] = [];
        await waitFor(() => replicatorsOf(second.database).length === 1, 10_000, 'one replicator').catch(() =>
          problems.push(`replicators with the database open: ${replicatorsOf(second.database).join(', ')}`),
        );
        const replicators = replicatorsOf(second.database);
        if (replicators[0] !== ready.pid)
          problems.push(`the replicator is ${replicators[0]}, not the new app's ${ready.pid}`);
        second.send('load');
        await runFor(1_000);
        const end = await stopAndRestore(scenario, prefix, second, [first]);
        problems.push(...end.problems);
        scenario.trial(problems, { windowMs: 0, lostAcknowledged: end.lost > 0 });
      }
    },
    trials(10, 1) * 60_000,
  );

  it(
    '7. restore races: two apps booting on one empty directory end with one intact database and one replicator',
    async ({ task }) => {
      const scenario = new Scenario('7. Restore race (two apps, one empty directory)', task);
      const prefix = `race-${randomUUID()}`;
      const seeder = await launchUnderLoad(prefix);
      await runFor(1_000);
      await seeder.terminate();
      const seeded = seeder.lastAcked();

      // How long the first app's boot took, up to replicating (the last trial's; a guess before).
      let bootMs = 3_000;
      // Where the second app's launch fell in the first's boot, and which app won: the notes.
      const landed = { duringRestore: 0, afterRestore: 0, firstWon: 0, secondWon: 0 };
      for (let trial = 0; trial < trials(10, 2); trial++) {
        const dir = tempDir();
        const launchedAt = Date.now();
        const first = launchApp(prefix, { dir });
        // The second a moment later, at a random point of the first's boot: inside its
        // restore, its placement, or the start of its replication (issue 36: each app once
        // saw the other's claim there, and both refused).
        const offset = between(0, bootMs);
        await runFor(offset);
        const apps = [first, launchApp(prefix, { dir })];
        const outcomes = await Promise.all(apps.map(outcome));
        const firstRestored = first.events.find((e) => e.event === 'restored')?.at;
        const restoredMs = typeof firstRestored === 'number' ? firstRestored - launchedAt : undefined;
        const timeline = `second app launched ${offset} ms after the first, which restored at ${restoredMs === undefined ? 'no point' : `${restoredMs} ms`}`;
        if (restoredMs !== undefined && offset >= restoredMs) landed.afterRestore++;
        else landed.duringRestore++;
        if (outcomes[0]?.event === 'ready') {
          bootMs = Date.now() - launchedAt;
          landed.firstWon++;
        } else if (outcomes[1]?.event === 'ready') landed.secondWon++;
        scenario.row.notes = `second app launched 0 to the first's boot time later: during its restore ${landed.duringRestore}×, after it ${landed.afterRestore}×; won by the first ${landed.firstWon}×, the second ${landed.secondWon}×`;
        const problems: string[] = [];
        const winners = apps.filter((_, i) => outcomes[i]?.event === 'ready');
        const losers = outcomes.filter((o) => o.event !== 'ready');
        if (winners.length !== 1)
          problems.push(`${winners.length} apps started (${timeline}): ${JSON.stringify(outcomes)}`);
        for (const loser of losers) {
          if (loser.name !== 'ReplicationError') problems.push(`the other app failed with ${JSON.stringify(loser)}`);
        }
        const winner = winners[0];
        if (winner) {
          const replicators = replicatorsOf(winner.database);
          if (replicators.length !== 1) problems.push(`replicators: ${replicators.join(', ') || 'none'}`);
          winner.send('load');
          await waitFor(() => winner.acks.length > 20, 10_000, 'the winner to write');
          const evidence = await processEvidence(winner);
          const stopped = await winner.terminate();
          if (stopped.clean !== true) problems.push(`stop() was not clean: ${JSON.stringify(stopped)}`);
          problems.push(...scenario.checkSecrets(evidence));
        }
        // What the directory holds now: the restored rows, intact (read as a new container would).
        const restored = await restoreFresh(prefix);
        if (restored.integrity !== 'ok') problems.push(`integrity_check: ${restored.integrity}`);
        const acknowledged = Math.max(seeded, winner?.lastAcked() ?? 0);
        if (restored.maxId < acknowledged)
          problems.push(`restored up to id ${restored.maxId}, acknowledged up to ${acknowledged}`);
        const local = readLoad(apps[0]?.database as string);
        if (local.integrity !== 'ok') problems.push(`the local database: integrity_check ${local.integrity}`);
        if (local.maxId < acknowledged)
          problems.push(`the local database has ids up to ${local.maxId}, acknowledged up to ${acknowledged}`);
        problems.push(
          ...scenario.checkSecrets(Object.fromEntries(apps.map((app, i) => [`app ${i} output`, app.output()]))),
        );
        scenario.trial(problems, {
          windowMs: 0,
          lostAcknowledged: Math.min(local.maxId, restored.maxId) < acknowledged,
        });
      }
    },
    trials(10, 2) * 60_000 + 30_000,
  );
});
