// `litestream-node run -- COMMAND`: any app, unchanged, between a restore and a final sync,
// against the real litestream and S3 server. The example app under it, end to end, is in
// examples.test.ts.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { configFromEnv } from '../src/index.js';
import { cli } from './support/cli.js';
import { closedPort, litestreamChildren, readIds, replicaIds, seedEnv, tempDir } from './support/fixtures.js';
import { family } from './support/litestream-version.js';

const require = createRequire(import.meta.url);

/** The environment of a container: the seed's variables for `database`, and this project's litestream. */
function containerEnv(prefix: string, database: string, overrides: Record<string, string> = {}) {
  const binary = process.env.LITESTREAM_BINARY_PATH;
  return { ...seedEnv(prefix, [database], overrides), ...(binary ? { LITESTREAM_BINARY_PATH: binary } : {}) };
}

/** A command that writes `label` rows into `database` as an app would, then exits with `code`. */
function writerCommand(database: string, code: number): string[] {
  const script = `
    const Database = require(${JSON.stringify(require.resolve('better-sqlite3'))});
    const db = new Database(${JSON.stringify(database)});
    db.pragma('journal_mode = WAL');
    db.exec('CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, label TEXT)');
    for (let i = 0; i < 5; i++) db.prepare('INSERT INTO items (label) VALUES (?)').run('from-the-app');
    db.close();
    process.exit(${code});
  `;
  return [process.execPath, '-e', script];
}

describe('litestream-node run', () => {
  it("exits with the command's own status, after the final sync took what it wrote to the replica", async () => {
    const dir = tempDir();
    const database = path.join(dir, 'app.sqlite3');
    const prefix = `run-status-${Date.now()}`;
    const env = containerEnv(prefix, database);
    const run = await cli(['run', '--', ...writerCommand(database, 3)], env);
    expect(run.code, run.stderr).toBe(3);
    expect(run.stderr).not.toContain(env.LITESTREAM_SECRET_ACCESS_KEY);
    expect(litestreamChildren()).toEqual([]);
    expect(await replicaIds(configFromEnv(env, { logger: false }), database)).toEqual(readIds(database));
    expect(readIds(database)).toHaveLength(5);
  });

  it('reports a command ended by a signal as 128 + its number, and one that cannot start as 127', async () => {
    const dir = tempDir();
    const database = path.join(dir, 'app.sqlite3');
    const env = containerEnv(`run-signal-${Date.now()}`, database);
    const killed = await cli(['run', '--', process.execPath, '-e', "process.kill(process.pid, 'SIGKILL')"], env);
    expect(killed.code, killed.stderr).toBe(137);
    const missing = await cli(['run', '--', path.join(dir, 'no-such-command')], env);
    expect(missing.code, missing.stderr).toBe(127);
    expect(missing.stderr).toMatch(/could not start .*no-such-command/);
    expect(litestreamChildren()).toEqual([]);
  });

  // The retries are the library's own, whatever the version (failures.test.ts covers an
  // unreachable replica on 0.5): run once, in the 0.3 project, with 2 s of them.
  it.runIf(family === '0.3')(
    'never starts the command when the replica cannot be reached: exit 1, no database, nothing left running',
    async () => {
      const dir = tempDir();
      const database = path.join(dir, 'app.sqlite3');
      const marker = path.join(dir, 'the-app-started');
      const env = containerEnv(`run-outage-${Date.now()}`, database, {
        LITESTREAM_S3_ENDPOINT: `http://127.0.0.1:${await closedPort()}`,
        LITESTREAM_RESTORE_RETRY_FOR: '2s',
      });
      const run = await cli(
        ['run', '--', process.execPath, '-e', `require('node:fs').writeFileSync(${JSON.stringify(marker)}, '')`],
        {
          ...env,
        },
      );
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(/litestream-node run: .*could not be reached/);
      expect(existsSync(marker)).toBe(false);
      expect(existsSync(database)).toBe(false);
      expect(litestreamChildren()).toEqual([]);
    },
  );

  it("gives the app its environment without litestream-node's secrets, and /health and /metrics say nothing about the host unless asked", async () => {
    const dir = tempDir();
    const database = path.join(dir, 'app.sqlite3');
    const env = containerEnv(`run-env-${Date.now()}`, database);
    // The app reads what run serves on 127.0.0.1 once healthy, and what its environment holds.
    const probe = async (flags: string[]) => {
      const port = await closedPort();
      const out = path.join(dir, `probe-${flags.length}.json`);
      const script = `
        const get = async (route) => {
          const answer = await fetch('http://127.0.0.1:${port}' + route);
          return { status: answer.status, body: await answer.text() };
        };
        (async () => {
          let health = await get('/health');
          while (health.status !== 200) health = await new Promise((r) => setTimeout(r, 50)).then(() => get('/health'));
          const metrics = await get('/metrics');
          const variables = Object.keys(process.env).filter((name) => name.startsWith('LITESTREAM_'));
          require('node:fs').writeFileSync(${JSON.stringify(out)}, JSON.stringify({ health, metrics, variables }));
        })();
      `;
      const run = await cli(
        ['run', '--metrics-port', String(port), ...flags, '--', process.execPath, '-e', script],
        env,
      );
      expect(run.code, run.stderr).toBe(0);
      return JSON.parse(readFileSync(out, 'utf8')) as {
        health: { body: string };
        metrics: { body: string };
        variables: string[];
      };
    };

    const plain = await probe([]);
    expect(JSON.parse(plain.health.body)).toEqual({ state: 'running', healthy: true });
    expect(plain.metrics.body).toMatch(
      /^litestream_node_restore_info\{database="app\.sqlite3",outcome="no-backup"\} 1$/m,
    );
    expect(plain.metrics.body).not.toContain(dir);
    expect(plain.variables).toContain('LITESTREAM_S3_BUCKET');
    expect(plain.variables).not.toContain('LITESTREAM_SECRET_ACCESS_KEY');
    expect(plain.variables).not.toContain('LITESTREAM_ACCESS_KEY_ID');

    const asked = await probe(['--health-details', '--pass-secrets']);
    expect(JSON.parse(asked.health.body)).toMatchObject({ state: 'running', healthy: true, pid: expect.any(Number) });
    expect(asked.health.body).toContain(database);
    expect(asked.metrics.body).not.toContain(dir);
    expect(asked.variables).toEqual(
      expect.arrayContaining(['LITESTREAM_SECRET_ACCESS_KEY', 'LITESTREAM_ACCESS_KEY_ID']),
    );
    expect(litestreamChildren()).toEqual([]);
  });

  it('names what is wrong with its own arguments (exit 2)', async () => {
    const env = containerEnv(`run-usage-${Date.now()}`, path.join(tempDir(), 'app.sqlite3'));
    const noCommand = await cli(['run'], env);
    expect(noCommand.code).toBe(2);
    expect(noCommand.stderr).toMatch(/which command\? Put it after --/);
    const badPort = await cli(['run', '--metrics-port', 'x', '--', 'true'], env);
    expect(badPort.code).toBe(2);
    expect(badPort.stderr).toMatch(/--metrics-port takes a port number/);
    const detailsAlone = await cli(['run', '--health-details', '--', 'true'], env);
    expect(detailsAlone.code).toBe(2);
    expect(detailsAlone.stderr).toMatch(/--health-details needs --metrics-port/);
  });
});
