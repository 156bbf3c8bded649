// A restore or check that is given up on, a boot that fails, an app that is SIGKILLed:
// whatever the exit, nothing stays behind on disk or in the process table.
import { type SpawnOptions, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import Fastify from 'fastify';
import { describe, expect, it, vi } from 'vitest';
import litestream from '../src/fastify.js';
import {
  ensureRestored,
  FileSystemError,
  LitestreamAbortError,
  RestoreError,
  restore,
  startReplication,
  verify,
} from '../src/index.js';
import { SpawnedChild } from '../src/process/spawn.js';
import { IntegrityChecker, MAIN_THREAD_MAX_BYTES } from '../src/sqlite/integrity-check.js';
import { launchApp } from './reliability/harness.js';
import {
  deleteDatabase,
  litestreamChildren,
  onCleanup,
  openDatabase,
  processAlive,
  readIds,
  replicateOnce,
  s3Replica,
  seedEnv,
  startReplicating,
  tempDir,
  testConfig,
  track,
  waitFor,
  writeRows,
} from './support/fixtures.js';
import { processes } from './support/proc.js';
import { throttledProxy } from './support/proxy.js';
import { testS3 } from './support/s3-per-file.js';

/** Rows of incompressible bytes: `mib` MiB that a restore must really download. */
function writeBulk(file: string, mib: number): void {
  const db = openDatabase(file);
  try {
    db.exec('CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, label TEXT NOT NULL, body BLOB NOT NULL)');
    const insert = db.prepare('INSERT INTO items (label, body) VALUES (?, ?)');
    db.transaction(() => {
      for (let i = 0; i < mib * 16; i++) insert.run('bulk', randomBytes(64 * 1024));
    })();
  } finally {
    db.close();
  }
}

/**
 * A 6 MiB backup of `database` (under a fresh prefix), with no local copy left, and a config
 * that reaches it through a 1 MiB/s link: a restore through `slow` takes about 6 s.
 */
async function slowBackup(dir: string, database: string) {
  const prefix = `slow-${randomUUID()}`;
  const { config: seeded } = testConfig(dir, { databases: [database], replica: s3Replica({ path: prefix }) });
  mkdirSync(path.dirname(database), { recursive: true });
  writeBulk(database, BACKUP_MIB);
  await replicateOnce(seeded);
  deleteDatabase(database);
  const proxy = await throttledProxy(testS3().endpoint, 1024 * 1024);
  const { config: slow } = testConfig(dir, {
    databases: [database],
    replica: s3Replica({ path: prefix, endpoint: proxy.endpoint }),
  });
  return { prefix, seeded, slow, endpoint: proxy.endpoint };
}

const BACKUP_MIB = 6;

/** This process's private temp directories (config files, verify copies) now in the temp dir. */
function tempDirsOf(pid: number): string[] {
  return readdirSync(os.tmpdir()).filter((name) => name.startsWith(`litestream-node-${pid}-`));
}

/** Waits until a restore's partial copy of `database` is on disk, and returns its directory listing. */
async function partialCopy(database: string): Promise<string[]> {
  const dir = path.dirname(database);
  const prefix = `.${path.basename(database)}.restore-`;
  return waitFor(
    () => {
      const names = (existsSync(dir) ? readdirSync(dir) : []).filter((name) => name.startsWith(prefix));
      return names.length > 0 ? names : undefined;
    },
    20_000,
    'the restore to start writing its copy',
  );
}

describe('giving a restore up', () => {
  it('ensureRestored with an aborted signal kills litestream and leaves no partial copy', async () => {
    const dir = tempDir();
    const database = path.join(dir, 'storage', 'production.sqlite3');
    const { seeded, slow: config } = await slowBackup(dir, database);
    // A new container: not even the database's directory is there.
    rmSync(path.dirname(database), { recursive: true });
    const controller = new AbortController();
    const restoring = ensureRestored(config, { signal: controller.signal });
    const copies = await partialCopy(database);
    expect(copies.length).toBeGreaterThan(0);
    controller.abort();
    const error = (await restoring.catch((reason: unknown) => reason)) as Error;
    expect(error).toBeInstanceOf(LitestreamAbortError);
    expect(error.name).toBe('AbortError');
    // Nothing outlives the rejection: no restore process, no copy, no directory it made.
    expect(litestreamChildren()).toEqual([]);
    expect(readdirSync(dir).sort()).toEqual([]);
    expect(tempDirsOf(process.pid)).toEqual([]);

    // Given up on, not broken: the next boot restores normally.
    const results = await ensureRestored(seeded);
    expect(results[0]?.outcome).toBe('restored');
    expect(readIds(database).length).toBe(BACKUP_MIB * 16);
  });

  it("Fastify's pluginTimeout cancels the restore: the boot fails fast and leaves nothing", async () => {
    const dir = tempDir();
    const database = path.join(dir, 'production.sqlite3');
    const { slow: config } = await slowBackup(dir, database);
    const app = Fastify({ logger: false, pluginTimeout: 2_000 });
    onCleanup(() => app.close());
    app.register(litestream, { config });
    const booting = app.ready().then(
      () => undefined,
      (reason: unknown) => reason as Error,
    );
    await partialCopy(database);
    const error = await booting;
    expect(error).toBeInstanceOf(RestoreError);
    expect(error?.message).toMatch(/pluginTimeout \(2000 ms\).*cancelled and left nothing behind/);
    expect(litestreamChildren()).toEqual([]);
    expect(readdirSync(dir)).toEqual([]);
    expect(tempDirsOf(process.pid)).toEqual([]);
  });

  it('restore() with an aborted signal writes nothing to its output', async () => {
    const dir = tempDir();
    const database = path.join(dir, 'production.sqlite3');
    const { slow: config } = await slowBackup(dir, database);
    const out = path.join(dir, 'copies');
    mkdirSync(out);
    const controller = new AbortController();
    const restoring = restore(config, { database, output: path.join(out, 'copy.db'), signal: controller.signal });
    await partialCopy(path.join(out, 'copy.db'));
    controller.abort(new Error('operator cancelled'));
    const error = (await restoring.catch((reason: unknown) => reason)) as Error;
    expect(error).toBeInstanceOf(LitestreamAbortError);
    expect(error.message).toContain('operator cancelled');
    expect(litestreamChildren()).toEqual([]);
    expect(readdirSync(out)).toEqual([]);
  });

  it('verify() with an aborted signal removes its sentinel and temp files', async () => {
    const dir = tempDir();
    const { config, replication } = await startReplicating(dir);
    const main = config.databases[0]?.path as string;
    const replicatorsOwn = tempDirsOf(process.pid);
    // Long enough to write the sentinel, too short for the sync it then waits for.
    const error = await verify(config, main, { signal: AbortSignal.timeout(300) }).catch(
      (reason: unknown) => reason as Error,
    );
    expect(error).toBeInstanceOf(LitestreamAbortError);
    const db = new Database(main, { readonly: true });
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE name LIKE '_litestream_node%'").all();
    db.close();
    expect(tables, JSON.stringify(tables)).toEqual([]);
    expect(tempDirsOf(process.pid)).toEqual(replicatorsOwn);
    expect(replication.status().state).toBe('running');
  });

  it('stop() with an aborted signal kills a hung litestream at once and rejects', async () => {
    const dir = tempDir();
    const { logger, replication } = await startReplicating(dir);
    const pid = replication.status().pid as number;
    process.kill(pid, 'SIGSTOP');
    // Given up once stop() has sent SIGTERM and waits for the final sync that cannot come.
    const controller = new AbortController();
    const kill = SpawnedChild.prototype.kill;
    const spy = vi.spyOn(SpawnedChild.prototype, 'kill').mockImplementation(function (this: SpawnedChild, signal) {
      const sent = kill.call(this, signal);
      if (signal === 'SIGTERM') setImmediate(() => controller.abort(new Error('the deadline passed')));
      return sent;
    });
    onCleanup(() => spy.mockRestore());
    const error = await replication
      .stop({ timeoutMs: 60_000, signal: controller.signal })
      .catch((reason: unknown) => reason as Error);
    expect(error).toBeInstanceOf(LitestreamAbortError);
    // Killed by the abort: not at the 60 s timeout, nor by the hang detection (5 s of silence).
    expect(spy.mock.calls.map(([signal]) => signal)).toEqual(['SIGTERM', 'SIGKILL']);
    expect(logger.text()).not.toMatch(/litestream hung during its final sync|did not finish its final sync in time/);
    expect(processAlive(pid)).toBe(false);
    expect(litestreamChildren()).toEqual([]);
    expect(replication.status().state).toBe('stopped');
    expect(readdirSync(dir).filter((name) => name.endsWith('.pid'))).toEqual([]);
    expect(logger.text()).toMatch(/final sync may be incomplete/);
  });
});

/**
 * A temp directory of this test's own for the app and this process: boots in other test
 * files sweep the shared one too, and would remove a dead app's leftovers before the test looks.
 */
function privateTmpdir(): string {
  const dir = tempDir();
  const previous = process.env.TMPDIR;
  process.env.TMPDIR = dir;
  onCleanup(() => {
    if (previous === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = previous;
  });
  return dir;
}

describe('the CLI interrupted', () => {
  it('Ctrl-C during restore stops litestream, removes the partial copy and exits 130', async () => {
    const dir = tempDir();
    const database = path.join(dir, 'production.sqlite3');
    const { prefix, endpoint } = await slowBackup(dir, database);
    const out = path.join(dir, 'copies');
    mkdirSync(out);
    const cli = spawn(process.execPath, [CLI, 'restore', database, '-o', path.join(out, 'copy.db')], {
      env: { PATH: process.env.PATH ?? '', ...seedEnv(prefix, [database], { LITESTREAM_S3_ENDPOINT: endpoint }) },
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group, as a shell gives a foreground job: Ctrl-C reaches the group.
      detached: true,
    });
    let stderr = '';
    cli.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk;
    });
    onCleanup(() => {
      try {
        process.kill(-(cli.pid as number), 'SIGKILL');
      } catch {}
    });
    const exited = new Promise<number | null>((resolve) => cli.on('exit', (code) => resolve(code)));
    await partialCopy(path.join(out, 'copy.db'));
    process.kill(-(cli.pid as number), 'SIGINT');
    expect(await exited, stderr).toBe(130);
    expect(stderr).toMatch(/was aborted \(interrupted by SIGINT\)/);
    expect(readdirSync(out)).toEqual([]);
    const restores = processes().filter(
      (p) => p.comm === 'litestream' && p.state !== 'Z' && readCmdline(p.pid).includes(path.join(out, '')),
    );
    expect(restores).toEqual([]);
  });
});

