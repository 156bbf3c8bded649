import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { generations, restore } from '../src/index.js';
import { CLI, cli, type Run } from './support/cli.js';
import {
  closedPort,
  readIds,
  replicateOnce,
  s3Replica,
  seedBackup,
  seedEnv,
  tempDir,
  testConfig,
  writeRows,
} from './support/fixtures.js';
import { testS3 } from './support/s3-per-file.js';

describe('the litestream-node CLI', () => {
  it('lists, restores, verifies and reports from the seed variables, as tables and JSON', async () => {
    const dir = tempDir();
    const { config, ids } = await seedBackup(dir);
    const [main, queue] = config.databases.map((db) => db.path) as [string, string];
    const prefix = (config.replica as { path: string }).path;
    const env = seedEnv(prefix, [main, queue]);
    const secret = testS3().secretAccessKey;
    const runs: Run[] = [];
    const run = async (...args: string[]) => {
      const result = await cli(args, env);
      runs.push(result);
      return result;
    };

    const table = await run('generations', main);
    expect(table.code, table.stderr).toBe(0);
    const [header, row] = table.stdout.trim().split('\n');
    expect(header).toMatch(/^replica\s+generation\s+lag\s+start\s+end$/);
    expect(row).toMatch(/^s3\s+[0-9a-f]{16}\s+/);
    const json = JSON.parse((await run('generations', main, '--json')).stdout) as {
      generation: string;
      start: string;
    }[];
    expect(json).toHaveLength(1);
    expect(json[0]?.generation).toMatch(/^[0-9a-f]{16}$/);
    expect(Number.isNaN(Date.parse(json[0]?.start ?? ''))).toBe(false);

    for (const command of ['snapshots', 'wal']) {
      const result = await run(command, queue, '--json');
      expect(result.code, result.stderr).toBe(0);
      expect((JSON.parse(result.stdout) as unknown[]).length).toBeGreaterThan(0);
    }
    const dbs = await run('databases');
    expect(dbs.stdout).toContain(main);
    expect(dbs.stdout).toContain(queue);

    const out = path.join(dir, 'restored.db');
    const restored = await run('restore', main, '-o', out);
    expect(restored.code, restored.stderr).toBe(0);
    expect(restored.stdout).toMatch(/^restored .*restored\.db from generation [0-9a-f]{16}/);
    expect(readIds(out)).toEqual(ids[0]);

    // Into place: the database is missing, as in a new container.
    expect(existsSync(main)).toBe(false);
    const intoPlace = await run('restore', main, '--json');
    expect(intoPlace.code, intoPlace.stderr).toBe(0);
    expect(JSON.parse(intoPlace.stdout)).toMatchObject({ path: main });

    const status = await run('status', '--json');
    expect(status.code, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout)).toEqual([
      expect.objectContaining({ path: main, localExists: true, replicating: false }),
      expect.objectContaining({ path: queue, localExists: false, replicating: false }),
    ]);

    // No app runs: verify replicates for the duration of the check.
    const verified = await run('verify', main, '--json', '--timeout', '30000');
    expect(verified.code, verified.stderr).toBe(0);
    expect(JSON.parse(verified.stdout)).toMatchObject({ database: main });
    expect(readIds(main)).toEqual(ids[0]);

    const shown = await run('config');
    expect(shown.stdout).toContain('[redacted]');
    expect(shown.stdout).toContain(prefix);

    for (const result of runs) expect(`${result.stdout}${result.stderr}`).not.toContain(secret);
  });

  it('exits 1 with one line on stderr when the operation fails', async () => {
    const dir = tempDir();
    const main = path.join(dir, 'app.db');
    const port = await closedPort();
    const unreachable = seedEnv('nothing', [main], { LITESTREAM_S3_ENDPOINT: `http://127.0.0.1:${port}` });
    const listing = await cli(['generations'], unreachable);
    expect(listing.code).toBe(1);
    expect(listing.stderr.trim().split('\n')).toHaveLength(1);
    expect(listing.stderr).toMatch(/^litestream-node generations: The replica .* could not be reached/);

    writeFileSync(main, 'not mine to overwrite');
    const refused = await cli(['restore'], seedEnv('nothing', [main]));
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/exists, and restore never overwrites a database/);

    const badTime = await cli(
      ['restore', '-o', path.join(dir, 'x.db'), '--timestamp', 'noon'],
      seedEnv('nothing', [main]),
    );
    expect(badTime.code).toBe(1);
    expect(badTime.stderr).toMatch(/timestamp "noon" is not a valid time/);
    expect(existsSync(path.join(dir, 'x.db'))).toBe(false);

    const badEnv = await cli(['generations'], { LITESTREAM_ENABLED: 'maybe', LITESTREAM_DATABASES: main });
    expect(badEnv.code).toBe(1);
    expect(badEnv.stderr).toMatch(/LITESTREAM_ENABLED/);
  });

  it('exits 2 on usage errors and prints help for each command', async () => {
    const env = seedEnv('nothing', ['/tmp/a.db', '/tmp/b.db']);
    expect((await cli([], env)).code).toBe(2);
    expect((await cli(['frobnicate'], env)).stderr).toMatch(/unknown command "frobnicate"/);
    expect((await cli(['generations', '--bogus'], env)).code).toBe(2);
    const ambiguous = await cli(['generations'], env);
    expect(ambiguous.code).toBe(2);
    expect(ambiguous.stderr).toMatch(/name the database: one of \/tmp\/a\.db, \/tmp\/b\.db/);
    const misplaced = await cli(['generations', '/tmp/a.db', '--timestamp', '2024-01-01T00:00:00Z'], env);
    expect(misplaced.code).toBe(2);
    expect(misplaced.stderr).toMatch(/--timestamp does not apply to "generations"/);
    for (const command of ['restore', 'generations', 'snapshots', 'wal', 'databases', 'verify', 'status', 'config']) {
      const help = await cli([command, '--help'], env);
      expect(help.code).toBe(0);
      expect(help.stdout).toMatch(new RegExp(`^Usage: litestream-node ${command}`));
    }
  });
});

