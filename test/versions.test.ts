// One API over Litestream 0.3 and 0.5: what happens where the two meet (a replica one wrote
// and the other reads, an upgrade in place, a call that exists for one line only), and what
// 0.5 needs that 0.3 did not (its AWS_CA_BUNDLE failure, its silent exit when the final sync
// fails). Runs in the Litestream 0.5 project; each test names the binaries it runs.
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, inject, it } from 'vitest';
import { engineFor } from '../src/engine/select.js';
import {
  ensureRestored,
  generations,
  Litestream,
  LitestreamVersionError,
  ltx,
  ReplicaFormatError,
  ReplicationError,
  resolveBinary,
  snapshots,
  startReplication,
  wal,
} from '../src/index.js';
import { forgetProcessNotices } from '../src/logging/process-notices.js';
import { cli } from './support/cli.js';
import {
  deleteDatabase,
  litestreamChildren,
  onCleanup,
  readIds,
  replicaIds,
  replicateOnce,
  s3Replica,
  seedEnv,
  tempDir,
  testConfig,
  track,
  waitFor,
  writeRows,
} from './support/fixtures.js';
import { expectWellFormed, sample } from './support/prometheus.js';
import { startS3Server, testS3 } from './support/s3-per-file.js';

const v05 = inject('litestream05Binary');
const bundled = async () => (await resolveBinary(undefined, {})).path;

/** Two configs on one replica path: the same databases and replica, each with its own litestream. */
async function twoVersions(dir: string) {
  const replica = s3Replica();
  const v03 = testConfig(dir, { replica, binaryPath: await bundled() });
  const v05config = testConfig(dir, { replica, binaryPath: v05 });
  return { v03: v03.config, v05: v05config.config, v05logger: v05config.logger };
}

describe('a replica written by one Litestream version, read by the other', () => {
  it('litestream 0.3 never starts empty on a replica that 0.5 wrote: ReplicaFormatError, nothing created', async () => {
    const dir = tempDir();
    const { v03, v05 } = await twoVersions(dir);
    for (const db of v05.databases) writeRows(db.path, 'from-0.5', 5);
    await replicateOnce(v05);
    for (const db of v05.databases) deleteDatabase(db.path);

    const error = await ensureRestored(v03).then(
      () => undefined,
      (reason: unknown) => reason,
    );
    expect(error).toBeInstanceOf(ReplicaFormatError);
    expect((error as ReplicaFormatError).writtenBy).toBe('0.5');
    expect((error as Error).message).toMatch(/written by Litestream 0\.5.*which litestream 0\.3 cannot read/);
    expect((error as Error).message).toMatch(/LITESTREAM_BINARY_PATH/);
    for (const db of v03.databases) expect(() => readIds(db.path)).toThrow();
  });

  it('an upgrade in place: 0.5 restores what 0.3 wrote, replicates on, and a downgrade is refused', async () => {
    const dir = tempDir();
    const { v03, v05 } = await twoVersions(dir);
    const main = v03.databases[0]?.path as string;
    const before = writeRows(main, 'on-0.3', 10);
    writeRows(v03.databases[1]?.path as string, 'jobs', 1);
    await replicateOnce(v03);
    for (const db of v03.databases) deleteDatabase(db.path);

    // The new image runs 0.5: every row 0.3 wrote comes back.
    const restored = await ensureRestored(v05);
    expect(restored.map((result) => result.outcome)).toEqual(['restored', 'restored']);
    expect(readIds(main)).toEqual(before);
    const after = writeRows(main, 'on-0.5', 10);
    const replication = track(startReplication(v05));
    await replication.ready;
    expect((await replication.stop()).clean).toBe(true);
    expect(await replicaIds(v05, main)).toEqual([...before, ...after]);

    // Rolled back to 0.3, which would restore its own stale generation: refused.
    for (const db of v03.databases) deleteDatabase(db.path);
    const error = await ensureRestored(v03).then(
      () => undefined,
      (reason: unknown) => reason,
    );
    expect(error).toBeInstanceOf(ReplicaFormatError);
    expect((error as Error).message).toMatch(/would roll back everything written since/);
    for (const db of v03.databases) expect(() => readIds(db.path)).toThrow();
  });
});

