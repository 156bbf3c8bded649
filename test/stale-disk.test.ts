// A database already on disk that is older than its replica (a persistent volume or a machine
// that comes back after another instance wrote the replica) must never be replicated over the
// newer backup: refused by default, set aside and restored on request, on both versions.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ensureRestored, Litestream, StaleDatabaseError, startReplication } from '../src/index.js';
import { companionFiles } from '../src/sqlite/database-files.js';
import {
  readIds,
  replicaIds,
  s3Replica,
  stopCleanly,
  tempDir,
  testConfig,
  track,
  waitFor,
  writeRows,
} from './support/fixtures.js';
import { family } from './support/litestream-version.js';
import { holdingProxy } from './support/proxy.js';

/** One instance's directory and config, all instances on one replica path. */
function instance(replica: ReturnType<typeof s3Replica>, options: Record<string, unknown> = {}) {
  const dir = tempDir();
  const database = path.join(dir, 'app.sqlite3');
  const { config, logger } = testConfig(dir, { databases: [database], replica, ...options });
  /** The same instance with other options. */
  const variant = (more: Record<string, unknown>) =>
    testConfig(dir, { databases: [database], replica, restore: RESTORE, ...options, ...more }).config;
  return { dir, database, config, logger, variant };
}

/** testConfig's restore policy. */
const RESTORE = { retryForMs: 2_000, stallTimeoutMs: 20_000 };

/** Replicates what is on disk until it is in the replica, then stops with a final sync. */
async function replicateAndStop(config: ReturnType<typeof instance>['config']): Promise<void> {
  const replication = track(startReplication(config));
  await replication.ready;
  await stopCleanly(replication);
}

/** The bytes of a database, its WAL and litestream's state beside it: what "nothing changed" means. */
function snapshotOf(database: string): string {
  const hash = createHash('sha256');
  const dir = path.dirname(database);
  const walk = (entry: string) => {
    const full = path.join(dir, entry);
    if (!existsSync(full)) return;
    hash.update(entry);
    try {
      hash.update(readFileSync(full));
    } catch {
      for (const child of readdirSync(full, { recursive: true }).map(String).sort()) walk(path.join(entry, child));
    }
  };
  for (const entry of readdirSync(dir).sort()) walk(entry);
  return hash.digest('hex');
}

/**
 * Inserts rows in a process that is then SIGKILLed, as an app dies: its last commits stay
 * in the WAL, never checkpointed into the database file. Returns their ids.
 */
async function writeRowsThenDie(file: string, label: string, count: number): Promise<number[]> {
  const script = `
    const Database = require('better-sqlite3');
    const db = new Database(${JSON.stringify(file)});
    db.pragma('journal_mode = WAL');
    db.pragma('wal_autocheckpoint = 0');
    const insert = db.prepare('INSERT INTO items (label, body) VALUES (?, ?)');
    const ids = [];
    for (let i = 0; i < ${count}; i++) ids.push(Number(insert.run(${JSON.stringify(label)}, 'x').lastInsertRowid));
    process.stdout.write(JSON.stringify(ids), () => process.kill(process.pid, 'SIGKILL'));
  `;
  const child = spawn(process.execPath, ['-e', script], { cwd: REPO, stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const signal = await new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, sig) => resolve(sig)));
  expect(signal).toBe('SIGKILL');
  return JSON.parse(output) as number[];
}

const REPO = fileURLToPath(new URL('..', import.meta.url));

/** A writes and replicates, B restores from the replica, writes more and stops: A's disk is now stale. */
async function staleDiskSequence() {
  const replica = s3Replica();
  const a = instance(replica);
  const aIds = writeRows(a.database, 'a', 20);
  await replicateAndStop(a.config);

  const b = instance(replica);
  const [restored] = await ensureRestored(b.config);
  expect(restored?.outcome).toBe('restored');
  const bIds = writeRows(b.database, 'b', 5);
  await replicateAndStop(b.config);
  return { replica, a, aIds, b, bIds };
}