/** The six connection variables and nothing else: what a user has in their app's environment. */
function connectionEnv(): Record<string, string> {
  const s3 = testS3();
  return {
    LITESTREAM_ENABLED: 'true',
    LITESTREAM_S3_BUCKET: s3.bucket,
    LITESTREAM_S3_ENDPOINT: s3.endpoint,
    LITESTREAM_S3_REGION: 'us-east-1',
    LITESTREAM_ACCESS_KEY_ID: s3.accessKeyId,
    LITESTREAM_SECRET_ACCESS_KEY: s3.secretAccessKey,
  };
}

describe('the CLI with only the connection variables', () => {
  it('takes the database from its argument in every command that names one, --json included', async () => {
    const dir = tempDir();
    // At the root of the bucket, as with no LITESTREAM_S3_PATH; a unique name keeps tests apart.
    const name = `cli-${randomUUID()}.sqlite3`;
    mkdirSync(path.join(dir, 'storage'));
    const { config, ids } = await seedBackup(dir, {
      databases: [path.join(dir, 'storage', name)],
      replica: s3Replica({ path: '' }),
    });
    const relative = path.join('storage', name);
    const env = connectionEnv();
    const run = (...args: string[]) => cli(args, env, dir);

    for (const command of ['generations', 'snapshots', 'wal']) {
      const table = await run(command, relative);
      expect(table.code, `${command}: ${table.stderr}`).toBe(0);
      expect(table.stdout.trim().split('\n').length, command).toBeGreaterThan(1);
      const json = await run(command, relative, '--json');
      expect(json.code, json.stderr).toBe(0);
      expect((JSON.parse(json.stdout) as unknown[]).length, command).toBeGreaterThan(0);
    }
    const out = path.join(dir, 'restored.db');
    const restored = await run('restore', relative, '-o', out, '--json');
    expect(restored.code, restored.stderr).toBe(0);
    expect(JSON.parse(restored.stdout)).toMatchObject({ path: out });
    expect(readIds(out)).toEqual(ids[0]);
    const status = await run('status', relative, '--json');
    expect(status.code, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout)).toEqual([
      expect.objectContaining({ path: config.databases[0]?.path, localExists: false }),
    ]);
    expect((await run('config', relative)).stdout).toContain(name);
    expect((await run('databases', relative)).stdout).toContain(name);
  });

  it('asks for the database in CLI terms when none is named', async () => {
    const missing = await cli(['generations'], connectionEnv());
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/litestream-node generations DB/);
    expect(missing.stderr).toMatch(/LITESTREAM_DATABASES/);
    expect(missing.stderr).toMatch(/--config/);
    expect(missing.stderr).not.toMatch(/overrides|\{ databases/);
    const status = await cli(['status', '--json'], connectionEnv());
    expect(status.code).toBe(2);
    expect(status.stderr).toMatch(/litestream-node status DB\.\.\./);
  });

  it('names its flags, not the API options, when a restore is refused', async () => {
    const dir = tempDir();
    const main = path.join(dir, 'app.db');
    const out = path.join(dir, 'out.db');
    const env = connectionEnv();
    const index = await cli(['restore', main, '-o', out, '--index', '1'], env);
    expect(index.code).toBe(1);
    expect(index.stderr).toMatch(
      /--index needs a generation: pass --generation \(see "litestream-node generations DB"\)/,
    );
    const both = await cli(
      ['restore', main, '-o', out, '--generation', 'abc', '--index', '1', '--timestamp', '2024-01-01T00:00:00Z'],
      env,
    );
    expect(both.stderr).toMatch(/--timestamp and --index exclude each other/);
    const badTime = await cli(['restore', main, '-o', out, '--timestamp', 'noon'], env);
    expect(badTime.stderr).toMatch(/--timestamp "noon" is not a valid time/);
    // An empty replica: said as such, not as a backup that does not match.
    const never = path.join(dir, `never-${randomUUID()}.db`);
    const none = await cli(['restore', never, '-o', out], env);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/There is no backup of .*never-.*\.db in s3:\/\/.* yet: nothing was restored\./);
    expect(existsSync(out)).toBe(false);
    writeFileSync(main, 'not mine to overwrite');
    const exists = await cli(['restore', main], env);
    expect(exists.stderr).toMatch(/pass --output with a new path/);
    expect(existsSync(out)).toBe(false);
  });
});