describe('a history forked across versions', () => {
  it('litestream 0.3 does not replicate beside what 0.5 wrote: ReplicaFormatError, nothing started', async () => {
    const dir = tempDir();
    const { v03, v05 } = await twoVersions(dir);
    for (const db of v05.databases) writeRows(db.path, 'from-0.5', 3);
    await replicateOnce(v05);
    // The local files are still there (no restore): 0.3 would start its own history beside.
    const replication = startReplication(v03);
    const error = await replication.started.then(
      () => undefined,
      (reason: unknown) => reason,
    );
    expect(error).toBeInstanceOf(ReplicaFormatError);
    expect((error as Error).message).toMatch(/replicating beside them would start a second history/);
    expect(replication.status().state).toBe('stopped');
    expect(litestreamChildren()).toEqual([]);
  });

  it('litestream 0.5 does not restore its LTX files over newer 0.3 backups beside them', async () => {
    const dir = tempDir();
    const replicaDir = path.join(tempDir(), 'replica');
    const { config } = testConfig(dir, { replica: { type: 'file', path: replicaDir }, binaryPath: v05 });
    for (const db of config.databases) writeRows(db.path, 'from-0.5', 3);
    await replicateOnce(config);
    // What 0.3 leaves when it replicates on there (run directly, as a shell entrypoint
    // would: the library refuses to): a generation newer than every LTX file.
    const main = config.databases[0]?.path as string;
    writeRows(main, 'from-0.3', 3);
    const yml = path.join(tempDir(), 'litestream.yml');
    writeFileSync(yml, (await engineFor('0.3')).renderYaml(config));
    const raw = execa(await bundled(), ['replicate', '-config', yml], { reject: false, stdin: 'ignore' });
    onCleanup(() => {
      raw.kill('SIGKILL');
    });
    const generations = path.join(replicaDir, path.basename(main), 'generations');
    await waitFor(() => existsSync(generations) && readdirSync(generations).length > 0, 10_000, '0.3 to write');
    await waitFor(
      () => readdirSync(generations).some((g) => existsSync(path.join(generations, g, 'wal'))),
      10_000,
      'a WAL segment',
    );
    raw.kill('SIGTERM');
    await raw;
    for (const db of config.databases) deleteDatabase(db.path);

    const error = await ensureRestored(config).then(
      () => undefined,
      (reason: unknown) => reason,
    );
    expect(error).toBeInstanceOf(ReplicaFormatError);
    expect((error as ReplicaFormatError).writtenBy).toBe('0.3');
    expect((error as Error).message).toMatch(/would roll back everything written since/);
    expect(() => readIds(main)).toThrow();
  });
});

describe('calls that exist for one release line only', () => {
  it('a 0.3 listing on 0.5 (and ltx() on 0.3) throws LitestreamVersionError naming the equivalent', async () => {
    const dir = tempDir();
    const { v03, v05 } = await twoVersions(dir);
    const main = v05.databases[0]?.path as string;
    for (const call of [generations, snapshots, wal]) {
      const error = await call(v05, main).then(
        () => undefined,
        (reason: unknown) => reason,
      );
      expect(error).toBeInstanceOf(LitestreamVersionError);
      expect((error as Error).message).toMatch(/needs Litestream 0\.3, but .* is litestream v?0\.5\.\d+: .*ltx\(\)/);
    }
    const error = await ltx(v03, main).then(
      () => undefined,
      (reason: unknown) => reason,
    );
    expect(error).toBeInstanceOf(LitestreamVersionError);
    expect((error as Error).message).toMatch(/ltx\(\) needs Litestream 0\.5, .*generations\(\)/);
  });
});