describe(`a stale database on disk (Litestream ${family})`, () => {
  it('A, then B, then A again on its old disk: the boot refuses, names both positions, changes nothing, and the replica keeps every row B acknowledged', async () => {
    const { a, aIds, bIds } = await staleDiskSequence();
    const before = snapshotOf(a.database);

    const boot = ensureRestored(a.config);
    await expect(boot).rejects.toBeInstanceOf(StaleDatabaseError);
    const error = (await boot.catch((caught: unknown) => caught)) as StaleDatabaseError;
    expect(error.kind).toBe('behind');
    expect(error.database).toBe(a.database);
    // Named as the app set it (configFromEnv: by its variable; see scenario 16).
    expect(error.message).toContain('set restore.onStale to "restore"');
    expect(error.local).toMatch(family === '0.5' ? /TXID [0-9a-f]{16}/ : /generation [0-9a-f]{16}/);
    expect(error.replica).toMatch(family === '0.5' ? /TXID [0-9a-f]{16}/ : /generation [0-9a-f]{16}/);
    expect(snapshotOf(a.database)).toBe(before);

    // Replication started without a boot compares too, before litestream writes anything.
    const replication = track(startReplication(a.config));
    await expect(replication.ready).rejects.toBeInstanceOf(StaleDatabaseError);
    await replication.stop();
    expect(snapshotOf(a.database)).toBe(before);
    expect(await replicaIds(a.config, a.database)).toEqual([...aIds, ...bIds]);
  });

  it('with restore.onStale "restore", the old copy is set aside whole (its WAL too) and the newest backup restored; what A writes next goes on from B', async () => {
    const { replica, a, aIds, bIds } = await staleDiskSequence();
    // A died with commits the replica never got, only in its WAL.
    const unsent = await writeRowsThenDie(a.database, 'a-unsent', 3);
    expect(statSync(companionFiles(a.database).wal).size).toBeGreaterThan(0);
    const again = a.variant({ restore: { ...RESTORE, onStale: 'restore' } });

    const [result] = await ensureRestored(again);
    expect(result?.outcome).toBe('restored');
    const aside = result?.staleCopy as string;
    expect(aside).toMatch(/app\.sqlite3\.stale-\d{4}-\d\d-\d\dT/);
    // The old WAL went with the old copy, not left beside the restored one.
    expect(existsSync(companionFiles(a.database).wal)).toBe(false);
    expect(existsSync(`${aside}-wal`)).toBe(true);
    expect(readIds(aside)).toEqual([...aIds, ...unsent]);
    expect(readIds(a.database)).toEqual([...aIds, ...bIds]);

    const next = writeRows(a.database, 'a-next', 2);
    await replicateAndStop(again);
    const fresh = instance(replica);
    expect(await replicaIds(fresh.config, fresh.database)).toEqual([...aIds, ...bIds, ...next]);
  });

  it('diverged: A wrote past the replica where B could not see it, B restored without those writes and wrote fewer; A is refused, not taken for ahead', async () => {
    const replica = s3Replica();
    const a = instance(replica);
    writeRows(a.database, 'a', 20);
    await replicateAndStop(a.config);
    // A keeps writing and litestream records it locally, but it never reaches this replica
    // (another replica stands in for a link that was down when A died).
    const detour = a.variant({ replica: { type: 'file', path: path.join(tempDir(), 'elsewhere') } });
    for (let i = 0; i < 4; i++) {
      writeRows(a.database, `a-lost-${i}`, 2);
      await replicateAndStop(detour);
    }

    const b = instance(replica);
    await ensureRestored(b.config);
    const bIds = writeRows(b.database, 'b', 1);
    await replicateAndStop(b.config);

    const error = (await ensureRestored(a.config).catch((caught: unknown) => caught)) as StaleDatabaseError;
    expect(error).toBeInstanceOf(StaleDatabaseError);
    // 0.5 compares the database's checksum at the replica's position; 0.3 sees B's generation.
    expect(error.kind).toBe(family === '0.5' ? 'diverged' : 'behind');
    expect(await replicaIds(b.config, b.database)).toEqual(expect.arrayContaining(bIds));
  });

  it('a copy restored here that litestream never replicated (the process died first) boots as current, and as stale once another instance wrote', async () => {
    const replica = s3Replica();
    const seed = instance(replica);
    writeRows(seed.database, 'seed', 10);
    await replicateAndStop(seed.config);

    const a = instance(replica);
    // Each boot of A is a process that then dies: its lease goes with it.
    const bootA = () => {
      const container = new Litestream(a.config);
      return container.ensureRestored().finally(() => container.stop());
    };
    expect((await bootA())[0]?.outcome).toBe('restored');
    // No litestream ran on it: only the library's record says where it came from.
    expect((await bootA())[0]?.outcome).toBe('exists');

    const b = instance(replica);
    await ensureRestored(b.config);
    writeRows(b.database, 'b', 3);
    await replicateAndStop(b.config);
    const error = (await bootA().catch((caught: unknown) => caught)) as StaleDatabaseError;
    expect(error).toBeInstanceOf(StaleDatabaseError);
    expect(error.kind).toBe('behind');
  });

  it('a database litestream never replicated and the library never restored, beside a replica with a backup, is refused as unknown; keep-local replicates it on purpose', async () => {
    const replica = s3Replica();
    const seed = instance(replica);
    const seeded = writeRows(seed.database, 'seed', 10);
    await replicateAndStop(seed.config);

    const other = instance(replica);
    const local = writeRows(other.database, 'other', 4);
    const error = (await ensureRestored(other.config).catch((caught: unknown) => caught)) as StaleDatabaseError;
    expect(error).toBeInstanceOf(StaleDatabaseError);
    expect(error.kind).toBe('unknown');
    expect(await replicaIds(seed.config, seed.database)).toEqual(seeded);

    const { config: keep, logger } = testConfig(other.dir, {
      databases: [other.database],
      replica,
      restore: { ...RESTORE, onStale: 'keep-local' },
    });
    expect((await ensureRestored(keep))[0]?.outcome).toBe('exists');
    expect(logger.text()).toContain('keep-local');
    await replicateAndStop(keep);
    expect(await replicaIds(seed.config, seed.database)).toEqual(local);
  });

  it('the replica down at boot: the app boots on its stale copy, and replication, once the replica answers, refuses before litestream writes anything', async () => {
    const { replica, a, aIds, bIds } = await staleDiskSequence();
    const proxy = await holdingProxy(replica.endpoint);
    const { config: viaProxy, logger } = testConfig(a.dir, {
      databases: [a.database],
      replica: { ...replica, endpoint: proxy.endpoint },
    });
    proxy.cut();
    // An outage does not keep an app with its data on disk from booting.
    expect((await ensureRestored(viaProxy))[0]?.outcome).toBe('exists');
    const replication = track(startReplication(viaProxy));
    const refused = replication.ready.catch((error: unknown) => error);
    // Replication waits for the replica (its lease, then the comparison) and starts nothing.
    await waitFor(() => logger.text().includes('replication waits for it, retrying'), 20_000, 'replication to wait');
    expect(replication.status().pid).toBeUndefined();
    proxy.restore();
    expect(await refused).toBeInstanceOf(StaleDatabaseError);
    expect(replication.status().pid).toBeUndefined();
    await replication.stop();
    expect(await replicaIds(a.config, a.database)).toEqual([...aIds, ...bIds]);
  });

  it('A stopping and booting again on its own disk, with nobody else writing, is current: it boots and replicates as before', async () => {
    const replica = s3Replica();
    const a = instance(replica);
    const first = writeRows(a.database, 'a', 5);
    await replicateAndStop(a.config);
    expect((await ensureRestored(a.config))[0]?.outcome).toBe('exists');
    const second = writeRows(a.database, 'a2', 5);
    await replicateAndStop(a.config);
    expect((await ensureRestored(a.config))[0]?.outcome).toBe('exists');
    expect(await replicaIds(a.config, a.database)).toEqual([...first, ...second]);
  });
});
