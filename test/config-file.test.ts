import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { configFromEnv, defineConfig, ensureRestored, type LitestreamConfigError } from '../src/index.js';
import {
  captureLogger,
  deleteDatabase,
  integrity,
  readIds,
  replicateOnce,
  tempDir,
  writeRows,
} from './support/fixtures.js';
import { engine } from './support/litestream-version.js';
import { testS3 } from './support/s3-per-file.js';

/** The seed's config/litestream.yml, pointing at the test server through the seed's variables. */
function seedYaml(dir: string, prefix: string): string {
  return `dbs:
  - path: ${path.join(dir, 'storage/production.sqlite3')}
    replicas:
      - type: s3
        bucket: \${LITESTREAM_S3_BUCKET}
        path: ${prefix}/production.sqlite3
        endpoint: \${LITESTREAM_S3_ENDPOINT}
        region: \${LITESTREAM_S3_REGION}
        access-key-id: \${LITESTREAM_ACCESS_KEY_ID}
        secret-access-key: \${LITESTREAM_SECRET_ACCESS_KEY}
        sync-interval: 1s
        retention: 168h
        snapshot-interval: 24h
  - path: ${path.join(dir, 'storage/production_queue.sqlite3')}
    replicas:
      - type: s3
        bucket: $LITESTREAM_S3_BUCKET
        path: ${prefix}/production_queue.sqlite3
        endpoint: $LITESTREAM_S3_ENDPOINT
        region: $LITESTREAM_S3_REGION
        access-key-id: $LITESTREAM_ACCESS_KEY_ID
        secret-access-key: $LITESTREAM_SECRET_ACCESS_KEY
        sync-interval: 1s
exec: bin/rails server
logging:
  level: warn
`;
}

function seedEnv(configFile: string) {
  const s3 = testS3();
  return {
    LITESTREAM_ENABLED: 'true',
    LITESTREAM_CONFIG: configFile,
    LITESTREAM_S3_BUCKET: s3.bucket,
    LITESTREAM_S3_ENDPOINT: s3.endpoint,
    LITESTREAM_S3_REGION: s3.region,
    LITESTREAM_ACCESS_KEY_ID: s3.accessKeyId,
    LITESTREAM_SECRET_ACCESS_KEY: s3.secretAccessKey,
  };
}

