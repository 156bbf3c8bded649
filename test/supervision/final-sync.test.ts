// The final sync on stop: SIGTERM once, wait for the log to show each database's last sync
// in the replica, SIGKILL at the deadline (or when litestream hangs), and run it again when
// another run may finish the job — fake child, fake clock, a fake tracker.
import { describe, expect, it } from 'vitest';
import { SupervisedProcess } from '../../src/supervision/core.js';
import { FinalSync, type FinalSyncTracker, type ShutdownFacts } from '../../src/supervision/final-sync.js';
import { FakeChild, FakeClock, recordingLogger } from './fakes.js';

const A = '/data/a.db';
const B = '/data/b.db';

/** Litestream 0.3.13: talks through its final sync, can hang on a signal during an upload. */
const V0_3: ShutdownFacts = {
  shutdown: { hangsOnSignalDuringUpload: true, silentWhileRetrying: false },
  exitCodeProvesFinalSync: true,
  finalSyncRetryWaitsForCatchUp: true,
};
/** Litestream 0.5: retries a slow replica silently, exits 0 whether or not its final sync landed. */
const V0_5: ShutdownFacts = {
  shutdown: { hangsOnSignalDuringUpload: false, silentWhileRetrying: true },
  exitCodeProvesFinalSync: false,
  finalSyncRetryWaitsForCatchUp: false,
};

/** What the log has shown, as the engine's tracker would tell it. */
class Log implements FinalSyncTracker {
  isShuttingDown = false;
  initialized = true;
  synced = true;
  uploading = false;
  readonly landed = new Set<string>();
  readonly openUploads = new Set<string>();
  finalSyncLanded = (db: string) => this.landed.has(db);
  hasOpenUpload = (db: string) => this.openUploads.has(db);
  allInitialized = () => this.initialized;
  allSynced = () => this.synced;
  writing = () => this.uploading;
}

function harness(engine: ShutdownFacts, onSpawn: (child: FakeChild, log: Log) => void) {
  const clock = new FakeClock();
  const logger = recordingLogger();
  const log = new Log();
  const children: FakeChild[] = [];
  const process: SupervisedProcess = new SupervisedProcess({
    clock,
    spawn: () => {
      const child = new FakeChild();
      children.push(child);
      log.landed.clear();
      onSpawn(child, log);
      return child;
    },
    onLine: () => {
      process.markSpoke();
      return true;
    },
    onExit: () => {},
  });
  const finalSync = new FinalSync({
    process,
    clock,
    logger,
    signal: new AbortController().signal,
    databases: [A, B],
    hasContent: () => true,
    tracker: () => log,
    engine: () => engine,
  });
  const start = () => {
    process.start();
    (children.at(-1) as FakeChild).print('{"level":"INFO","msg":"initialized db"}');
  };
  let respawns = 0;
  const run = (timeoutMs: number) =>
    finalSync.run({
      deadline: clock.now() + timeoutMs,
      timeoutMs,
      respawn: async () => {
        respawns++;
        start();
      },
      errorsThisRun: () => 0,
      paused: () => false,
    });
  return { clock, logger, log, children, finalSync, start, run, respawns: () => respawns };
}

/** On SIGTERM it logs each database's final sync in the replica and exits 0. */
function syncsAndExits(child: FakeChild, log: Log): void {
  child.onSignal = (self, signal) => {
    if (signal === 'SIGKILL') return self.exit(undefined, 'SIGKILL');
    for (const db of [A, B]) {
      log.landed.add(db);
      self.print(`{"level":"INFO","msg":"final sync","db":"${db}"}`);
    }
    self.exit(0);
  };
}

/** Ignores SIGTERM, says nothing more; only SIGKILL ends it. */
function ignoresSigterm(child: FakeChild): void {
  child.onSignal = (self, signal) => {
    if (signal === 'SIGKILL') self.exit(undefined, 'SIGKILL');
  };
}

