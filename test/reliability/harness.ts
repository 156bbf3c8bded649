// The reliability suite's parts: an app under load in its own process, a "new container"
// restore, loss accounting, secret scans, and the results table rows.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { execa } from 'execa';
import { configFromEnv, Litestream } from '../../src/index.js';
import {
  captureLogger,
  integrity,
  onCleanup,
  processAlive,
  replicateOnce,
  seedEnv,
  tempDir,
  waitFor,
} from '../support/fixtures.js';
import { family } from '../support/litestream-version.js';
import { testS3 } from '../support/s3-per-file.js';

/** `npm run reliability` sets RELIABILITY=full: many trials. The normal test run does a few. */
export const FULL = process.env.RELIABILITY === 'full';

/**
 * Trials for a scenario: `full` under `npm run reliability`, `short` in the normal suite;
 * `RELIABILITY_TRIALS=N` runs N instead (to loop a racy scenario: pick it with `-t`).
 */
export function trials(full: number, short: number): number {
  const override = Number(process.env.RELIABILITY_TRIALS);
  if (Number.isInteger(override) && override > 0) return override;
  return FULL ? full : short;
}

/** The apps replicate with this sync interval. */
export const SYNC_INTERVAL_MS = 1_000;

/** How old an acknowledged write may be and still be lost in a hard crash: sync interval + 1 s. */
export const LOSS_BUDGET_MS = SYNC_INTERVAL_MS + 1_000;

const LOAD_APP = fileURLToPath(new URL('../support/load-app.mjs', import.meta.url));
const DATABASE = 'app.sqlite3';

/** A committed id range the app reported, stamped with its commit time. */
export interface Ack {
  readonly from: number;
  readonly to: number;
  readonly at: number;
}

export interface AppEvent {
  readonly event: string;
  readonly [field: string]: unknown;
}

/** One app process: its events, acknowledged ids, output, and ways to end it. */
export interface LoadApp {
  readonly pid: number;
  readonly database: string;
  readonly events: AppEvent[];
  readonly acks: Ack[];
  /** Everything the app printed (stdout and stderr): searched for secrets. */
  output(): string;
  /** Waits for the first event named `name` after the first `skip` such events. */
  event(name: string, timeoutMs?: number, skip?: number): Promise<AppEvent>;
  send(command: string): void;
  /** The replication status, asked of the app now. */
  status(): Promise<AppEvent>;
  /** The highest acknowledged id (0 when none). */
  lastAcked(): number;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The litestream pids this app has spawned. */
  litestreamPids(): number[];
  /** SIGKILLs the app and its litestream at once, as a dying container would; waits for both. */
  killContainer(): Promise<number>;
  /** SIGTERM (the app's shutdown path); resolves to its `stopped` event. */
  terminate(timeoutMs?: number): Promise<AppEvent>;
}

export interface LaunchOptions {
  /** Directory of the app's database; a fresh one by default. */
  dir?: string;
  /** Environment on top of the seed's variables for the test server. */
  env?: Record<string, string>;
  /** A command the app runs under, e.g. `unshare` for a container of its own. */
  wrap?: readonly string[];
}