/**
 * Runs `script` (an ES module body) in a Node process of its own, killed after the test if
 * still running; resolves with its exit code and what it printed.
 */
async function runModule(
  script: string,
  options: SpawnOptions = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    ...options,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk;
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk;
  });
  onCleanup(() => {
    child.kill('SIGKILL');
  });
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  return { code, stdout, stderr };
}

const CLI = path.resolve('dist/cli.js');

function readCmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return '';
  }
}

describe('an app that exits right after the boot', () => {
  it('leaves no private temp directory, though the boot did not wait for its removal', async () => {
    const dir = tempDir();
    const tmp = tempDir();
    const script = `
      import { defineConfig, ensureRestored } from ${JSON.stringify(path.resolve('dist/index.js'))};
      const results = await ensureRestored(defineConfig({
        databases: [${JSON.stringify(path.join(dir, 'app.db'))}],
        replica: { type: 'file', path: ${JSON.stringify(path.join(dir, 'replica'))} },
      }));
      console.log(JSON.stringify(results.map((result) => result.outcome)));
      process.exit(0);
    `;
    const { code, stdout, stderr } = await runModule(script, { env: { ...process.env, TMPDIR: tmp } });
    expect(code, stderr).toBe(0);
    expect(JSON.parse(stdout)).toEqual(['no-backup']);
    // Nothing swept it since: the process removed it itself, before it exited.
    expect(readdirSync(tmp).filter((name) => name.startsWith('litestream-node-'))).toEqual([]);
  });
});

