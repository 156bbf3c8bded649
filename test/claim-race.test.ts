// Two apps booting on one empty directory, their claims on the database forced into the
// order that once made both refuse (issue 36, seen in scenario 7 on Litestream 0.5): each app
// runs in its own process with the real library, its pidfile module wrapped so that every
// claim waits at a gate this test opens (test/support/claim-gates). No sleeps: each step
// waits for the gate or event that says the app got there.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { configFromEnv } from '../src/index.js';
import { companionFiles } from '../src/sqlite/database-files.js';
import {
  onCleanup,
  readIds,
  replicateOnce,
  replicatorsOf,
  seedEnv,
  tempDir,
  waitFor,
  writeRows,
} from './support/fixtures.js';

const GATES = fileURLToPath(new URL('./support/claim-gates/register.mjs', import.meta.url));
const APP = fileURLToPath(new URL('./support/claim-gates/app.mjs', import.meta.url));

interface Message {
  readonly gate?: string;
  readonly event?: string;
  readonly [field: string]: unknown;
}

/** An app process whose claims wait at gates: what it said, and a way to open each gate. */
function gatedApp(prefix: string, databases: readonly string[]) {
  const binary = process.env.LITESTREAM_BINARY_PATH;
  const child: ChildProcess = spawn(process.execPath, ['--import', GATES, APP], {
    env: {
      PATH: process.env.PATH,
      ...(binary ? { LITESTREAM_BINARY_PATH: binary } : {}),
      ...seedEnv(prefix, databases),
    },
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  const pid = child.pid as number;
  onCleanup(() => {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {}
  });
  const messages: Message[] = [];
  let stderr = '';
  child.on('message', (message: Message) => messages.push(message));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  let exited = false;
  child.once('exit', () => {
    exited = true;
  });
  const said = () =>
    [...messages.filter((m) => m.event !== 'log' || m.level !== 'debug').map((m) => JSON.stringify(m)), stderr].join(
      '\n',
    );
  /** The first message that matches, once it has come. */
  const next = (what: string, match: (m: Message) => boolean) =>
    waitFor(
      () => {
        const found = messages.find(match);
        if (found) return found;
        if (exited) throw new Error(`app ${pid} exited before ${what}; it said:\n${said()}`);
        return undefined;
      },
      30_000,
      `app ${pid}: ${what}`,
    ).catch((error: Error) => {
      throw new Error(`${error.message}; it said:\n${said()}`);
    });
  return {
    pid,
    next,
    /** Whether the app has said something that matches, by now. */
    seen: (match: (m: Message) => boolean) => messages.some(match),
    /** Resolves once the app waits at gate `name` (with what the gate reports). */
    atGate: (name: string) => next(`gate "${name}"`, (m) => m.gate === name),
    open: (name: string) => child.send({ open: name }),
    event: (name: string) => next(`event "${name}"`, (m) => m.event === name),
    logged: (msg: string) => next(`log "${msg}"`, (m) => m.event === 'log' && m.msg === msg),
    /** The app's `ready` or `error`, whichever it reports. */
    outcome: () => next('its outcome', (m) => m.event === 'ready' || m.event === 'error'),
    stop: async () => {
      child.kill('SIGTERM');
      return next('"stopped"', (m) => m.event === 'stopped');
    },
  };
}

describe('two apps booting on one empty directory', () => {
  it('the app refused while the other restores never gets a claim the restorer then sees: exactly one runs', async () => {
    const prefix = `claim-race-${randomUUID()}`;
    const seedFile = path.join(tempDir(), 'app.sqlite3');
    const ids = writeRows(seedFile, 'seed', 5);
    await replicateOnce(configFromEnv(seedEnv(prefix, [seedFile]), { logger: false }));

    const database = path.join(tempDir(), 'app.sqlite3');
    const first = gatedApp(prefix, [database]);
    // The first app claims the database and holds the replica lease while it restores; its
    // restore waits for the claim to be settled, so nothing is placed yet.
    first.open('claim app.sqlite3 1');
    await first.atGate('claimed app.sqlite3 1');
    await first.logged('replica lease taken');

    // The second app finds the database missing, and its claim waits. Its lease wait sees
    // the first app's claim: its boot is refused.
    const second = gatedApp(prefix, [database]);
    await second.atGate('claim app.sqlite3 1');
    const leaseCheck = await second.event('refuseIfClaimed');
    expect(leaseCheck.refused, JSON.stringify(leaseCheck)).toBe(true);

    // The first app restores, puts the database in place, and starts its replication,
    // whose claim waits.
    first.open('claimed app.sqlite3 1');
    await first.event('restored');
    await first.atGate('claim app.sqlite3 2');

    // The second app's restore claims the database now, after the first one's restore...
    second.open('claim app.sqlite3 1');
    await second.atGate('claimed app.sqlite3 1');
    // ... and the first app's replication claims it while that claim would stand.
    first.open('claim app.sqlite3 2');
    await first.atGate('claimed app.sqlite3 2');
    first.open('claimed app.sqlite3 2');
    second.open('claimed app.sqlite3 1');

    const outcomes = await Promise.all([first.outcome(), second.outcome()]);
    const context = JSON.stringify(outcomes);
    // The first app, which restored, replicates; the second is refused, naming the first.
    expect(outcomes[0]?.event, context).toBe('ready');
    expect(outcomes[1], context).toMatchObject({
      event: 'error',
      name: 'ReplicationError',
      message: expect.stringContaining(`in use by another running process (pid ${first.pid})`),
    });
    expect(replicatorsOf(database)).toEqual([outcomes[0]?.pid]);
    expect(readIds(database, 'seed')).toEqual(ids);

    const stopped = await first.stop();
    expect(stopped.clean, JSON.stringify(stopped)).toBe(true);
    // Nothing of either claim stays.
    expect(existsSync(companionFiles(database).pidfile)).toBe(false);
  });

  it('with two databases, the app that claims the first gets both: the other never claims the second', async () => {
    const prefix = `claim-race-${randomUUID()}`;
    const seedDir = tempDir();
    const seeds = ['a.sqlite3', 'b.sqlite3'].map((name) => path.join(seedDir, name));
    const ids = seeds.map((file) => writeRows(file, 'seed', 5));
    await replicateOnce(configFromEnv(seedEnv(prefix, seeds), { logger: false }));

    const dir = tempDir();
    const databases = ['a.sqlite3', 'b.sqlite3'].map((name) => path.join(dir, name));
    // The first app holds its claim on a.sqlite3 (nothing is placed while that claim waits)
    // and the replica leases of both.
    const first = gatedApp(prefix, databases);
    first.open('claim a.sqlite3 1');
    await first.atGate('claimed a.sqlite3 1');
    for (const file of databases) {
      await first.next(`the lease of ${file}`, (m) => m.msg === 'replica lease taken' && m.db === file);
    }
    // The second app finds both missing, and its claim on a.sqlite3 waits. Its lease wait
    // reports once it has looked at the pidfiles: a claim on b.sqlite3 made beside the one on
    // a.sqlite3 would have come before that.
    const second = gatedApp(prefix, databases);
    await second.atGate('claim a.sqlite3 1');
    await second.event('refuseIfClaimed');
    const claimedBeside = second.seen((m) => m.gate === 'claim b.sqlite3 1');
    if (claimedBeside) {
      // It claims b.sqlite3 ahead of the first app.
      second.open('claim b.sqlite3 1');
      await second.atGate('claimed b.sqlite3 1');
    }
    // Refused a.sqlite3; the first app then claims b.sqlite3 and restores both.
    second.open('claim a.sqlite3 1');
    const refused = await second.atGate('claimed a.sqlite3 1');
    expect(refused.refused, JSON.stringify(refused)).toBe(true);
    second.open('claimed a.sqlite3 1');
    // Its replication claims both again (its own claims).
    for (const gate of ['claimed a.sqlite3 1', 'claim b.sqlite3 1', 'claimed b.sqlite3 1']) first.open(gate);
    for (const name of ['a.sqlite3', 'b.sqlite3'])
      for (const gate of ['claim', 'claimed']) first.open(`${gate} ${name} 2`);
    second.open('claimed b.sqlite3 1');

    const outcomes = await Promise.all([first.outcome(), second.outcome()]);
    const context = JSON.stringify(outcomes);
    expect(outcomes[0]?.event, context).toBe('ready');
    expect(outcomes[1], context).toMatchObject({
      event: 'error',
      name: 'ReplicationError',
      message: expect.stringContaining(`in use by another running process (pid ${first.pid})`),
    });
    expect(claimedBeside, 'the second app claimed b.sqlite3 while its claim on a.sqlite3 was pending').toBe(false);
    expect(databases.map((file) => readIds(file, 'seed'))).toEqual(ids);
    const stopped = await first.stop();
    expect(stopped.clean, JSON.stringify(stopped)).toBe(true);
    for (const file of databases) expect(existsSync(companionFiles(file).pidfile)).toBe(false);
  });
});