/** Starts the load app in its own process group; it is killed after the test whatever happens. */
export function launchApp(prefix: string, options: LaunchOptions = {}): LoadApp {
  const dir = options.dir ?? tempDir();
  const database = path.join(dir, DATABASE);
  const [command = process.execPath, ...args] = [...(options.wrap ?? []), process.execPath, LOAD_APP];
  const binary = process.env.LITESTREAM_BINARY_PATH;
  const child: ChildProcess = spawn(command, args, {
    env: {
      PATH: process.env.PATH,
      // The Litestream under test (the 0.5 project's), as the app's own resolver finds it.
      ...(binary ? { LITESTREAM_BINARY_PATH: binary } : {}),
      ...seedEnv(prefix, [database]),
      ...options.env,
    },
    stdio: ['pipe', 'pipe', 'pipe'],
    // Its own process group, so a "container crash" can kill the app and litestream together.
    detached: true,
  });
  const pid = child.pid as number;
  const killGroup = () => {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {}
  };
  onCleanup(killGroup);
  const events: AppEvent[] = [];
  const acks: Ack[] = [];
  const litestream: number[] = [];
  let stdout = '';
  let stderr = '';
  let pending = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    pending += chunk;
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      const event = JSON.parse(line) as AppEvent;
      if (event.event === 'acked') acks.push(event as unknown as Ack);
      else events.push(event);
      if ((event.event === 'spawn' || event.event === 'ready') && typeof event.pid === 'number') {
        if (!litestream.includes(event.pid)) litestream.push(event.pid);
      }
    }
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );

  // What went wrong, without the per-batch acknowledgements and debug lines.
  const describeRun = () =>
    [
      ...events.map((e) => JSON.stringify(e)),
      `(${acks.length} batches acknowledged, last id ${acks.at(-1)?.to ?? 0})`,
      ...stderr.split('\n').filter((line) => line !== '' && !line.startsWith('{"level":"debug"')),
    ]
      .join('\n')
      .slice(-8000);
  const event = async (name: string, timeoutMs = 30_000, skip = 0) => {
    let ended: string | undefined;
    void exited.then(({ code, signal }) => {
      ended = `code ${code}, signal ${signal}`;
    });
    return waitFor(
      () => {
        const found = events.filter((e) => e.event === name)[skip];
        if (found) return found;
        if (ended) throw new Error(`the app exited (${ended}) before "${name}"; it said:\n${describeRun()}`);
        return undefined;
      },
      timeoutMs,
      `the app's "${name}" event`,
    );
  };
  const send = (command: string) => child.stdin?.write(`${command}\n`);

  return {
    pid,
    database,
    events,
    acks,
    output: () => stdout + stderr,
    event,
    send,
    status: async () => {
      const seen = events.filter((e) => e.event === 'status').length;
      send('status');
      return event('status', 10_000, seen);
    },
    lastAcked: () => acks.at(-1)?.to ?? 0,
    exited,
    litestreamPids: () => [...litestream],
    killContainer: async () => {
      const at = Date.now();
      killGroup();
      await exited;
      await waitFor(() => litestream.every((p) => !processAlive(p)), 10_000, 'litestream to die with its container');
      return at;
    },
    terminate: async (timeoutMs = 60_000) => {
      child.kill('SIGTERM');
      const stopped = await event('stopped', timeoutMs);
      await exited;
      return stopped;
    },
  };
}

/** What a "new container" restored from the replica. */
export interface Restored {
  readonly outcome: string;
  /** Highest id; the ids are checked to be exactly 1..max. */
  readonly maxId: number;
  readonly integrity: string;
  readonly log: string;
  /** The restored database, when one was restored. */
  readonly file?: string;
}

/** Boots a new container: ensureRestored into an empty directory, then reads what came back. */
export async function restoreFresh(prefix: string, env: Record<string, string> = {}): Promise<Restored> {
  const file = path.join(tempDir(), DATABASE);
  const logger = captureLogger();
  const container = new Litestream(configFromEnv(seedEnv(prefix, [file], env), { logger }));
  // It only looks: the replica lease it took is given back at once.
  const [result] = await container.ensureRestored().finally(() => container.stop());
  if (result?.outcome !== 'restored') return { outcome: String(result?.outcome), maxId: 0, integrity: 'n/a', log: '' };
  return { outcome: result.outcome, ...readLoad(file), log: logger.text(), file };
}

/**
 * The load app's rows in `file`: the highest id, checked to be exactly 1..max (rows are
 * committed in id order, so what survives must be a prefix, with no holes), and the
 * integrity check's verdict. A hole makes the verdict say so, and only the ids before it
 * count.
 */