describe('what a killed app leaves behind', () => {
  it('the next boot removes the partial copy and temp files of an app SIGKILLed mid-restore', async () => {
    const dir = tempDir();
    const database = path.join(dir, 'app.sqlite3');
    const { seeded, prefix, endpoint } = await slowBackup(dir, database);
    const tmp = privateTmpdir();
    const app = launchApp(prefix, { dir, env: { LITESTREAM_S3_ENDPOINT: endpoint, TMPDIR: tmp } });
    await partialCopy(database);
    expect(tempDirsOf(app.pid).length).toBeGreaterThan(0);
    await app.killContainer();
    await waitFor(() => litestreamChildren(app.pid).length === 0, 10_000, 'the restore to die with its app');
    const left = readdirSync(dir).filter((name) => name.startsWith('.app.sqlite3.restore-'));
    expect(left.length).toBeGreaterThan(0);

    const results = await ensureRestored(seeded);
    expect(results[0]?.outcome).toBe('restored');
    expect(readdirSync(dir).filter((name) => name.startsWith('.app.sqlite3.restore-'))).toEqual([]);
    expect(tempDirsOf(app.pid)).toEqual([]);
  });

  it('the next start removes the private litestream.yml directory of an app SIGKILLed while replicating', async () => {
    const prefix = `killed-replicating-${randomUUID()}`;
    const tmp = privateTmpdir();
    const app = launchApp(prefix, { env: { TMPDIR: tmp } });
    await app.event('ready');
    expect(tempDirsOf(app.pid).length).toBeGreaterThan(0);
    await app.killContainer();
    expect(tempDirsOf(app.pid).length).toBeGreaterThan(0);
    // Any boot sweeps: here, one that replicates another database.
    const dir = tempDir();
    const { config } = testConfig(dir);
    for (const db of config.databases) writeRows(db.path, 'rows', 1);
    const replication = track(startReplication(config));
    await replication.started;
    expect(tempDirsOf(app.pid)).toEqual([]);
  });
});

