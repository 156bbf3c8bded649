import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ensureRestored, startReplication } from '../src/index.js';
import {
  closedPort,
  deleteDatabase,
  litestreamChildren,
  s3Replica,
  tempDir,
  testConfig,
  track,
  writeRows,
} from './support/fixtures.js';
import { testS3 } from './support/s3-per-file.js';

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.join(entry.parentPath, entry.name));
}

describe('the secret access key never leaks', () => {
  it('not in logs, errors, the rendered YAML, files beside the database, or the process list', async () => {
    const { secretAccessKey, accessKeyId } = testS3();
    const dir = tempDir();
    const { config, logger } = testConfig(dir);
    const seen: string[] = [];

    await ensureRestored(config);
    for (const db of config.databases) writeRows(db.path, 'secret-test', 20);
    const replication = track(startReplication(config));
    replication.on('log', (line) => seen.push(JSON.stringify(line)));
    await replication.ready;

    const [pid] = litestreamChildren();
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    expect(cmdline.join(' ')).not.toContain(secretAccessKey);
    const yamlPath = cmdline[cmdline.indexOf('-config') + 1] as string;
    const yaml = readFileSync(yamlPath, 'utf8');
    expect(yaml).not.toContain(secretAccessKey);
    expect(yaml).not.toContain(accessKeyId);
    expect(yaml).toContain('logging:');
    expect(statSync(yamlPath).mode & 0o777).toBe(0o600);
    expect(statSync(path.dirname(yamlPath)).mode & 0o777).toBe(0o700);

    seen.push(inspect(replication.status(), { depth: 10 }), inspect(config, { depth: 10 }), JSON.stringify(config));
    await replication.stop();
    // The private config directory is gone with the replicator.
    expect(() => statSync(path.dirname(yamlPath))).toThrow();

    // A restore, and a failed one whose error carries litestream's output.
    for (const db of config.databases) deleteDatabase(db.path);
    await ensureRestored(config);
    const port = await closedPort();
    const { config: broken } = testConfig(tempDir(), {
      replica: s3Replica({ endpoint: `http://127.0.0.1:${port}` }),
      restore: { retryForMs: 300 },
    });
    const error = (await ensureRestored(broken).catch((reason: unknown) => reason)) as Error & { detail?: string };
    expect(error.name).toBe('ReplicaUnreachableError');
    seen.push(error.message, String(error.detail), String(error.stack), inspect(error));

    for (const file of filesUnder(dir)) {
      if (file.endsWith('.sqlite3')) continue;
      seen.push(readFileSync(file, 'utf8'));
    }
    const everything = [logger.text(), ...seen].join('\n');
    expect(logger.lines.length).toBeGreaterThan(20);
    expect(everything).not.toContain(secretAccessKey);
  });
});
