// With no key variables at all, the Node process and litestream both take their credentials
// from the AWS default chain, served on loopback: a container credentials endpoint (as ECS
// runs one), EC2 instance metadata (IMDSv2), web identity exchanged at a local STS (as EKS
// IRSA sets it up) and a shared credentials file with a profile. Real apps in their own
// processes against the real S3 server: boot restore, replication, and the lease between two
// instances.
import { existsSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { launchApp, readLoad } from './reliability/harness.js';
import { onCleanup, tempDir, waitFor } from './support/fixtures.js';
import { family } from './support/litestream-version.js';
import { testS3 } from './support/s3-per-file.js';

/** A short lease, so that renewals are frequent: renewed every second. */
const LEASE = { LITESTREAM_LEASE_TTL: '3s', LITESTREAM_LEASE_WAIT: '60s' };

/** How long the keys a source hands out are valid: fetched again after half of it. */
const KEY_LIFETIME_MS = 4_000;

/** No static keys anywhere: seedEnv's are blanked (the library and litestream read '' as unset). */
const NO_KEYS = {
  LITESTREAM_ACCESS_KEY_ID: '',
  LITESTREAM_SECRET_ACCESS_KEY: '',
  AWS_EC2_METADATA_DISABLED: 'true',
  // Nothing from this machine's own files.
  AWS_CONFIG_FILE: '/nonexistent/aws-config',
  AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/aws-credentials',
};

const AUTH_TOKEN = 'ecs-auth-token-5d1f-dont-leak';

/** Who asked a credentials source: litestream (Go's HTTP client) or the Node process. */
interface Asked {
  node: number;
  litestream: number;
  refused: number;
}

function countAsker(asked: Asked, request: http.IncomingMessage): void {
  const agent = request.headers['user-agent'] ?? '';
  if (/Go-http-client|aws-sdk-go/.test(agent)) asked.litestream++;
  else asked.node++;
}

/** A loopback HTTP server for one test; its port. */
async function serve(handler: http.RequestListener): Promise<number> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onCleanup(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return (server.address() as AddressInfo).port;
}

/** The test server's keys as a credentials source hands them out, valid for `lifetimeMs`. */
function keysFor(lifetimeMs: number) {
  const s3 = testS3();
  return {
    AccessKeyId: s3.accessKeyId,
    SecretAccessKey: s3.secretAccessKey,
    // The test server knows no session tokens: root keys, with an empty token.
    Token: '',
    Expiration: new Date(Date.now() + lifetimeMs).toISOString(),
  };
}

/**
 * A container credentials endpoint on loopback, as the ECS agent serves one: it checks the
 * authorization token and hands out the test server's keys, valid for `lifetimeMs`.
 */
async function credentialsEndpoint(lifetimeMs: number) {
  const asked: Asked = { node: 0, litestream: 0, refused: 0 };
  const port = await serve((request, response) => {
    if (request.headers.authorization !== AUTH_TOKEN) {
      asked.refused++;
      response.writeHead(401).end();
      return;
    }
    countAsker(asked, request);
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(keysFor(lifetimeMs)));
  });
  return {
    asked,
    env: {
      ...NO_KEYS,
      AWS_CONTAINER_CREDENTIALS_FULL_URI: `http://127.0.0.1:${port}/v2/credentials/task`,
      AWS_CONTAINER_AUTHORIZATION_TOKEN: AUTH_TOKEN,
    },
  };
}

/**
 * EC2 instance metadata on loopback, IMDSv2 only: a session token first (PUT), then the
 * instance profile's role name and its keys, each asked with that token. A request without the
 * token is refused (and counted), as IMDSv2-only instances do.
 */