describe('an unwritable database directory', () => {
  it('ensureRestored and startReplication fail with an error naming the path and the fix, creating nothing', async () => {
    const dir = tempDir();
    chmodSync(dir, 0o755);
    const readOnly = path.join(dir, 'storage');
    mkdirSync(readOnly);
    const replica = path.join(dir, 'replica');
    mkdirSync(replica);
    // The replica itself is writable (the lease beside each database's backup is written there).
    chmodSync(replica, 0o777);
    const database = path.join(readOnly, 'production.sqlite3');
    // A present database, for startReplication (it must not touch it either).
    const present = path.join(readOnly, 'present.sqlite3');
    writeRows(present, 'rows', 1);
    chmodSync(present, 0o644);
    chmodSync(readOnly, 0o555);
    onCleanup(() => chmodSync(readOnly, 0o755));
    const before = readdirSync(readOnly).sort();
    const outcome = await asUnprivileged(`
      const { defineConfig, ensureRestored, startReplication } = await import(${JSON.stringify(DIST)});
      const report = (error) => ({ name: error.name, message: error.message, path: error.path, code: error.code });
      const restoring = await ensureRestored(defineConfig({ databases: [${JSON.stringify(database)}], replica: { type: 'file', path: ${JSON.stringify(replica)} }, logger: false })).then(() => 'resolved', report);
      const replicating = await startReplication(defineConfig({ databases: [${JSON.stringify(present)}], replica: { type: 'file', path: ${JSON.stringify(replica)} }, logger: false })).started.then(() => 'started', report);
      console.log(JSON.stringify({ restoring, replicating }));
    `);
    for (const error of [outcome.restoring, outcome.replicating]) {
      expect(error).toMatchObject({ name: 'FileSystemError', code: 'EACCES' });
      expect(error.message).toMatch(
        /permission denied \(EACCES\)\. Make .*\/storage writable by the user the app runs as/,
      );
      expect(error.message).not.toMatch(/\.tmp\b/);
    }
    expect(outcome.restoring.message).toContain(database.replace('production.sqlite3', '.production.sqlite3'));
    expect(readdirSync(readOnly).sort()).toEqual(before);
    expect(FileSystemError.name).toBe('FileSystemError');
  });
});

const DIST = path.resolve('dist/index.js');