describe('Litestream 0.5', () => {
  it('with AWS_CA_BUNDLE set, still reaches S3 (the bundle goes as SSL_CERT_FILE) and says so once per process', async () => {
    // As in a new process: the notice may have been said by an earlier test of this file.
    forgetProcessNotices();
    const dir = tempDir();
    const bundle = path.join(dir, 'ca.pem');
    writeFileSync(bundle, '');
    const saved = { bundle: process.env.AWS_CA_BUNDLE, certFile: process.env.SSL_CERT_FILE };
    process.env.AWS_CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';
    delete process.env.SSL_CERT_FILE;
    try {
      const { config, logger } = testConfig(dir, { binaryPath: v05 });
      const ids = writeRows(config.databases[0]?.path as string, 'ca', 5);
      writeRows(config.databases[1]?.path as string, 'jobs', 1);
      await replicateOnce(config);
      for (const db of config.databases) deleteDatabase(db.path);
      await ensureRestored(config);
      expect(readIds(config.databases[0]?.path as string)).toEqual(ids);
      const notices = logger.lines.filter((line) => /AWS_CA_BUNDLE/.test(line.message ?? ''));
      // Nothing for the user to do: said at info once, then only at debug (each command again).
      expect(notices.filter((line) => line.level !== 'debug').map((line) => line.level)).toEqual(['info']);
      expect(notices.length).toBeGreaterThan(1);
      expect(notices[0]?.message).toMatch(/as SSL_CERT_FILE/);
      // Another config in the same process does not say it again above debug.
      const other = testConfig(tempDir(), { binaryPath: v05 });
      for (const db of other.config.databases) writeRows(db.path, 'other', 1);
      await replicateOnce(other.config);
      expect(other.logger.lines.some((line) => /AWS_CA_BUNDLE/.test(line.message ?? ''))).toBe(true);
      expect(
        other.logger.lines.filter((line) => /AWS_CA_BUNDLE/.test(line.message ?? '') && line.level !== 'debug'),
      ).toEqual([]);
    } finally {
      for (const [name, value] of [
        ['AWS_CA_BUNDLE', saved.bundle],
        ['SSL_CERT_FILE', saved.certFile],
      ] as const) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
  });

  it('refuses two databases with one file name: its log names databases by file name alone', async () => {
    const dir = tempDir();
    const { config } = testConfig(dir, {
      binaryPath: v05,
      databases: [
        { path: path.join(dir, 'tenant-a', 'app.db'), replicaPath: 'tenant-a/app.db' },
        { path: path.join(dir, 'tenant-b', 'app.db'), replicaPath: 'tenant-b/app.db' },
      ],
    });
    const replication = startReplication(config);
    const error = await replication.started.then(
      () => undefined,
      (reason: unknown) => reason,
    );
    expect(error).toBeInstanceOf(ReplicationError);
    expect((error as Error).message).toMatch(/tenant-a\/app\.db and .*tenant-b\/app\.db have the same file name/);
    expect(litestreamChildren()).toEqual([]);
  });

  it('a final sync that cannot reach the replica is reported: stop() is not clean, though litestream exits 0', async () => {
    const dir = tempDir();
    const own = await startS3Server();
    const { config } = testConfig(dir, {
      binaryPath: v05,
      replica: s3Replica({ endpoint: own.endpoint }),
      syncInterval: '1h',
      shutdownTimeoutMs: 6_000,
    });
    for (const db of config.databases) writeRows(db.path, 'before', 5);
    const replication = track(startReplication(config));
    await replication.ready;
    // Committed, never uploaded: the sync interval is an hour away, and the replica goes.
    writeRows(config.databases[0]?.path as string, 'unsynced', 5);
    await own.crash();
    const result = await replication.stop();
    expect(result.clean).toBe(false);
    expect(result.errors.join('\n')).toMatch(/shutdown sync failed|final sync/);
  });

  it("takes a user's litestream.yml in 0.5 form (one replica: per database)", async () => {
    const dir = tempDir();
    const s3 = testS3();
    // Each version on a path of its own: 0.3 refuses a path that 0.5 wrote.
    for (const [version, binaryPath] of [
      ['0.5', v05],
      ['0.3', await bundled()],
    ] as const) {
      const file = path.join(dir, `litestream-${version}.yml`);
      writeFileSync(
        file,
        [
          'dbs:',
          `  - path: ${path.join(dir, 'app.db')}`,
          '    replica:',
          '      type: s3',
          `      bucket: ${s3.bucket}`,
          `      path: yaml-${version}-${Date.now()}/app.db`,
          `      endpoint: ${s3.endpoint}`,
          `      region: ${s3.region}`,
          '      sync-interval: 1s',
          `      access-key-id: ${s3.accessKeyId}`,
          `      secret-access-key: ${s3.secretAccessKey}`,
          '',
        ].join('\n'),
      );
      const { config } = testConfig(dir, { configFile: file, databases: undefined, replica: undefined, binaryPath });
      const main = config.databases[0]?.path as string;
      const ids = writeRows(main, 'yaml', 3);
      await replicateOnce(config);
      expect(await replicaIds(config, main), version).toEqual(ids);
      deleteDatabase(main);
    }
  });

  it('the CLI lists LTX files, restores up to a TXID and reports status; a 0.3 listing names ltx', async () => {
    const dir = tempDir();
    const { config } = testConfig(dir, { binaryPath: v05 });
    const [main, queue] = config.databases.map((db) => db.path) as [string, string];
    const ids = writeRows(main, 'cli', 5);
    writeRows(queue, 'jobs', 1);
    await replicateOnce(config);
    const env = seedEnv((config.replica as { path: string }).path, [main, queue], { LITESTREAM_BINARY_PATH: v05 });

    const listed = await cli(['ltx', main, '--json'], env);
    expect(listed.code, listed.stderr).toBe(0);
    const files = JSON.parse(listed.stdout) as { level: number; maxTxid: number }[];
    const last = Math.max(...files.map((file) => file.maxTxid));
    expect(last).toBeGreaterThan(0);
    const table = await cli(['ltx', main], env);
    expect(table.stdout).toMatch(/^level\s+min_txid\s+max_txid\s+size\s+created$/m);
    expect(table.stdout).toContain(last.toString(16).padStart(16, '0'));

    const output = path.join(dir, 'at-txid.db');
    const restored = await cli(['restore', main, '-o', output, '--txid', last.toString(16).padStart(16, '0')], env);
    expect(restored.code, restored.stderr).toBe(0);
    expect(restored.stdout).toMatch(/up to TXID 0+[0-9a-f]+/);
    expect(readIds(output)).toEqual(ids);

    const status = await cli(['status', '--json'], env);
    expect(status.code, status.stderr).toBe(0);
    expect((JSON.parse(status.stdout) as { txid?: number }[])[0]?.txid).toBe(last);

    const wrong = await cli(['generations', main], env);
    expect(wrong.code).toBe(1);
    // In the CLI's own terms: its commands, not the API's functions.
    expect(wrong.stderr).toMatch(/"litestream-node generations" needs Litestream 0\.3.*"litestream-node ltx"/);
    const wrongFlag = await cli(['restore', main, '-o', path.join(dir, 'g.db'), '--generation', 'abc'], env);
    expect(wrongFlag.code).toBe(1);
    expect(wrongFlag.stderr).toMatch(/--generation needs Litestream 0\.3.*--txid/);
  });
});

describe('metrics on both versions', () => {
  it("give each version's replica position, the boot restore and the final sync", async () => {
    for (const [version, binaryPath, position] of [
      ['0.3', await bundled(), 'litestream_node_replica_generation_info'],
      ['0.5', v05, 'litestream_node_replica_txid'],
    ] as const) {
      const dir = tempDir();
      const { config } = testConfig(dir, { binaryPath });
      const main = config.databases[0]?.path as string;
      const litestream = new Litestream(config);
      onCleanup(async () => {
        await litestream.stop();
      });
      await litestream.ensureRestored();
      for (const db of config.databases) writeRows(db.path, `metrics-${version}`, 3);
      litestream.startReplication();
      await waitFor(() => litestream.status().databases.every((db) => db.synced), 20_000, `${version} to sync`);
      const text = litestream.metrics();
      expectWellFormed(text);
      const label = { database: path.basename(main) };
      expect(sample(text, 'litestream_node_restore_info', { ...label, outcome: 'no-backup' }), version).toBe(1);
      expect(sample(text, 'litestream_node_replication_healthy'), version).toBe(1);
      expect(sample(text, position, label), `${version}: ${text}`).toBeGreaterThan(0);
      expect(sample(text, 'litestream_node_last_sync_age_seconds', label), version).toBeLessThan(60);
      expect((await litestream.stop()).clean, version).toBe(true);
      expect(sample(litestream.metrics(), 'litestream_node_final_sync_clean'), version).toBe(1);
    }
  });
});