export function readLoad(file: string): { maxId: number; integrity: string } {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const { count, max } = db.prepare('SELECT count(*) AS count, max(id) AS max FROM items').get() as {
      count: number;
      max: number | null;
    };
    const verdict = integrity(file);
    if (count === (max ?? 0)) return { maxId: max ?? 0, integrity: verdict };
    // A hole: only the ids before it count as restored, and the verdict says what is missing.
    const { end } = db
      .prepare('SELECT min(id) AS end FROM items WHERE id + 1 NOT IN (SELECT id FROM items) AND id < ?')
      .get(max) as { end: number };
    return {
      maxId: end,
      integrity: `${verdict}, but a hole: ${(max ?? 0) - count} ids missing after id ${end} (${count} rows, highest id ${max})`,
    };
  } finally {
    db.close();
  }
}

/**
 * How long before the kill the oldest lost acknowledged write was committed (0 when none
 * was lost): the window of acknowledged writes a crash cost.
 */
export function lossWindowMs(acks: readonly Ack[], restoredMax: number, killedAt: number): number {
  const firstLost = acks.find((ack) => ack.to > restoredMax);
  return firstLost ? Math.max(0, killedAt - firstLost.at) : 0;
}

/** The test server's secret: must appear nowhere but the litestream child's environment. */
export function secret(): string {
  return testS3().secretAccessKey;
}

/** Texts that must not hold the secret, with where each came from. */
export type Evidence = Record<string, string>;

/**
 * Everything a user or an attacker with `ps` could see while an app runs: every process's
 * command line, and the litestream.yml each live litestream was given.
 */
export async function processEvidence(app: LoadApp): Promise<Evidence> {
  const evidence: Evidence = { 'ps -eo args': (await execa('ps', ['-eo', 'args'])).stdout };
  for (const pid of app.litestreamPids()) {
    try {
      const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      evidence[`cmdline of litestream ${pid}`] = args.join(' ');
      const config = args[args.indexOf('-config') + 1];
      if (config) evidence[`litestream.yml of ${pid}`] = readFileSync(config, 'utf8');
    } catch {
      // That litestream has exited.
    }
  }
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (cmdline.includes(secret())) evidence[`/proc/${entry}/cmdline`] = cmdline;
    } catch {}
  }
  return evidence;
}

/** The places of `evidence` that contain the secret (none, for a pass). */
export function leaks(evidence: Evidence): string[] {
  return Object.entries(evidence)
    .filter(([, text]) => text.includes(secret()))
    .map(([where]) => where);
}

/** One row of the reliability table. */
export interface ScenarioRow {
  scenario: string;
  trials: number;
  passed: number;
  /** Worst loss window in ms, for scenarios that can lose writes. */
  worstLossMs?: number;
  /** Every trial ended with every acknowledged write in the replica (undefined: not applicable). */
  nothingLost?: boolean;
  /** Texts and process lists searched for the secret, and how many were clean. */
  secretChecks: number;
  secretLeaks: number;
  notes?: string;
}

declare module 'vitest' {
  interface TaskMeta {
    reliability?: ScenarioRow;
  }
}

/** Counts a scenario's trials and secret checks into its table row. */
export class Scenario {
  readonly row: ScenarioRow;

  constructor(scenario: string, task: { meta: { reliability?: ScenarioRow } }) {
    // Every scenario runs on both release lines: one row each.
    this.row = { scenario: `${scenario}, Litestream ${family}`, trials: 0, passed: 0, secretChecks: 0, secretLeaks: 0 };
    task.meta.reliability = this.row;
  }

  /** Records one trial; a failed trial fails the test with `problems`. */
  trial(problems: string[], loss?: { windowMs: number; lostAcknowledged: boolean }): void {
    this.record(problems, loss);
    if (problems.length > 0)
      throw new Error(`trial ${this.row.trials} of "${this.row.scenario}":\n${problems.join('\n')}`);
  }