async function instanceMetadata(lifetimeMs: number) {
  const asked: Asked = { node: 0, litestream: 0, refused: 0 };
  const sessionToken = 'imds-session-token-9b3e';
  const role = 'lsnode-instance-role';
  const port = await serve((request, response) => {
    const url = request.url ?? '';
    if (request.method === 'PUT' && url === '/latest/api/token') {
      // As IMDS answers: the token's lifetime in a header (Go's SDK v1 falls back to IMDSv1 without it).
      const ttl = request.headers['x-aws-ec2-metadata-token-ttl-seconds'] ?? '21600';
      response
        .writeHead(200, { 'content-type': 'text/plain', 'x-aws-ec2-metadata-token-ttl-seconds': ttl })
        .end(sessionToken);
      return;
    }
    if (request.headers['x-aws-ec2-metadata-token'] !== sessionToken) {
      asked.refused++;
      response.writeHead(401).end();
      return;
    }
    if (url === '/latest/meta-data/iam/security-credentials/') {
      response.writeHead(200, { 'content-type': 'text/plain' }).end(role);
    } else if (url === `/latest/meta-data/iam/security-credentials/${role}`) {
      countAsker(asked, request);
      response
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ Code: 'Success', Type: 'AWS-HMAC', ...keysFor(lifetimeMs) }));
    } else {
      // Paths a newer SDK tries first (e.g. the "extended" credentials): not served, as on older hosts.
      response.writeHead(404).end();
    }
  });
  const { AWS_EC2_METADATA_DISABLED: _disabled, ...noKeys } = NO_KEYS;
  return { asked, env: { ...noKeys, AWS_EC2_METADATA_SERVICE_ENDPOINT: `http://127.0.0.1:${port}/` } };
}

/**
 * Web identity as EKS IRSA sets it up: a token file and a role, exchanged for keys at STS
 * (`AssumeRoleWithWebIdentity`), here a loopback STS reached through `AWS_ENDPOINT_URL_STS`.
 * Only a request with the file's token and the role is answered.
 */
async function webIdentity(lifetimeMs: number) {
  const asked: Asked = { node: 0, litestream: 0, refused: 0 };
  const token = 'eyJ-web-identity-token-4c2a';
  const roleArn = 'arn:aws:iam::123456789012:role/lsnode-pod';
  const tokenFile = path.join(tempDir(), 'token');
  writeFileSync(tokenFile, token);
  const port = await serve((request, response) => {
    let body = '';
    request.setEncoding('utf8').on('data', (chunk: string) => {
      body += chunk;
    });
    request.on('end', () => {
      const form = new URLSearchParams(body);
      if (
        form.get('Action') !== 'AssumeRoleWithWebIdentity' ||
        form.get('WebIdentityToken') !== token ||
        form.get('RoleArn') !== roleArn
      ) {
        asked.refused++;
        response.writeHead(403).end();
        return;
      }
      countAsker(asked, request);
      const keys = keysFor(lifetimeMs);
      response
        .writeHead(200, { 'content-type': 'text/xml' })
        .end(
          `<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleWithWebIdentityResult><Credentials><AccessKeyId>${keys.AccessKeyId}</AccessKeyId><SecretAccessKey>${keys.SecretAccessKey}</SecretAccessKey><SessionToken></SessionToken><Expiration>${keys.Expiration}</Expiration></Credentials><SubjectFromWebIdentityToken>system:serviceaccount:app:lsnode</SubjectFromWebIdentityToken><AssumedRoleUser><Arn>${roleArn}/lsnode</Arn><AssumedRoleId>AROA:lsnode</AssumedRoleId></AssumedRoleUser></AssumeRoleWithWebIdentityResult><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></AssumeRoleWithWebIdentityResponse>`,
        );
    });
  });
  return {
    asked,
    env: {
      ...NO_KEYS,
      AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile,
      AWS_ROLE_ARN: roleArn,
      AWS_ROLE_SESSION_NAME: 'lsnode',
      AWS_REGION: 'us-east-1',
      AWS_ENDPOINT_URL_STS: `http://127.0.0.1:${port}`,
    },
  };
}

/**
 * A rolling deploy on one credentials source: the old instance replicates under load, the new
 * one waits for its lease (nothing created meanwhile), and once the old one stops it restores
 * every acknowledged row and takes writes. Short-lived keys are fetched again while it waits.
 */
async function rollingDeploy(source: { asked: Asked; env: Record<string, string> }, prefix: string) {
  const env = { ...LEASE, ...source.env };
  const old = launchApp(prefix, { env });
  await old.event('ready');
  old.send('load');
  await waitFor(() => old.acks.length > 20, 10_000, 'the old instance to take writes');

  const next = launchApp(prefix, { env });
  const waiting = await next.event('waiting');
  expect(waiting.holder).toMatchObject({ host: hostname(), pid: old.pid });
  expect(existsSync(next.database)).toBe(false);

  // Keys valid 4 s are fetched again after about 2 s, not for every request (a renewal a second).
  const before = source.asked.node;
  await waitFor(() => source.asked.node >= before + 2, 15_000, 'the keys to be refreshed');

  expect(await old.terminate()).toMatchObject({ clean: true, killed: false });
  expect((await next.event('restored', 30_000)).outcomes).toEqual(['restored']);
  await next.event('ready');
  expect(readLoad(next.database)).toEqual({ maxId: old.lastAcked(), integrity: 'ok' });
  next.send('load');
  await waitFor(() => next.acks.length > 20, 10_000, 'the new instance to take writes');
  expect(await next.terminate()).toMatchObject({ clean: true });

  // Litestream asked the same source (it has no other), and nobody without its token was served.
  expect(source.asked.litestream).toBeGreaterThan(0);
  expect(source.asked.refused).toBe(0);
  // Roughly one fetch per instance per 2 s, far fewer than the requests made.
  expect(source.asked.node).toBeGreaterThanOrEqual(2);
  for (const app of [old, next]) expect(app.output()).not.toContain(testS3().secretAccessKey);
}

