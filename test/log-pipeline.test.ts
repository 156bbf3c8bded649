// What a log pipeline sees: the library and litestream (both versions, real binaries) logging
// through a real pino logger (Fastify's), each line read back with JSON.parse.
import { hostname } from 'node:os';
import path from 'node:path';
import Fastify from 'fastify';
import { describe, expect, inject, it } from 'vitest';
import { ensureRestored, resolveBinary, startReplication } from '../src/index.js';
import { cli } from './support/cli.js';
import { seedEnv, tempDir, testConfig, track, writeRows } from './support/fixtures.js';

const v05 = inject('litestream05Binary');

/** Fastify's pino logger at debug, writing JSON lines into memory. */
function pinoLogger() {
  const written: string[] = [];
  const app = Fastify({ logger: { level: 'debug', stream: { write: (line: string) => written.push(line) } } });
  return { logger: app.log, written };
}

/**
 * The keys of a JSON object's top level, in order and with duplicates (which JSON.parse
 * silently drops, keeping the last).
 */
function topLevelKeys(json: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  let expectKey = false;
  for (let i = 0; i < json.length; i++) {
    const char = json[i];
    if (char === '"') {
      let end = i + 1;
      while (json[end] !== '"') end += json[end] === '\\' ? 2 : 1;
      if (depth === 1 && expectKey) keys.push(JSON.parse(json.slice(i, end + 1)) as string);
      expectKey = false;
      i = end;
    } else if (char === '{' || char === '[') {
      depth++;
      expectKey = depth === 1;
    } else if (char === '}' || char === ']') depth--;
    else if (char === ',' && depth === 1) expectKey = true;
  }
  return keys;
}

const PINO_LEVELS = [20, 30, 40, 50];

describe.each(['0.3', '0.5'] as const)('litestream %s through pino', (version) => {
  it("every line keeps pino's level, pid, time and hostname; litestream's fields are nested; lease lines are the lease's", async () => {
    const dir = tempDir();
    const { logger, written } = pinoLogger();
    const binaryPath = version === '0.5' ? v05 : (await resolveBinary(undefined, {})).path;
    const { config } = testConfig(dir, { logger, binaryPath });
    const main = config.databases[0]?.path as string;
    for (const db of config.databases) writeRows(db.path, 'rows', 5);
    // The boot takes the lease; the replication that follows renews and releases it.
    await ensureRestored(config);
    const replication = track(startReplication(config));
    await replication.ready;
    const synced = new Promise((resolve) => replication.on('sync', (event) => event.db === main && resolve(undefined)));
    writeRows(main, 'more', 5);
    await synced;
    expect((await replication.stop()).clean).toBe(true);

    expect(written.length).toBeGreaterThan(10);
    const entries = written.map((line) => {
      const keys = topLevelKeys(line);
      expect(new Set(keys).size, `a key repeats in ${line}`).toBe(keys.length);
      return JSON.parse(line) as Record<string, unknown> & { litestream?: Record<string, unknown> };
    });
    for (const entry of entries) {
      expect(entry.pid, JSON.stringify(entry)).toBe(process.pid);
      expect(entry.hostname).toBe(hostname());
      expect(typeof entry.time).toBe('number');
      expect(PINO_LEVELS, JSON.stringify(entry)).toContain(entry.level);
    }
    // Litestream's own lines, its fields under one key.
    const forwarded = entries.filter((entry) => entry.litestream !== undefined);
    expect(forwarded.length).toBeGreaterThan(3);
    for (const entry of forwarded) expect(typeof entry.litestream).toBe('object');
    if (version === '0.5') {
      // Its lines with a second `level` (the LTX level): pino's level is still pino's.
      const uploaded = forwarded.filter((entry) => entry.msg === 'ltx file uploaded');
      expect(uploaded.length).toBeGreaterThan(0);
      for (const entry of uploaded) {
        expect(entry.level).toBe(20);
        expect(entry.litestream?.level).toBe(0);
      }
    }
    // The library's own line about litestream's process names its pid apart from pino's.
    const replicating = entries.find((entry) => entry.msg === 'litestream replicating');
    expect(replicating?.litestreamPid).toEqual(expect.any(Number));
    expect(replicating?.litestreamPid).not.toBe(process.pid);

    // Taken by the boot's restore, released by the replication's stop: the lease's own lines.
    const released = entries.filter((entry) => entry.msg === 'replica lease released');
    expect(released.map((entry) => entry.component)).toEqual(config.databases.map(() => 'lease'));
    expect(entries.filter((entry) => /^replica lease (renewed|released)/.test(String(entry.msg)))).not.toContainEqual(
      expect.objectContaining({ component: 'restore' }),
    );
  });
});

describe('the AWS_CA_BUNDLE notice (Litestream 0.5)', () => {
  it('is not printed by each CLI command: the library handles it, said at info', async () => {
    const dir = tempDir();
    const db = path.join(dir, 'app.sqlite3');
    writeRows(db, 'rows', 3);
    const env = seedEnv(`ca-${Date.now()}`, [db], {
      LITESTREAM_BINARY_PATH: v05,
      AWS_CA_BUNDLE: '/etc/ssl/certs/ca-certificates.crt',
    });
    for (const command of ['backups', 'databases']) {
      const run = await cli([command, db], env);
      expect(run.code, run.stderr).toBe(0);
      expect(run.stderr).not.toMatch(/AWS_CA_BUNDLE/);
    }
  });
});
