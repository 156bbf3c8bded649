// The Node process's own AWS credentials: keys fetched and refreshed before they expire (with a
// clock the test moves), the AWS default chain against a container credentials endpoint that
// fails as real ones do (msw: it intercepts this process's HTTP), and the static-key path,
// which must not load the chain at all.
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { delay, HttpResponse, http } from 'msw';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Runtime } from '../src/engine/engine.js';
import { CredentialsError, defineConfig, LitestreamAbortError } from '../src/index.js';
import {
  type AwsIdentity,
  defaultChain,
  fetchFromDefaultChain,
  RefreshingCredentials,
} from '../src/replica/credentials.js';
import { listS3Prefix } from '../src/replica/s3/operations.js';
import { checkReplica } from '../src/restore/format-guard.js';
import { captureLogger, closedPort, onCleanup, tempDir } from './support/fixtures.js';
import { testS3 } from './support/s3-per-file.js';

const SECRET = 'chain-sEcReT-7a2e91-dont-leak';
const TOKEN = 'chain-session-token-4b6d-dont-leak';
const AUTH = 'container-auth-token-8c1f-dont-leak';

/** Keys valid for `ms` from `now`. */
const keys = (now: number, ms: number | undefined, id = 'AKIDCHAIN'): AwsIdentity => ({
  accessKeyId: id,
  secretAccessKey: SECRET,
  sessionToken: TOKEN,
  expiration: ms === undefined ? undefined : new Date(now + ms),
});