describe('credentials from the AWS default chain (no key variables)', () => {
  it('ECS container endpoint: both instances and their litestream use it; the second waits for the lease, then restores every acknowledged row; short-lived keys are refreshed', async () => {
    await rollingDeploy(await credentialsEndpoint(KEY_LIFETIME_MS), `chain-ecs-${Date.now()}`);
  });

  it('EC2 instance metadata (IMDSv2 only): both instances and their litestream use it; a rolling deploy keeps every acknowledged row; short-lived keys are refreshed', async () => {
    await rollingDeploy(await instanceMetadata(KEY_LIFETIME_MS), `chain-imds-${Date.now()}`);
  });

  // Litestream 0.3's SDK (aws-sdk-go v1.44) reads no AWS_ENDPOINT_URL_STS: it would ask the real
  // STS, which no loopback test can stand in for. Node's side of 0.3 is the same code as here.
  it.runIf(family === '0.5')(
    'web identity (EKS IRSA) through a loopback STS: both instances and their litestream use it; a rolling deploy keeps every acknowledged row; short-lived keys are refreshed',
    async () => {
      await rollingDeploy(await webIdentity(KEY_LIFETIME_MS), `chain-irsa-${Date.now()}`);
    },
  );

  it('shared credentials file with AWS_PROFILE: replication, the lease refuses a second instance, and a boot restores', async () => {
    const s3 = testS3();
    const dir = tempDir();
    const credentials = path.join(dir, 'credentials');
    writeFileSync(
      credentials,
      `[default]\naws_access_key_id = WRONGKEY\naws_secret_access_key = wrong\n\n[lsnode]\naws_access_key_id = ${s3.accessKeyId}\naws_secret_access_key = ${s3.secretAccessKey}\n`,
      { mode: 0o600 },
    );
    const env = { ...LEASE, ...NO_KEYS, AWS_SHARED_CREDENTIALS_FILE: credentials, AWS_PROFILE: 'lsnode' };
    const prefix = `chain-profile-${Date.now()}`;
    const old = launchApp(prefix, { env });
    await old.event('ready');
    old.send('load');
    await waitFor(() => old.acks.length > 20, 10_000, 'the instance to take writes');

    const refused = launchApp(prefix, { env: { ...env, LITESTREAM_LEASE: 'refuse' } });
    expect(await refused.event('error')).toMatchObject({
      name: 'ReplicaLeaseError',
      holder: { host: hostname(), pid: old.pid },
    });
    expect((await refused.exited).code).toBe(1);
    expect(existsSync(refused.database)).toBe(false);

    expect(await old.terminate()).toMatchObject({ clean: true });
    const next = launchApp(prefix, { env });
    expect((await next.event('restored', 30_000)).outcomes).toEqual(['restored']);
    await next.event('ready');
    expect(readLoad(next.database)).toEqual({ maxId: old.lastAcked(), integrity: 'ok' });
    expect(await next.terminate()).toMatchObject({ clean: true });
  });

  it('no credentials anywhere: the boot fails with a CredentialsError naming the sources tried, and creates nothing', async () => {
    const prefix = `chain-none-${Date.now()}`;
    const app = launchApp(prefix, { env: NO_KEYS });
    const error = await app.event('error');
    expect(error.name).toBe('CredentialsError');
    for (const named of [
      'LITESTREAM_ACCESS_KEY_ID',
      'AWS_ACCESS_KEY_ID',
      'AWS_PROFILE',
      'AWS_WEB_IDENTITY_TOKEN_FILE',
      'AWS_CONTAINER_CREDENTIALS_FULL_URI',
      'IMDSv2',
    ]) {
      expect(error.message).toContain(named);
    }
    expect((await app.exited).code).toBe(1);
    expect(existsSync(app.database)).toBe(false);
  });
});
