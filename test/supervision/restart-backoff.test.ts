// Restart with backoff: each quick crash doubles the delay up to the ceiling, a healthy run
// starts the sequence over, and a cancelled restart never runs — fake child, fake clock.
import { describe, expect, it } from 'vitest';
import { type ChildExit, SupervisedProcess } from '../../src/supervision/core.js';
import { type BackoffSettings, RestartBackoff } from '../../src/supervision/restart-backoff.js';
import { FakeChild, FakeClock } from './fakes.js';

const SETTINGS: BackoffSettings = { initialBackoffMs: 1_000, maxBackoffMs: 8_000, resetAfterMs: 60_000 };
/** The top of the jitter range: each delay is its ceiling. */
const TOP = () => 1 - Number.EPSILON;

/** A core whose crashed child is restarted by the backoff, wired as the Supervisor wires it. */
function supervised(random: () => number = TOP) {
  const clock = new FakeClock();
  const spawnedAt: number[] = [];
  const children: FakeChild[] = [];
  const delays: number[] = [];
  const backoff = new RestartBackoff(SETTINGS, clock, random);
  const core: SupervisedProcess = new SupervisedProcess({
    clock,
    spawn: () => {
      spawnedAt.push(clock.now());
      const child = new FakeChild();
      children.push(child);
      return child;
    },
    onLine: () => true,
    onExit: (exit: ChildExit) => {
      delays.push(backoff.schedule(exit.ranForMs, () => core.start()));
    },
  });
  /** The current child runs `ms`, then crashes; resolves once its restart is scheduled. */
  const crashAfter = async (ms: number) => {
    await clock.advance(ms);
    (children.at(-1) as FakeChild).exit(1);
    await core.done;
  };
  return { clock, core, backoff, spawnedAt, children, delays, crashAfter };
}

describe('RestartBackoff', () => {
  it('doubles the delay with each quick crash up to the ceiling, and a healthy run starts it over', async () => {
    const { clock, core, backoff, spawnedAt, delays, crashAfter } = supervised();
    core.start();
    for (let crash = 0; crash < 5; crash++) {
      await crashAfter(100);
      const delay = delays.at(-1) as number;
      // Not a moment before its delay.
      await clock.advance(delay - 1);
      expect(spawnedAt).toHaveLength(crash + 1);
      await clock.advance(1);
      expect(spawnedAt).toHaveLength(crash + 2);
      expect((spawnedAt.at(-1) as number) - (spawnedAt.at(-2) as number)).toBe(100 + delay);
    }
    expect(delays).toEqual([1_000, 2_000, 4_000, 8_000, 8_000]);
    // A run of resetAfterMs was healthy: its crash is restarted after the first delay again.
    await crashAfter(60_000);
    expect(delays.at(-1)).toBe(1_000);
    await clock.advance(1_000);
    // And the next quick crash goes on from there.
    await crashAfter(100);
    expect(delays.slice(-2)).toEqual([1_000, 2_000]);
    expect(backoff.restarts).toBe(7);
  });

  it('spreads each delay over the upper half of its ceiling', () => {
    const clock = new FakeClock();
    const low = new RestartBackoff(SETTINGS, clock, () => 0);
    expect([low.schedule(0, () => {}), low.schedule(0, () => {}), low.schedule(0, () => {})]).toEqual([
      500, 1_000, 2_000,
    ]);
    const mid = new RestartBackoff(SETTINGS, clock, () => 0.5);
    expect(mid.schedule(0, () => {})).toBe(750);
  });

  it('a cancelled restart never runs; a new schedule replaces the one before', async () => {
    const clock = new FakeClock();
    const backoff = new RestartBackoff(SETTINGS, clock, TOP);
    const ran: string[] = [];
    backoff.schedule(0, () => ran.push('cancelled'));
    expect(backoff.pending).toBe(true);
    backoff.cancel();
    expect(backoff.pending).toBe(false);
    backoff.schedule(0, () => ran.push('replaced'));
    backoff.schedule(0, () => ran.push('last'));
    await clock.advance(60_000);
    expect(ran).toEqual(['last']);
    expect(backoff.pending).toBe(false);
    expect(clock.pending).toBe(0);
  });
});