describe('keys fetched and refreshed (a clock the test moves)', () => {
  const setup = (answer: (now: number, call: number) => Promise<AwsIdentity>) => {
    let now = 1_000_000;
    let calls = 0;
    const source = new RefreshingCredentials('the test source', () => answer(now, ++calls), { now: () => now });
    return {
      source,
      calls: () => calls,
      advance: (ms: number) => {
        now += ms;
      },
    };
  };

  it('fetches once for many requests, again once half their lifetime (at most five minutes before expiry) is left', async () => {
    const { source, calls, advance } = setup(async (now, call) => keys(now, 60 * 60_000, `AKID${call}`));
    const [a, b] = await Promise.all([source.get(), source.get()]);
    // Two callers at once share one fetch.
    expect(calls()).toBe(1);
    expect(a?.accessKeyId.reveal()).toBe('AKID1');
    expect(b?.sessionToken?.reveal()).toBe(TOKEN);
    advance(54 * 60_000);
    expect((await source.get()).accessKeyId.reveal()).toBe('AKID1');
    expect(calls()).toBe(1);
    // Five minutes before expiry: fetched again, and the new keys used.
    advance(60_000);
    expect((await source.get()).accessKeyId.reveal()).toBe('AKID2');
    expect(calls()).toBe(2);

    // Short-lived keys (10 s) are fetched again after half their lifetime, not per request.
    const short = setup(async (now) => keys(now, 10_000));
    await short.source.get();
    short.advance(4_000);
    await short.source.get();
    expect(short.calls()).toBe(1);
    short.advance(1_000);
    await short.source.get();
    expect(short.calls()).toBe(2);
  });

  it('keys without an expiry (a profile) are fetched once', async () => {
    const { source, calls, advance } = setup(async (now) => keys(now, undefined));
    await source.get();
    advance(24 * 60 * 60_000);
    await source.get();
    expect(calls()).toBe(1);
  });

  it('a refresh that fails while the keys in hand are still good keeps them; once they are about to expire, it fails', async () => {
    let down = false;
    const { source, advance } = setup(async (now) => {
      if (down) throw new CredentialsError('the endpoint is down', ['the test source'], true);
      return keys(now, 10 * 60_000);
    });
    const first = await source.get();
    down = true;
    advance(6 * 60_000); // 4 minutes left: due for a refresh, which fails.
    expect(await source.get()).toBe(first);
    advance(4 * 60_000 - 10_000); // 10 s left: not enough for a request.
    await expect(source.get()).rejects.toMatchObject({ name: 'CredentialsError', transient: true });
    down = false;
    expect((await source.get()).accessKeyId.reveal()).toBe('AKIDCHAIN');
  });

  it('keys handed out already expired are a CredentialsError, never used (and never printed)', async () => {
    const { source } = setup(async (now) => keys(now, -1_000));
    const error = await source.get().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(CredentialsError);
    expect(error).toMatchObject({ transient: true });
    expect((error as Error).message).toMatch(/expired at .* \(the clock here says/);
    expect(JSON.stringify({ ...(error as object), message: (error as Error).message })).not.toMatch(
      /sEcReT|session-token/,
    );
  });

  it('a source that never answers fails after its timeout; an aborted caller stops waiting', async () => {
    const hung = new RefreshingCredentials('a hung source', () => new Promise<AwsIdentity>(() => {}), {
      timeoutMs: 100,
    });
    const started = Date.now();
    await expect(hung.get()).rejects.toMatchObject({ name: 'CredentialsError', transient: true });
    expect(Date.now() - started).toBeLessThan(5_000);

    const slow = new RefreshingCredentials('a slow source', () => new Promise<AwsIdentity>(() => {}));
    const controller = new AbortController();
    const waiting = slow.get({ signal: controller.signal });
    controller.abort();
    await expect(waiting).rejects.toBeInstanceOf(LitestreamAbortError);
  });
});

// ---------------------------------------------------------------------------------------
// The real AWS default chain, against a container credentials endpoint served by msw.

const ENDPOINT = `http://127.0.0.1:${await closedPort()}`;
const CREDENTIALS_URL = `${ENDPOINT}/v2/credentials/task-1`;
const S3_ENDPOINT = `http://127.0.0.1:${await closedPort()}`;
const CHAIN_ENV = {
  AWS_CONTAINER_CREDENTIALS_FULL_URI: CREDENTIALS_URL,
  AWS_CONTAINER_AUTHORIZATION_TOKEN: AUTH,
  AWS_CONFIG_FILE: '/nonexistent/aws-config',
  AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/aws-credentials',
};

describe('the AWS default chain, container endpoint (msw)', () => {
  const server = setupServer();
  const saved: Record<string, string | undefined> = {};
  let asked = 0;
  const answer = (respond: (request: Request) => Response | Promise<Response>) =>
    server.use(
      http.get(CREDENTIALS_URL, async ({ request }) => {
        asked++;
        // The authorization token is sent as the ECS agent expects it.
        if (request.headers.get('authorization') !== AUTH) return new HttpResponse(null, { status: 401 });
        return respond(request);
      }),
    );
  const good = (expiresInMs = 60 * 60_000) =>
    HttpResponse.json({
      AccessKeyId: 'AKIDFROMECS',
      SecretAccessKey: SECRET,
      Token: TOKEN,
      Expiration: new Date(Date.now() + expiresInMs).toISOString(),
    });
  /** A fresh source with a short fetch timeout (the default chain's own is 10 s). */
  const source = () =>
    new RefreshingCredentials('the AWS default credential chain', fetchFromDefaultChain, {
      timeoutMs: 8_000,
    });

  beforeAll(() => {
    server.listen({ onUnhandledRequest: 'error' });
    for (const [name, value] of Object.entries(CHAIN_ENV)) {
      saved[name] = process.env[name];
      process.env[name] = value;
    }
  });
  afterEach(() => {
    server.resetHandlers();
    asked = 0;
  });
  afterAll(() => {
    server.close();
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });

  it("signs S3 requests with the endpoint's keys and session token; S3 calling them expired fetches new ones once", async () => {
    answer(() => good());
    const requests: Request[] = [];
    let expiredOnce = true;
    server.use(
      http.get(`${S3_ENDPOINT}/bucket`, ({ request }) => {
        requests.push(request.clone());
        if (expiredOnce) {
          expiredOnce = false;
          return new HttpResponse(
            '<?xml version="1.0"?><Error><Code>ExpiredToken</Code><Message>The provided token has expired.</Message></Error>',
            { status: 400, headers: { 'content-type': 'application/xml' } },
          );
        }
        return new HttpResponse(
          '<?xml version="1.0"?><ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>',
          { headers: { 'content-type': 'application/xml' } },
        );
      }),
    );
    const bucket = { bucket: 'bucket', region: 'us-east-1', endpoint: S3_ENDPOINT, credentials: source() };
    expect(await listS3Prefix(bucket, { prefix: 'app/' })).toMatchObject({ complete: true });
    expect(requests).toHaveLength(2);
    expect(asked).toBe(2);
    for (const request of requests) {
      expect(request.headers.get('x-amz-security-token')).toBe(TOKEN);
      expect(request.headers.get('authorization')).toContain('Credential=AKIDFROMECS/');
    }
  });

  it.each([
    ['500', () => new HttpResponse('Internal error', { status: 500 })],
    [
      'malformed JSON',
      () => new HttpResponse(`{"AccessKeyId": "AKID", "SecretAccessKey": "${SECRET}"`, { status: 200 }),
    ],
    ['keys of the wrong shape', () => HttpResponse.json({ AccessKeyId: 'AKID', Secret: SECRET })],
  ] as const)(
    'an endpoint answering %s is a transient CredentialsError naming it (by host), never what it sent',
    async (_what, respond) => {
      answer(respond);
      const error = await source()
        .get()
        .catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(CredentialsError);
      const { message, detail, transient } = error as CredentialsError;
      expect(transient).toBe(true);
      expect(message).toContain('AWS_CONTAINER_CREDENTIALS_FULL_URI');
      expect(message).toContain(new URL(ENDPOINT).host);
      for (const text of [message, detail ?? '']) {
        expect(text).not.toContain(SECRET);
        expect(text).not.toContain(AUTH);
        expect(text).not.toContain('/v2/credentials/task-1');
      }
      expect(asked).toBeGreaterThan(0);
    },
  );

  it('expired keys from the endpoint are refused with a CredentialsError that says so', async () => {
    answer(() => good(-60_000));
    await expect(source().get()).rejects.toMatchObject({
      name: 'CredentialsError',
      transient: true,
      message: expect.stringMatching(/expired at/),
    });
  });

  it('an endpoint that never answers fails after the timeout, not never', async () => {
    answer(async () => {
      await delay('infinite');
      return good();
    });
    const hung = new RefreshingCredentials('the AWS default credential chain', fetchFromDefaultChain, {
      timeoutMs: 1_500,
    });
    const started = Date.now();
    await expect(hung.get()).rejects.toMatchObject({ name: 'CredentialsError', transient: true });
    expect(Date.now() - started).toBeLessThan(6_000);
  });

  it('one chain per process environment: the same source while it stays the same', () => {
    expect(defaultChain()).toBe(defaultChain());
  });
});

// ---------------------------------------------------------------------------------------
// The chain's other remote sources, Node side (litestream's own use of them is not tested):
// EC2 instance metadata (IMDSv2) and web identity with STS, both served by msw on loopback.

const IMDS = `http://127.0.0.1:${await closedPort()}`;
const STS = `http://127.0.0.1:${await closedPort()}`;

describe('the AWS default chain, IMDSv2 and web identity (msw)', () => {
  const server = setupServer();
  const saved: Record<string, string | undefined> = {};
  const setEnv = (values: Record<string, string | undefined>) => {
    for (const [name, value] of Object.entries(values)) {
      if (!(name in saved)) saved[name] = process.env[name];
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  };
  beforeAll(() => server.listen({ onUnhandledRequest: 'error' }));
  afterEach(() => {
    server.resetHandlers();
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
      delete saved[name];
    }
  });
  afterAll(() => server.close());
  const source = () =>
    new RefreshingCredentials('the AWS default credential chain', fetchFromDefaultChain, { timeoutMs: 8_000 });

  it("EC2 instance metadata: a session token first (IMDSv2), then the role's keys", async () => {
    setEnv({
      AWS_EC2_METADATA_DISABLED: undefined,
      AWS_EC2_METADATA_SERVICE_ENDPOINT: IMDS,
      AWS_CONFIG_FILE: '/nonexistent/aws-config',
      AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/aws-credentials',
    });
    const imdsToken = 'imds-session-token-2c4e';
    let withoutToken = 0;
    const tokened = (request: Request) => {
      if (request.headers.get('x-aws-ec2-metadata-token') === imdsToken) return true;
      withoutToken++;
      return false;
    };
    server.use(
      http.put(`${IMDS}/latest/api/token`, () => new HttpResponse(imdsToken)),
      http.get(`${IMDS}/latest/meta-data/iam/security-credentials/`, ({ request }) =>
        tokened(request) ? new HttpResponse('app-role') : new HttpResponse(null, { status: 401 }),
      ),
      http.get(`${IMDS}/latest/meta-data/iam/security-credentials/app-role`, ({ request }) =>
        tokened(request)
          ? HttpResponse.json({
              Code: 'Success',
              Type: 'AWS-HMAC',
              AccessKeyId: 'AKIDFROMIMDS',
              SecretAccessKey: SECRET,
              Token: TOKEN,
              Expiration: new Date(Date.now() + 6 * 60 * 60_000).toISOString(),
            })
          : new HttpResponse(null, { status: 401 }),
      ),
    );
    const keys = await source().get();
    expect(keys.accessKeyId.reveal()).toBe('AKIDFROMIMDS');
    expect(keys.sessionToken?.reveal()).toBe(TOKEN);
    expect(withoutToken).toBe(0);
  });

  it("web identity: the token file is exchanged with STS for the role's keys", async () => {
    const tokenFile = path.join(tempDir(), 'token');
    writeFileSync(tokenFile, 'web-identity-jwt-6f1a');
    setEnv({
      AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile,
      AWS_ROLE_ARN: 'arn:aws:iam::123456789012:role/app',
      AWS_ROLE_SESSION_NAME: 'app',
      AWS_REGION: 'us-east-1',
      AWS_ENDPOINT_URL_STS: STS,
      AWS_CONFIG_FILE: '/nonexistent/aws-config',
      AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/aws-credentials',
    });
    const asked: string[] = [];
    server.use(
      http.post(`${STS}/`, async ({ request }) => {
        const form = new URLSearchParams(await request.text());
        asked.push(`${form.get('Action')} ${form.get('RoleArn')} ${form.get('WebIdentityToken')}`);
        return new HttpResponse(
          `<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleWithWebIdentityResult><Credentials><AccessKeyId>AKIDFROMSTS</AccessKeyId><SecretAccessKey>${SECRET}</SecretAccessKey><SessionToken>${TOKEN}</SessionToken><Expiration>${new Date(Date.now() + 60 * 60_000).toISOString()}</Expiration></Credentials></AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>`,
          { headers: { 'content-type': 'text/xml' } },
        );
      }),
    );
    const keys = await source().get();
    expect(keys.accessKeyId.reveal()).toBe('AKIDFROMSTS');
    expect(asked).toEqual(['AssumeRoleWithWebIdentity arn:aws:iam::123456789012:role/app web-identity-jwt-6f1a']);
  });
});

// ---------------------------------------------------------------------------------------
// Without any credentials, the check for another Litestream version's backups is not skipped.

describe('the replica format check with no credentials anywhere', () => {
  it('fails with the CredentialsError instead of warning and going on (restored, replicating, no backup)', async () => {
    const saved = { config: process.env.AWS_CONFIG_FILE, shared: process.env.AWS_SHARED_CREDENTIALS_FILE };
    process.env.AWS_CONFIG_FILE = '/nonexistent/aws-config';
    process.env.AWS_SHARED_CREDENTIALS_FILE = '/nonexistent/aws-credentials';
    onCleanup(() => {
      for (const [name, value] of [
        ['AWS_CONFIG_FILE', saved.config],
        ['AWS_SHARED_CREDENTIALS_FILE', saved.shared],
      ] as const) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    });
    const config = defineConfig({
      databases: [path.join(tempDir(), 'app.sqlite3')],
      replica: { type: 's3', bucket: 'bucket', endpoint: S3_ENDPOINT, region: 'us-east-1' },
      lease: false,
      logger: false,
    });
    // Litestream 0.3, which cannot read what 0.5 writes: the check is what stands in the way.
    const runtime = { engine: { family: '0.3', unreadableFormats: ['0.5'] } } as unknown as Runtime;
    const logger = captureLogger();
    const db = config.databases[0] as (typeof config.databases)[number];
    for (const step of ['restored', 'replicating', 'noBackup'] as const) {
      const check = checkReplica(config, runtime, db, logger, new AbortController().signal);
      const error = await check[step]().catch((caught: unknown) => caught);
      expect(error, step).toBeInstanceOf(CredentialsError);
      expect((error as CredentialsError).transient).toBe(false);
    }
    expect(logger.lines.filter((line) => line.level === 'warn')).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------
// The static-key path must not pay for the chain: a fresh process, the built library (tsc's
// unbundled modules, which the test setup builds beside the bundled dist/).

const run = promisify(execFile);
const DIST = path.resolve('.cache/dist-modules');

describe('static keys', () => {
  it('sign without loading the AWS SDK; without them, the chain is loaded', async () => {
    const s3 = testS3();
    const script = `
      import { createRequire } from 'node:module';
      const { s3BucketOf } = await import(${JSON.stringify(path.join(DIST, 'replica/location-bucket.js'))});
      const { listS3Prefix } = await import(${JSON.stringify(path.join(DIST, 'replica/s3/operations.js'))});
      const location = { type: 's3', bucket: ${JSON.stringify(s3.bucket)}, prefix: 'x', endpoint: ${JSON.stringify(s3.endpoint)},
        region: ${JSON.stringify(s3.region)}, forcePathStyle: undefined, skipVerify: false, credentials: undefined };
      let outcome = 'listed';
      await listS3Prefix(s3BucketOf(location, process.env), { prefix: 'x/' }).catch((error) => { outcome = error.name; });
      const loaded = Object.keys(createRequire(import.meta.url).cache).some((file) => file.includes('@aws-sdk'));
      console.log(JSON.stringify({ outcome, loaded }));
    `;
    const base = { PATH: process.env.PATH, AWS_EC2_METADATA_DISABLED: 'true', ...CHAIN_ENV };
    delete (base as Record<string, string | undefined>).AWS_CONTAINER_CREDENTIALS_FULL_URI;
    const node = async (env: Record<string, string | undefined>) =>
      JSON.parse((await run(process.execPath, ['--input-type=module', '-e', script], { env })).stdout);
    expect(
      await node({
        ...base,
        LITESTREAM_ACCESS_KEY_ID: s3.accessKeyId,
        LITESTREAM_SECRET_ACCESS_KEY: s3.secretAccessKey,
      }),
    ).toEqual({ outcome: 'listed', loaded: false });
    expect(
      await node({ ...base, AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey }),
    ).toEqual({
      outcome: 'listed',
      loaded: false,
    });
    // The same look without keys: the chain was loaded, found nothing, and said so.
    expect(await node(base)).toEqual({ outcome: 'CredentialsError', loaded: true });
  });
});