describe('CLI listings', () => {
  it('print generations oldest first with Litestream-style lags, never negative', async () => {
    const dir = tempDir();
    const { config } = testConfig(dir);
    const main = config.databases[0]?.path as string;
    const env = seedEnv((config.replica as { path: string }).path, [main]);
    // Each run after the app closed its database starts a new generation. Their ids are
    // random; keep going until their id order differs from their time order (or 8 runs).
    let listed = await generations(config, main);
    let idOrderDiffers = false;
    while (listed.length < 8 && !idOrderDiffers) {
      const second = Math.floor(Date.now() / 1000);
      for (const db of config.databases) writeRows(db.path, `run-${listed.length}`, 5);
      await replicateOnce(config);
      listed = await generations(config, main);
      const byId = [...listed].sort((a, b) => a.generation.localeCompare(b.generation));
      idOrderDiffers = byId.some((row, i) => row !== listed[i]);
      // Litestream stamps generations in whole seconds: the next one starts in a later second.
      while (Math.floor(Date.now() / 1000) === second) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(idOrderDiffers, 'eight random generation ids came out sorted').toBe(true);
    const table = await cli(['generations', main], env);
    expect(table.code, table.stderr).toBe(0);
    const rows = table.stdout
      .trim()
      .split('\n')
      .slice(1)
      .map((line) => line.split(/\s{2,}/));
    const starts = rows.map((row) => Date.parse(row[3] as string));
    expect(starts).toEqual([...starts].sort((a, b) => a - b));
    expect(rows.map((row) => row[1])).toEqual(listed.map((row) => row.generation));
    for (const row of rows) expect(row[2]).toMatch(/^(\d+h)?(\d+m)?\d+(\.\d)?s$|^\d+ms$/);

    const json = JSON.parse((await cli(['generations', main, '--json'], env)).stdout) as { lagMs: number }[];
    for (const row of json) expect(row.lagMs).toBeGreaterThanOrEqual(0);

    const wal = JSON.parse((await cli(['wal', main, '--json'], env)).stdout) as {
      generation: string;
      index: number;
      created: string;
    }[];
    const order = [...new Set(wal.map((row) => row.generation))];
    expect(order).toEqual(listed.map((row) => row.generation).filter((g) => order.includes(g)));
  });
});

describe('CLI verify on a stopped app', () => {
  it('says plainly what it changed in the replica, and the latest backup is the local database', async () => {
    const dir = tempDir();
    const { config } = testConfig(dir);
    const main = config.databases[0]?.path as string;
    const ids = writeRows(main, 'kept', 20);
    writeRows(config.databases[1]?.path as string, 'jobs', 1);
    const before = await replicateOnce(config);
    const env = seedEnv((config.replica as { path: string }).path, [main]);

    const verified = await cli(['verify', main, '--timeout', '30000'], env);
    expect(verified.code, verified.stderr).toBe(0);
    const newest = (await generations(config, main)).at(-1)?.generation as string;
    expect(newest).not.toBe(before);
    expect(verified.stdout).toContain('No app was replicating it');
    expect(verified.stdout).toContain(`started a new generation (${newest})`);
    expect(verified.stdout).toContain(`the previous one (${before}) stays`);
    expect(verified.stdout).toContain('that removal reached the replica');
    // Litestream's own warning about it is routine, and explained instead.
    expect(verified.stderr).not.toMatch(/cannot determine last wal position/);

    const latest = path.join(tempDir(), 'latest.db');
    await restore(config, { database: main, output: latest });
    expect(readIds(latest)).toEqual(ids);
    const db = new Database(latest, { readonly: true });
    try {
      expect(db.prepare("SELECT name FROM sqlite_schema WHERE name LIKE '%verify%'").all()).toEqual([]);
    } finally {
      db.close();
    }
    expect(readIds(main)).toEqual(ids);
  });
});

describe('the CLI with the seed’s own litestream.yml', () => {
  it('reads --config and lists what the app replicated', async () => {
    const dir = tempDir();
    const { config } = await seedBackup(dir);
    const [main, queue] = config.databases.map((db) => db.path) as [string, string];
    const prefix = (config.replica as { path: string }).path;
    const yaml = path.join(dir, 'litestream.yml');
    writeFileSync(
      yaml,
      [main, queue]
        .map(
          (db) => `  - path: ${db}
    replicas:
      - type: s3
        bucket: \${LITESTREAM_S3_BUCKET}
        endpoint: \${LITESTREAM_S3_ENDPOINT}
        region: us-east-1
        path: ${prefix}/${path.basename(db)}
        access-key-id: \${LITESTREAM_ACCESS_KEY_ID}
        secret-access-key: \${LITESTREAM_SECRET_ACCESS_KEY}`,
        )
        .reduce((text, entry) => `${text}${entry}\n`, 'dbs:\n'),
    );
    const s3 = testS3();
    const env = {
      LITESTREAM_S3_BUCKET: s3.bucket,
      LITESTREAM_S3_ENDPOINT: s3.endpoint,
      LITESTREAM_ACCESS_KEY_ID: s3.accessKeyId,
      LITESTREAM_SECRET_ACCESS_KEY: s3.secretAccessKey,
    };
    const listed = await cli(['generations', queue, '--config', yaml, '--json'], env);
    expect(listed.code, listed.stderr).toBe(0);
    expect(JSON.parse(listed.stdout)).toHaveLength(1);
    const shown = await cli(['config', '--config', yaml], env);
    expect(shown.stdout).not.toContain(s3.secretAccessKey);
    expect(shown.stdout).toContain('[redacted]');
  });
});

describe('restore progress', () => {
  it('shows elapsed time and what is being restored on a terminal, and nothing when piped', async () => {
    const dir = tempDir();
    const { config } = await seedBackup(dir);
    const main = config.databases[0]?.path as string;
    const env = seedEnv((config.replica as { path: string }).path, [main]);
    const piped = await cli(['restore', '-o', path.join(dir, 'piped.db')], env);
    expect(piped.code, piped.stderr).toBe(0);
    expect(piped.stderr).toBe('');

    // `script` gives the CLI a real terminal.
    const command = [process.execPath, CLI, 'restore', '-o', path.join(dir, 'tty.db')]
      .map((arg) => `'${arg}'`)
      .join(' ');
    const tty = await new Promise<Run>((resolve) => {
      execFile(
        'script',
        ['-qec', command, '/dev/null'],
        { env: { PATH: process.env.PATH ?? '', TERM: 'dumb', ...env } },
        (error, stdout, stderr) => resolve({ code: error ? 1 : 0, stdout, stderr }),
      );
    });
    expect(tty.code, tty.stdout).toBe(0);
    expect(tty.stdout).toMatch(/\[\d+\.\ds\] restoring snapshot [0-9a-f]{16}/);
    expect(tty.stdout).toMatch(/restored .*tty\.db from generation/);
  });
});
