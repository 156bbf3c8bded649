// The stall watchdog: an upload in flight too long makes the replica stalled (warned once);
// one that hangs gets litestream killed and restarted, with doubled patience after each
// kill that got nothing through — fake child, fake clock, a fake tracker's uploads.
import { describe, expect, it } from 'vitest';
import { SupervisedProcess } from '../../src/supervision/core.js';
import { RestartBackoff } from '../../src/supervision/restart-backoff.js';
import { StallWatchdog, type UploadKind } from '../../src/supervision/stall-watchdog.js';
import { FakeChild, FakeClock, recordingLogger } from './fakes.js';

const MiB = 1024 * 1024;

/** Uploads in flight, as a tracker sees them in litestream's log. */
class Uploads {
  readonly inFlight = new Map<string, { kind: UploadKind; since: number }>();
  readonly stalled = (allowedMs: (db: string, kind: UploadKind) => number, now: number): string[] =>
    [...this.inFlight].filter(([db, upload]) => now - upload.since >= allowedMs(db, upload.kind)).map(([db]) => db);
}

/** Core, restart backoff and watchdog wired as the Supervisor wires them. */
function supervised(sizes: Record<string, number> = {}) {
  const clock = new FakeClock();
  const logger = recordingLogger();
  const uploads = new Uploads();
  const children: FakeChild[] = [];
  const backoff = new RestartBackoff(
    { initialBackoffMs: 1_000, maxBackoffMs: 30_000, resetAfterMs: 60_000 },
    clock,
    () => 1 - Number.EPSILON,
  );
  let checks = 0;
  const core: SupervisedProcess = new SupervisedProcess({
    clock,
    spawn: () => {
      const child = new FakeChild();
      children.push(child);
      // A new litestream has no upload in flight yet.
      uploads.inFlight.clear();
      return child;
    },
    onLine: () => true,
    onExit: (exit) => backoff.schedule(exit.ranForMs, () => core.start()),
  });
  const watchdog = new StallWatchdog({
    clock,
    logger,
    stallMs: 5_000,
    restartStalledAfterMs: 20_000,
    stalled: uploads.stalled,
    sizeOf: (db) => sizes[db] ?? 0,
    running: () => core.child,
    onCheck: () => checks++,
  });
  core.start();
  watchdog.start();
  const startUpload = (db: string, kind: UploadKind = 'wal') => uploads.inFlight.set(db, { kind, since: clock.now() });
  const warnings = () => logger.lines.filter((line) => line.level === 'warn').length;
  const hangs = () =>
    logger.lines.filter((line) => line.message === 'replica upload hung; restarting litestream to reconnect');
  return { clock, uploads, children, watchdog, startUpload, warnings, hangs, checks: () => checks };
}

describe('StallWatchdog', () => {
  it('warns once about a stalled upload; a hung one gets the child killed and restarted, with doubled patience until an upload completes', async () => {
    const { clock, children, watchdog, startUpload, warnings, hangs } = supervised();
    startUpload('/data/a.db');
    await clock.advance(4_000);
    expect(watchdog.stalledNow()).toEqual([]);
    await clock.advance(1_000);
    expect(watchdog.stalledNow()).toEqual(['/data/a.db']);
    await clock.advance(10_000);
    expect(warnings()).toBe(1);
    expect(children).toHaveLength(1);

    // At 20 s the upload hangs: SIGKILL, and the restart policy starts a new child.
    await clock.advance(5_000);
    expect(children[0]?.signals).toEqual(['SIGKILL']);
    expect(hangs()).toHaveLength(1);
    await clock.advance(1_000);
    expect(children).toHaveLength(2);

    // The restarted child's upload hangs too: now it is given 40 s, not 20.
    startUpload('/data/a.db');
    await clock.advance(39_000);
    expect(children[1]?.signals).toEqual([]);
    await clock.advance(1_000);
    expect(children[1]?.signals).toEqual(['SIGKILL']);
    expect(hangs()[1]?.fields).toMatchObject({ databases: ['/data/a.db'], stalledForMs: 40_000 });
    await clock.advance(2_000);
    expect(children).toHaveLength(3);

    // An upload got through: the next hang is killed after 20 s again.
    watchdog.uploadCompleted();
    startUpload('/data/a.db');
    await clock.advance(20_000);
    expect(children[2]?.signals).toEqual(['SIGKILL']);
    // One warning per stall: the one after the restart warned again, once.
    expect(warnings()).toBe(3);
  });

  it('gives a snapshot the time sending its database at 1 MiB/s takes on top', async () => {
    const { clock, children, watchdog, startUpload } = supervised({ '/data/big.db': 10 * MiB });
    startUpload('/data/big.db', 'snapshot');
    await clock.advance(14_000);
    expect(watchdog.stalledNow()).toEqual([]);
    await clock.advance(1_000);
    expect(watchdog.stalledNow()).toEqual(['/data/big.db']);
    await clock.advance(14_000);
    expect(children[0]?.signals).toEqual([]);
    await clock.advance(1_000);
    expect(children[0]?.signals).toEqual(['SIGKILL']);
  });

  it('looks at nothing while no child runs, and stops looking when stopped', async () => {
    const { clock, children, watchdog, startUpload, checks } = supervised();
    await clock.advance(3_000);
    expect(checks()).toBe(3);
    (children[0] as FakeChild).exit(1);
    await clock.advance(500);
    // Between the crash and its restart (1 s), the watchdog has nothing to look at.
    expect(checks()).toBe(3);
    await clock.advance(2_000);
    watchdog.stop();
    startUpload('/data/a.db');
    await clock.advance(60_000);
    expect(children[1]?.signals).toEqual([]);
  });
});