/**
 * The unprivileged user must reach the library: a checkout in a `0700` directory (a fresh
 * `mktemp -d` clone) is closed to it. Adds search permission (`o+x`, no listing) to each
 * directory above `dir` that lacks it, for this test only.
 */
function letOthersTraverse(dir: string): void {
  for (let current = dir; current !== path.dirname(current); current = path.dirname(current)) {
    const mode = statSync(current).mode & 0o7777;
    if ((mode & 0o001) !== 0) continue;
    chmodSync(current, mode | 0o001);
    onCleanup(() => chmodSync(current, mode));
  }
}

/**
 * Runs `script` (an ES module body) as a user without root's powers — root writes through
 * any permission bits — and returns what it printed as JSON. As non-root, runs it as is.
 */
async function asUnprivileged(script: string) {
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    letOthersTraverse(path.dirname(DIST));
    // Its working directory, and where the test's directories are: a private TMPDIR
    // (`mktemp -d`, 0700) is closed to it too.
    letOthersTraverse(os.tmpdir());
  }
  const { code, stdout, stderr } = await runModule(script, {
    ...(asRoot ? { uid: 65534, gid: 65534 } : {}),
    cwd: os.tmpdir(),
  });
  if (code !== 0) throw new Error(`the unprivileged script failed (${code}): ${stderr}`);
  return JSON.parse(stdout) as Record<'restoring' | 'replicating', { name: string; message: string }>;
}

describe('integrity check', () => {
  // A file up to the bound is checked on the main thread, a larger one in a worker thread:
  // both give the same verdicts (here with a bound of 0 bytes, every file goes to a worker).
  it.each([
    ['on the main thread', MAIN_THREAD_MAX_BYTES, 0],
    ['in a worker thread', 0, 1],
  ])('tells a file SQLite cannot open from a database that fails the check, %s', async (_, bound, threads) => {
    const checker = new IntegrityChecker(2, { mainThreadMaxBytes: bound });
    onCleanup(() => checker.release());
    const checkIntegrity = (file: string, mode: 'full' | 'quick') => checker.check(file, mode);
    const dir = tempDir();
    const missing = await checkIntegrity(path.join(dir, 'missing.db'), 'full');
    expect(missing).toMatchObject({ ok: false, unreadable: true });
    const notADatabase = path.join(dir, 'junk.db');
    writeFileSync(notADatabase, randomBytes(8192));
    expect(await checkIntegrity(notADatabase, 'quick')).toMatchObject({ ok: false, unreadable: true });

    const corrupt = path.join(dir, 'corrupt.db');
    const db = new Database(corrupt);
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT); CREATE INDEX t_body ON t (body);');
    const insert = db.prepare('INSERT INTO t (body) VALUES (?)');
    for (let i = 0; i < 2000; i++) insert.run(`row ${i} ${'x'.repeat(100)}`);
    db.close();
    // Scribble over the index's pages (the last ones): the table still opens, the check fails.
    const bytes = readFileSync(corrupt);
    bytes.fill(0x42, bytes.length - 8192, bytes.length - 4096 + 100);
    writeFileSync(corrupt, bytes);
    const result = await checkIntegrity(corrupt, 'full');
    expect(result.ok).toBe(false);
    expect(result.unreadable).toBe(false);
    expect(result.problems.length).toBeGreaterThan(0);

    const good = path.join(dir, 'good.db');
    const fine = new Database(good);
    fine.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT); INSERT INTO t (body) VALUES (1);');
    fine.close();
    expect(await checkIntegrity(good, 'full')).toEqual({ ok: true, unreadable: false, problems: [] });
    expect(await checkIntegrity(good, 'quick')).toEqual({ ok: true, unreadable: false, problems: [] });
    expect(checker.threads).toBe(threads);
  });

  it('starts a worker thread ahead only for a file too large for the main thread', async () => {
    const checker = new IntegrityChecker(1);
    onCleanup(() => checker.release());
    expect(checker.needsWorker(MAIN_THREAD_MAX_BYTES)).toBe(false);
    expect(checker.needsWorker(MAIN_THREAD_MAX_BYTES + 1)).toBe(true);
    expect(checker.needsWorker(-1)).toBe(false);
  });
});
