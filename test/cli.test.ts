import { execFile } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { closedPort, readIds, seedBackup, seedEnv, tempDir } from './support/fixtures.js';
import { testS3 } from './support/s3-per-file.js';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI in its own process, configured by the seed's variables. */
function cli(args: string[], env: Record<string, string>, cwd?: string): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { env: { PATH: process.env.PATH ?? '', ...env }, cwd, timeout: 60_000 },
      (error, stdout, stderr) => {
        resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
      },
    );
  });
}

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
    expect(header).toMatch(/^name\s+generation\s+lag\s+start\s+end$/);
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