describe('FinalSync', () => {
  it('completes: one SIGTERM, the log shows every final sync, litestream exits 0 — a clean stop', async () => {
    const { clock, log, children, finalSync, start, run, respawns } = harness(V0_3, syncsAndExits);
    start();
    const outcome = await run(30_000);
    expect(children[0]?.signals).toEqual(['SIGTERM']);
    expect(outcome).toEqual({ killed: false, hung: false, landed: true, exitCode: 0, signal: undefined });
    expect(finalSync.summarize(outcome, false)).toEqual({ clean: true, killed: false, errors: [] });
    expect(respawns()).toBe(0);
    expect(log.landed.size).toBe(2);
    expect(clock.pending).toBe(0);
  });

  it('waits to signal until litestream has opened every database (a SIGTERM before skips the final sync)', async () => {
    const { clock, log, children, start, run } = harness(V0_3, syncsAndExits);
    log.initialized = false;
    start();
    const stopping = run(30_000);
    await clock.advance(2_000);
    expect(children[0]?.signals).toEqual([]);
    log.initialized = true;
    children[0]?.print('{"level":"INFO","msg":"initialized db"}');
    expect((await stopping).landed).toBe(true);
    expect(children[0]?.signals).toEqual(['SIGTERM']);
  });

  it('times out: a litestream that never finishes is SIGKILLed at the deadline, and the stop says what is unconfirmed', async () => {
    const { clock, logger, children, finalSync, start, run, respawns } = harness(V0_5, ignoresSigterm);
    start();
    let outcome: Awaited<ReturnType<typeof run>> | undefined;
    const stopping = run(30_000).then((result) => {
      outcome = result;
    });
    // 0.5 retries a slow replica silently: silence is no hang, only the deadline ends it.
    await clock.advance(29_999);
    expect(children[0]?.signals).toEqual(['SIGTERM']);
    await clock.advance(1);
    await stopping;
    expect(children[0]?.signals).toEqual(['SIGTERM', 'SIGKILL']);
    expect(outcome).toEqual({ killed: true, hung: false, landed: false, exitCode: undefined, signal: 'SIGKILL' });
    // Out of time: no point running it again.
    expect(respawns()).toBe(0);
    expect(finalSync.summarize(outcome as NonNullable<typeof outcome>, false)).toEqual({
      clean: false,
      killed: true,
      errors: [`litestream was killed without its log showing the final sync of ${A}, ${B} in the replica`],
    });
    expect(logger.lines.map((line) => line.message)).toContain(
      'litestream did not finish its final sync in time; killing it',
    );
  });

  it('a litestream 0.3 gone silent is killed as hung and run again; the second run finishes the final sync', async () => {
    let runs = 0;
    const { clock, logger, children, finalSync, start, run, respawns } = harness(V0_3, (child, log) => {
      if (runs++ === 0) ignoresSigterm(child);
      else syncsAndExits(child, log);
    });
    start();
    let outcome: Awaited<ReturnType<typeof run>> | undefined;
    const stopping = run(40_000).then((result) => {
      outcome = result;
    });
    // Silent for a quarter of the timeout (10 s): hung.
    await clock.advance(9_999);
    expect(children[0]?.signals).toEqual(['SIGTERM']);
    await clock.advance(1);
    await stopping;
    expect(children[0]?.signals).toEqual(['SIGTERM', 'SIGKILL']);
    expect(respawns()).toBe(1);
    expect(children[1]?.signals).toEqual(['SIGTERM']);
    expect(outcome).toMatchObject({ killed: false, landed: true, exitCode: 0 });
    expect(finalSync.summarize(outcome as NonNullable<typeof outcome>, false).clean).toBe(true);
    expect(logger.lines.map((line) => line.message)).toEqual([
      'litestream hung during its final sync; killing it',
      'final sync failed; running litestream again to finish it',
    ]);
  });

  it('gives up after three runs, reporting the errors of every run', async () => {
    let runs = 0;
    let sync: FinalSync | undefined;
    const { finalSync, start, run, respawns, children } = harness(V0_3, (child) => {
      const thisRun = ++runs;
      child.onSignal = (self, signal) => {
        if (signal === 'SIGKILL') return self.exit(undefined, 'SIGKILL');
        // The error line it logs, as the supervisor notes it while stopping.
        sync?.noteError(`sync error (run ${thisRun})`);
        self.exit(1);
      };
    });
    sync = finalSync;
    start();
    const outcome = await run(30_000);
    expect(respawns()).toBe(2);
    expect(children.map((child) => child.signals)).toEqual([['SIGTERM'], ['SIGTERM'], ['SIGTERM']]);
    expect(outcome).toMatchObject({ killed: false, landed: false, exitCode: 1 });
    expect(finalSync.summarize(outcome, false)).toEqual({
      clean: false,
      killed: false,
      errors: ['sync error (run 1)', 'sync error (run 2)', 'sync error (run 3)'],
    });
  });

  it("litestream 0.3.13's deadlock after a final sync that landed: killed after 500 ms, and the stop is clean", async () => {
    const { clock, logger, children, finalSync, start, run } = harness(V0_3, (child, log) => {
      child.onSignal = (self, signal) => {
        if (signal === 'SIGKILL') return self.exit(undefined, 'SIGKILL');
        log.landed.add(A);
        log.landed.add(B);
        // The regular sync that started as the signal came never ends.
        log.openUploads.add(B);
        self.print('{"level":"INFO","msg":"final sync"}');
      };
    });
    start();
    let outcome: Awaited<ReturnType<typeof run>> | undefined;
    const stopping = run(60_000).then((result) => {
      outcome = result;
    });
    await clock.advance(499);
    expect(children[0]?.signals).toEqual(['SIGTERM']);
    await clock.advance(1);
    await stopping;
    expect(children[0]?.signals).toEqual(['SIGTERM', 'SIGKILL']);
    expect(outcome).toMatchObject({ killed: false, hung: false, landed: true });
    expect(finalSync.summarize(outcome as NonNullable<typeof outcome>, false)).toEqual({
      clean: true,
      killed: false,
      errors: [],
    });
    expect(logger.lines[0]?.message).toMatch(/hung after its final sync reached the replica/);
  });

  it("litestream 0.5's exit 0 proves nothing: without the log showing the final sync, the stop is not clean", async () => {
    const { finalSync, start, run } = harness(V0_5, (child) => {
      child.onSignal = (self) => self.exit(0);
    });
    start();
    const outcome = await run(30_000);
    expect(outcome).toMatchObject({ killed: false, landed: false, exitCode: 0 });
    expect(finalSync.summarize(outcome, false)).toEqual({
      clean: false,
      killed: false,
      errors: [`litestream exited 0 without its log showing the final sync of ${A}, ${B} in the replica`],
    });
  });
});
