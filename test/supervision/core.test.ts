// The supervision core: one child at a time, its output as lines, its exit once every line
// was read, and waits that wake on a change or at a deadline — with a fake child and clock.
import { describe, expect, it } from 'vitest';
import { type ChildExit, SupervisedProcess } from '../../src/supervision/core.js';
import { FakeChild, FakeClock, settle } from './fakes.js';

function harness(meaningful: (line: string) => boolean = () => true) {
  const clock = new FakeClock();
  const children: FakeChild[] = [];
  const lines: string[] = [];
  const exits: ChildExit[] = [];
  const core = new SupervisedProcess({
    clock,
    spawn: () => {
      const child = new FakeChild();
      children.push(child);
      return child;
    },
    onLine: (raw) => {
      lines.push(raw);
      return meaningful(raw);
    },
    onExit: (exit) => exits.push(exit),
  });
  return { clock, core, children, lines, exits };
}

describe('SupervisedProcess', () => {
  it('reads both streams line by line, and reports the exit only after the last line, with how long it ran', async () => {
    const { clock, core, children, lines, exits } = harness();
    expect(core.hasRun).toBe(false);
    core.start();
    const child = children[0] as FakeChild;
    expect(core.child).toBe(child);
    expect(core.hasRun).toBe(true);
    child.stdout.write('first li');
    child.stdout.write('ne\nsecond line\nno newline at the end');
    child.stderr.write('from stderr\n');
    await clock.advance(2_500);
    child.exit(1);
    await core.done;
    expect(lines).toEqual(['first line', 'second line', 'from stderr', 'no newline at the end']);
    expect(exits).toEqual([{ exitCode: 1, signal: undefined, ranForMs: 2_500 }]);
    expect(core.child).toBeUndefined();
  });

  it('tracks whether the child spoke and when it last printed; silence counts again from a reset', async () => {
    const { clock, core, children } = harness();
    core.start();
    expect(core.spoke).toBe(false);
    core.markSpoke();
    (children[0] as FakeChild).print('a line');
    await settle();
    const printedAt = clock.now();
    expect(core.lastOutputAt).toBe(printedAt);
    await clock.advance(1_000);
    core.resetSilence();
    expect(core.lastOutputAt).toBe(printedAt + 1_000);
    // A new child has not spoken yet.
    (children[0] as FakeChild).exit(0);
    await core.done;
    core.start();
    expect(core.spoke).toBe(false);
  });

  it('a wait wakes on a meaningful line, not on one that meant nothing, and otherwise at its deadline', async () => {
    const { clock, core, children } = harness((line) => line !== 'noise');
    core.start();
    const child = children[0] as FakeChild;
    let woke = false;
    const wait = core.nextChange(clock.now() + 10_000).then(() => {
      woke = true;
    });
    child.print('noise');
    await settle();
    expect(woke).toBe(false);
    child.print('news');
    await wait;
    expect(woke).toBe(true);

    woke = false;
    const timed = core.nextChange(clock.now() + 10_000).then(() => {
      woke = true;
    });
    await clock.advance(9_999);
    expect(woke).toBe(false);
    await clock.advance(1);
    await timed;
    expect(woke).toBe(true);
  });

  it('waitUntil ends when the condition holds, the child exits, the signal aborts, or the deadline passes', async () => {
    const { clock, core, children } = harness();
    const never = new AbortController().signal;
    core.start();
    let ready = false;
    const waiting = core.waitUntil(() => ready, clock.now() + 60_000, never);
    ready = true;
    (children[0] as FakeChild).print('the condition holds now');
    await waiting;

    const untilExit = core.waitUntil(() => false, clock.now() + 60_000, never);
    (children[0] as FakeChild).exit(0);
    await untilExit;

    core.start();
    const abort = new AbortController();
    const untilAbort = core.waitUntil(() => false, clock.now() + 60_000, abort.signal);
    abort.abort();
    core.wake();
    await untilAbort;

    const untilDeadline = core.waitUntil(() => false, clock.now() + 5_000, never);
    let over = false;
    void untilDeadline.then(() => {
      over = true;
    });
    await clock.advance(4_999);
    expect(over).toBe(false);
    await clock.advance(1);
    expect(over).toBe(true);
  });
});
