// Messages name what the user set: the server's own error code and the credentials actually
// in use, the environment variable a setting came from, the CLI's own commands, and a
// misspelt LITESTREAM_* variable.
import path from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { credentialNames } from '../src/config/credential-names.js';
import { unknownVariables } from '../src/config/env-typos.js';
import {
  configFromEnv,
  defineConfig,
  ensureRestored,
  LitestreamConfigError,
  ReplicaUnreachableError,
  resolveBinary,
} from '../src/index.js';
import { forgetProcessNotices } from '../src/logging/process-notices.js';
import { cli } from './support/cli.js';
import { captureLogger, seedEnv, tempDir, writeRows } from './support/fixtures.js';
import { testS3 } from './support/s3-per-file.js';

const v05 = inject('litestream05Binary');

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a rejection');
}

/** Runs `fn` with these variables in process.env (litestream's environment comes from it), then puts it back. */
async function withProcessEnv<T>(vars: Record<string, string | undefined>, fn: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((name) => [name, process.env[name]]));
  const put = (values: Record<string, string | undefined>) => {
    for (const [name, value] of Object.entries(values)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  };
  put(vars);
  try {
    return await fn();
  } finally {
    put(saved);
  }
}

/** The test server's keys as AWS_* variables with a session token it does not accept, and no LITESTREAM_* keys. */
function awsKeysWithBadToken() {
  const s3 = testS3();
  return {
    AWS_ACCESS_KEY_ID: s3.accessKeyId,
    AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
    AWS_SESSION_TOKEN: 'not-a-valid-session-token',
    LITESTREAM_ACCESS_KEY_ID: undefined,
    LITESTREAM_SECRET_ACCESS_KEY: undefined,
    AWS_PROFILE: undefined,
  };
}