describe("the user's own litestream.yml", () => {
  it("times the watchdogs by the file's sync-interval, not the option's default: the longest replica's, else the top-level one, else litestream's 1 s", () => {
    const dir = tempDir();
    const file = (name: string, text: string) => {
      const yml = path.join(dir, name);
      writeFileSync(yml, text);
      return yml;
    };
    const replica = (sub: string, extra = '') => `      - type: file\n        path: ${path.join(dir, sub)}\n${extra}`;
    const twoIntervals = file(
      'two.yml',
      `dbs:\n  - path: ${path.join(dir, 'a.db')}\n    replicas:\n${replica('ra', '        sync-interval: 1s\n')}  - path: ${path.join(dir, 'b.db')}\n    replicas:\n${replica('rb', '        sync-interval: 30s\n')}`,
    );
    const none = file('none.yml', `dbs:\n  - path: ${path.join(dir, 'a.db')}\n    replicas:\n${replica('ra')}`);
    const topLevel = file(
      'top.yml',
      `sync-interval: 5s\ndbs:\n  - path: ${path.join(dir, 'a.db')}\n    replica:\n      type: file\n      path: ${path.join(dir, 'ra')}\n`,
    );
    const of = (configFile: string) => {
      const config = defineConfig({ configFile, logger: false });
      return [config.syncInterval, config.syncIntervalMs];
    };
    expect(of(twoIntervals)).toEqual(['30s', 30_000]);
    expect(of(none)).toEqual(['1s', 1_000]);
    expect(of(topLevel)).toEqual(['5s', 5_000]);
  });

  it("round-trips the seed's two databases through the seed's YAML, with no secret in the rendered copy", async () => {
    const dir = tempDir();
    const file = path.join(dir, 'litestream.yml');
    const prefix = `yaml-${Date.now()}`;
    const original = seedYaml(dir, prefix);
    writeFileSync(file, original);
    const logger = captureLogger();
    const config = configFromEnv(seedEnv(file), { logger });
    const [main, queue] = config.databases.map((db) => db.path) as [string, string];
    expect([main, queue]).toEqual([
      path.join(dir, 'storage/production.sqlite3'),
      path.join(dir, 'storage/production_queue.sqlite3'),
    ]);

    const rendered = engine.renderYaml(config);
    expect(rendered).not.toContain(testS3().secretAccessKey);
    expect(rendered).not.toContain(testS3().accessKeyId);
    expect(rendered).not.toContain('exec');
    expect(rendered).toMatch(/type: json/);
    expect(rendered).toContain(testS3().endpoint);
    // Parsed once, when the config was built: the document is frozen and shared, rendering it
    // again gives the same file, and each database's replica comes from it, with the file's keys.
    expect(Object.isFrozen(config.configFile?.document.dbs[0])).toBe(true);
    expect(engine.renderYaml(config)).toBe(rendered);
    expect(config.databases.map((db) => db.replicas)).toEqual(
      ['production.sqlite3', 'production_queue.sqlite3'].map((name) => [
        {
          type: 's3',
          bucket: testS3().bucket,
          prefix: `${prefix}/${name}`,
          endpoint: testS3().endpoint,
          region: testS3().region,
          forcePathStyle: undefined,
          skipVerify: false,
          credentials: config.credentials,
        },
      ]),
    );
    expect(config.credentials?.secretAccessKey.reveal()).toBe(testS3().secretAccessKey);

    expect((await ensureRestored(config)).map((r) => r.outcome)).toEqual(['no-backup', 'no-backup']);
    const { mkdirSync } = await import('node:fs');
    mkdirSync(path.join(dir, 'storage'), { recursive: true });
    const ids = [writeRows(main, 'orders', 40), writeRows(queue, 'jobs', 10)];
    await replicateOnce(config);

    deleteDatabase(main);
    deleteDatabase(queue);
    expect((await ensureRestored(config)).map((r) => r.outcome)).toEqual(['restored', 'restored']);
    expect([readIds(main), readIds(queue)]).toEqual(ids);
    expect(integrity(main)).toBe('ok');
    expect(readFileSync(file, 'utf8')).toBe(original);
    expect(logger.text()).not.toContain(testS3().secretAccessKey);
  });

  const cases: [string, (dir: string) => unknown, string, RegExp][] = [
    [
      'a missing file',
      (dir) => defineConfig({ configFile: path.join(dir, 'nope.yml') }),
      'configFile',
      /cannot read .*ENOENT/,
    ],
    [
      'invalid YAML',
      (dir) => defineConfig({ configFile: write(dir, 'dbs: [\n  - path: "unterminated') }),
      'configFile',
      /not valid YAML/,
    ],
    [
      'no dbs',
      (dir) => defineConfig({ configFile: write(dir, 'logging:\n  type: json\n') }),
      'configFile',
      /lists no databases/,
    ],
    [
      'a db without replicas',
      (dir) => defineConfig({ configFile: write(dir, 'dbs:\n  - path: /tmp/a.db\n') }),
      'configFile',
      /has no replica: add one under "replica:"/,
    ],
    [
      'two credential pairs',
      (dir) => defineConfig({ configFile: write(dir, twoPairs) }),
      'configFile',
      /more than one pair of credentials/,
    ],
    [
      'a database not in the file',
      (dir) => defineConfig({ configFile: write(dir, oneDb), databases: ['/tmp/other.db'] }),
      'databases[0]',
      /is not in/,
    ],
    [
      'a replica as well',
      (dir) => defineConfig({ configFile: write(dir, oneDb), replica: { type: 'file', path: dir } }),
      'replica',
      /cannot be combined with configFile/,
    ],
    [
      'LITESTREAM_CONFIG missing',
      (dir) => configFromEnv({ LITESTREAM_ENABLED: 'true', LITESTREAM_CONFIG: path.join(dir, 'x.yml') }),
      'LITESTREAM_CONFIG',
      /cannot read/,
    ],
  ];
  it.each(cases)('rejects %s, naming %s', (_name, run, field, message) => {
    const dir = tempDir();
    let error: LitestreamConfigError | undefined;
    try {
      run(dir);
    } catch (caught) {
      error = caught as LitestreamConfigError;
    }
    expect(error?.name).toBe('LitestreamConfigError');
    const issue = error?.issues.find((candidate) => candidate.field === field);
    expect(issue, JSON.stringify(error?.issues)).toBeDefined();
    expect(issue?.message).toMatch(message);
    expect(readdirSync(dir).filter((name) => name.endsWith('.db'))).toEqual([]);
  });
});

const oneDb = 'dbs:\n  - path: /tmp/a.db\n    replicas:\n      - type: file\n        path: /tmp/a-replica\n';
const twoPairs = `dbs:
  - path: /tmp/a.db
    replicas:
      - { type: s3, bucket: b, access-key-id: one, secret-access-key: s1 }
      - { type: s3, bucket: c, access-key-id: two, secret-access-key: s2 }
`;

function write(dir: string, text: string): string {
  const file = path.join(dir, 'litestream.yml');
  writeFileSync(file, text);
  return file;
}