  /** Counts one trial into the row without failing the test (for scenarios that report all at once). */
  record(problems: string[], loss?: { windowMs: number; lostAcknowledged: boolean }): void {
    this.row.trials++;
    if (problems.length === 0) this.row.passed++;
    if (loss) {
      this.row.worstLossMs = Math.max(this.row.worstLossMs ?? 0, loss.windowMs);
      this.row.nothingLost = (this.row.nothingLost ?? true) && !loss.lostAcknowledged;
    }
  }

  /** Searches texts for the secret; returns a problem per leak. */
  checkSecrets(evidence: Evidence): string[] {
    const found = leaks(evidence);
    this.row.secretChecks += Object.keys(evidence).length;
    this.row.secretLeaks += found.length;
    return found.map((where) => `the secret appears in ${where}`);
  }
}

/** A random duration in [min, max) ms. */
export function between(min: number, max: number): number {
  return Math.round(min + Math.random() * (max - min));
}

/** Resolves after `ms`: for load that must run for a while, not for waiting on an event. */
export function runFor(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Starts the load app, waits until it replicates, and starts its writes. */
export async function launchUnderLoad(prefix: string, options: LaunchOptions = {}): Promise<LoadApp> {
  const app = launchApp(prefix, options);
  await app.event('ready');
  app.send('load');
  await waitFor(() => app.acks.length > 0, 10_000, 'the first acknowledged write');
  return app;
}

/**
 * The graceful end of a trial: SIGTERM (the app's shutdown path with the final sync), then a
 * new container restores. Problems: an unclean stop, a failed integrity check, any write
 * acknowledged by `app` (or `earlier` apps on the same database) missing, a leaked secret.
 */
export async function stopAndRestore(
  scenario: Scenario,
  prefix: string,
  app: LoadApp,
  earlier: readonly LoadApp[] = [],
  /** Environment of the restoring container beyond the defaults (e.g. another S3 endpoint). */
  env: Record<string, string> = {},
): Promise<{ problems: string[]; lost: number; restored: Restored; stoppedAt: number }> {
  const evidence = await processEvidence(app);
  const stoppedAt = Date.now();
  const stopped = await app.terminate();
  const restored = await restoreFresh(prefix, env);
  const acknowledged = Math.max(app.lastAcked(), ...earlier.map((other) => other.lastAcked()));
  const lost = Math.max(0, acknowledged - restored.maxId);
  const outputs = Object.fromEntries([...earlier, app].map((each) => [`output of app ${each.pid}`, each.output()]));
  const problems = [
    ...(stopped.clean === true ? [] : [`stop() was not clean: ${JSON.stringify(stopped)}`]),
    ...(restored.integrity === 'ok' ? [] : [`integrity_check: ${restored.integrity}`]),
    ...(lost > 0 ? [`${lost} acknowledged writes lost (last acknowledged ${acknowledged})`] : []),
    ...scenario.checkSecrets({ ...evidence, ...outputs, 'restore log': restored.log }),
  ];
  return { problems, lost, restored, stoppedAt };
}

/** The rows of {@link seedLargeBackup}. */
export const LARGE_BACKUP_ROWS = 12_000;

/**
 * A backup of the load app's table under `prefix`: `rows` rows of 1 KiB that do not compress
 * (12,000 by default, about 12 MiB).
 */
export async function seedLargeBackup(prefix: string, rows = LARGE_BACKUP_ROWS): Promise<void> {
  const file = path.join(tempDir(), DATABASE);
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.exec('CREATE TABLE items (id INTEGER PRIMARY KEY, body TEXT NOT NULL)');
  const insert = db.prepare('INSERT INTO items (body) VALUES (?)');
  db.transaction(() => {
    for (let row = 0; row < rows; row++) insert.run(randomBytes(512).toString('hex'));
  })();
  db.close();
  await replicateOnce(configFromEnv(seedEnv(prefix, [file]), { logger: false }));
}