describe.each(['0.3', '0.5'] as const)('a bad AWS_SESSION_TOKEN (Litestream %s)', (version) => {
  it("is reported with the server's code (InvalidToken) and the variables in use, not LITESTREAM_* keys", async () => {
    const binaryPath = version === '0.5' ? v05 : (await resolveBinary(undefined, {})).path;
    const dir = tempDir();
    const s3 = testS3();
    const {
      LITESTREAM_ACCESS_KEY_ID: _,
      LITESTREAM_SECRET_ACCESS_KEY: __,
      ...env
    } = seedEnv(`token-${Date.now()}`, [path.join(dir, 'app.sqlite3')], {
      LITESTREAM_BINARY_PATH: binaryPath,
      LITESTREAM_S3_ENDPOINT: s3.endpoint,
    });
    // Litestream's own requests (a lease neither taken nor read: no Node request comes
    // first), then the lease's.
    for (const lease of ['off-write-over-live-holder', 'wait']) {
      const error = await withProcessEnv(awsKeysWithBadToken(), () =>
        rejection(ensureRestored(configFromEnv({ ...env, LITESTREAM_LEASE: lease }, { logger: captureLogger() }))),
      );
      expect(error, lease).toBeInstanceOf(ReplicaUnreachableError);
      expect(error.message, lease).toMatch(/rejected the credentials .*the server answered InvalidToken/);
      expect(error.message, lease).toMatch(
        /signed with AWS_ACCESS_KEY_ID \/ AWS_SECRET_ACCESS_KEY \/ AWS_SESSION_TOKEN in the environment: check AWS_SESSION_TOKEN/,
      );
      expect(error.message, lease).not.toContain('LITESTREAM_ACCESS_KEY_ID');
      expect(error.message, lease).not.toContain('not-a-valid-session-token');
      // Who answered: litestream (its SDK's wording) or the Node process.
      const detail = (error as ReplicaUnreachableError).detail ?? '';
      if (lease === 'wait') expect(detail).toMatch(/^The credentials were refused by .*\(400 InvalidToken/);
      else
        expect(detail).toMatch(version === '0.5' ? /api error InvalidToken/ : /cannot fetch generations: InvalidToken/);
    }
  });
});

describe('the CLI', () => {
  it("shows the server's code and the variables in use when the credentials are refused", async () => {
    const dir = tempDir();
    const db = path.join(dir, 'app.sqlite3');
    const {
      LITESTREAM_ACCESS_KEY_ID: _,
      LITESTREAM_SECRET_ACCESS_KEY: __,
      ...env
    } = seedEnv(`cli-token-${Date.now()}`, [db]);
    const { AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN } = awsKeysWithBadToken();
    const run = await cli(['restore', db], { ...env, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN });
    expect(run.code).toBe(1);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(/the server answered InvalidToken/);
    expect(run.stderr).toMatch(/check AWS_SESSION_TOKEN/);
    expect(run.stderr).not.toContain('LITESTREAM_ACCESS_KEY_ID');
  });

  it('names its own commands when a listing needs the other Litestream version', async () => {
    const dir = tempDir();
    const db = path.join(dir, 'app.sqlite3');
    writeRows(db, 'rows', 1);
    const on03 = await cli(['ltx', db], seedEnv(`ltx-${Date.now()}`, [db]));
    expect(on03.code).toBe(1);
    expect(on03.stderr).toMatch(/"litestream-node ltx" needs Litestream 0\.5/);
    expect(on03.stderr).toMatch(/"litestream-node generations" lists its backups/);
    expect(on03.stderr).toMatch(/"litestream-node backups" lists the points it can restore to on either version/);
    expect(on03.stderr).not.toMatch(/\w\(\)/);
    const on05 = await cli(
      ['generations', db],
      seedEnv(`generations-${Date.now()}`, [db], { LITESTREAM_BINARY_PATH: v05, AWS_CA_BUNDLE: '' }),
    );
    expect(on05.code).toBe(1);
    expect(on05.stderr).toMatch(/"litestream-node generations" needs Litestream 0\.3, .*"litestream-node ltx" lists/);
    expect(on05.stderr).not.toMatch(/\w\(\)/);
  });

  it('warns once about a misspelt LITESTREAM_* variable, and leaves litestream’s own alone', async () => {
    const dir = tempDir();
    const db = path.join(dir, 'app.sqlite3');
    const env = seedEnv(`typo-${Date.now()}`, [db], {
      LITESTREAM_SYNC_INTERVALL: '1s',
      LITESTREAM_REPLICA_URL: 's3://bucket/app.db',
      LITESTREAM_LOG_LEVEL: 'debug',
    });
    const run = await cli(['databases', db], env);
    expect(run.code, run.stderr).toBe(0);
    const warnings = run.stderr.split('\n').filter((line) => line.startsWith('warning:'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('LITESTREAM_SYNC_INTERVALL (did you mean LITESTREAM_SYNC_INTERVAL?)');
    expect(run.stderr).not.toMatch(/LITESTREAM_REPLICA_URL|LITESTREAM_LOG_LEVEL/);
  });
});

describe('settings from the environment', () => {
  it('a misspelt variable behind a missing one is named in the error, with what it likely meant', () => {
    const error = (() => {
      try {
        configFromEnv({
          LITESTREAM_ENABLED: 'true',
          LITESTREAM_S3_BUCKETT: 'app-backups',
          LITESTREAM_DATABASES: 'a.db',
        });
      } catch (caught) {
        return caught as LitestreamConfigError;
      }
      throw new Error('expected a LitestreamConfigError');
    })();
    expect(error).toBeInstanceOf(LitestreamConfigError);
    expect(error.issues).toContainEqual({
      field: 'LITESTREAM_S3_BUCKETT',
      message: 'is read by neither litestream-node nor Litestream: did you mean LITESTREAM_S3_BUCKET?',
    });
  });

  it('a config that builds warns once per process about the unknown variables', () => {
    forgetProcessNotices();
    const logger = captureLogger();
    const env = { LITESTREAM_DATABASES: 'a.db', LITESTREAM_RETENTON: '24h', LITESTREAM_BUCKET: 'x' };
    configFromEnv(env, { logger });
    configFromEnv(env, { logger });
    expect(logger.lines.map((line) => line.level)).toEqual(['warn', 'debug']);
    expect(logger.lines[0]?.message).toContain(
      'LITESTREAM_BUCKET (did you mean LITESTREAM_S3_BUCKET?), LITESTREAM_RETENTON (did you mean LITESTREAM_RETENTION?)',
    );
  });

  it('suggests only a close or unambiguous name, and ignores LITESTREAM_NODE_* and litestream’s own', () => {
    const names = (env: Record<string, string>) =>
      unknownVariables(env, ['LITESTREAM_S3_PATH', 'LITESTREAM_BINARY_PATH']);
    expect(names({ LITESTREAM_PATH: 'x', LITESTREAM_WHATEVER: 'y' })).toEqual([
      { name: 'LITESTREAM_PATH', didYouMean: undefined },
      { name: 'LITESTREAM_WHATEVER', didYouMean: undefined },
    ]);
    expect(names({ LITESTREAM_S3_ACCESS_KEY_ID: 'k' })).toEqual([
      { name: 'LITESTREAM_S3_ACCESS_KEY_ID', didYouMean: 'LITESTREAM_ACCESS_KEY_ID' },
    ]);
    expect(
      names({ LITESTREAM_NODE_TOOLS_CACHE: 'x', LITESTREAM_CONFIG: 'y', LITESTREAM_AZURE_SAS_TOKEN: 'z' }),
    ).toEqual([]);
  });
});

describe('credentialNames', () => {
  const s3 = { type: 's3' as const, bucket: 'app-backups' };
  const keys = { accessKeyId: 'AKIAEXAMPLE', secretAccessKey: 'secret-example' };

  it('names the keys as they were set: option, variable, or the AWS chain’s sources', () => {
    const fromOptions = defineConfig({ databases: ['a.db'], replica: { ...s3, ...keys } });
    expect(credentialNames(fromOptions, {}).described).toBe('replica.accessKeyId / replica.secretAccessKey');
    const fromEnv = configFromEnv({
      LITESTREAM_ENABLED: 'true',
      LITESTREAM_S3_BUCKET: 'app-backups',
      LITESTREAM_ACCESS_KEY_ID: keys.accessKeyId,
      LITESTREAM_SECRET_ACCESS_KEY: keys.secretAccessKey,
      LITESTREAM_DATABASES: 'a.db',
    });
    expect(credentialNames(fromEnv, { AWS_SESSION_TOKEN: 't' }).described).toMatch(
      /^LITESTREAM_ACCESS_KEY_ID \/ LITESTREAM_SECRET_ACCESS_KEY \(AWS_SESSION_TOKEN is set but not sent with them/,
    );
    const chain = defineConfig({ databases: ['a.db'], replica: s3 });
    expect(
      credentialNames(chain, { AWS_ACCESS_KEY_ID: 'k', AWS_SECRET_ACCESS_KEY: 's', AWS_SESSION_TOKEN: 't' }),
    ).toEqual({
      described: 'AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN in the environment',
      sessionToken: 'AWS_SESSION_TOKEN',
    });
    expect(credentialNames(chain, { AWS_PROFILE: 'backup' }).described).toMatch(/AWS_PROFILE names \(backup\)/);
    expect(credentialNames(chain, {}).described).toMatch(/AWS default chain/);
  });
});
