// With no key variables at all, the Node process and litestream both take their credentials
// from the AWS default chain, served on loopback: a container credentials endpoint (as ECS
// runs one) and a shared credentials file with a profile. Real apps in their own processes
// against the real S3 server: boot restore, replication, and the lease between two instances.
import { existsSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { launchApp, readLoad } from './reliability/harness.js';
import { onCleanup, tempDir, waitFor } from './support/fixtures.js';
import { testS3 } from './support/s3-per-file.js';

/** A short lease, so that renewals are frequent: renewed every second. */
const LEASE = { LITESTREAM_LEASE_TTL: '3s', LITESTREAM_LEASE_WAIT: '60s' };

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

/**
 * A container credentials endpoint on loopback, as the ECS agent serves one: it checks the
 * authorization token and hands out the test server's keys, valid for `lifetimeMs`. Counts
 * who asked: litestream (Go's HTTP client) or the Node process.
 */
async function credentialsEndpoint(lifetimeMs: number) {
  const s3 = testS3();
  const asked = { node: 0, litestream: 0, refused: 0 };
  const server = http.createServer((request, response) => {
    if (request.headers.authorization !== AUTH_TOKEN) {
      asked.refused++;
      response.writeHead(401).end();
      return;
    }
    const agent = request.headers['user-agent'] ?? '';
    if (/Go-http-client|aws-sdk-go/.test(agent)) asked.litestream++;
    else asked.node++;
    response.writeHead(200, { 'content-type': 'application/json' }).end(
      JSON.stringify({
        AccessKeyId: s3.accessKeyId,
        SecretAccessKey: s3.secretAccessKey,
        // The test server knows no session tokens: root keys, with an empty token.
        Token: '',
        Expiration: new Date(Date.now() + lifetimeMs).toISOString(),
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onCleanup(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const { port } = server.address() as AddressInfo;
  return {
    asked,
    env: {
      ...NO_KEYS,
      AWS_CONTAINER_CREDENTIALS_FULL_URI: `http://127.0.0.1:${port}/v2/credentials/task`,
      AWS_CONTAINER_AUTHORIZATION_TOKEN: AUTH_TOKEN,
    },
  };
}

describe('credentials from the AWS default chain (no key variables)', () => {
  it('ECS container endpoint: both instances and their litestream use it; the second waits for the lease, then restores every acknowledged row; short-lived keys are refreshed', async () => {
    const endpoint = await credentialsEndpoint(8_000);
    const prefix = `chain-ecs-${Date.now()}`;
    const env = { ...LEASE, ...endpoint.env };
    const old = launchApp(prefix, { env });
    await old.event('ready');
    old.send('load');
    await waitFor(() => old.acks.length > 20, 10_000, 'the old instance to take writes');

    const next = launchApp(prefix, { env });
    const waiting = await next.event('waiting');
    expect(waiting.holder).toMatchObject({ host: hostname(), pid: old.pid });
    expect(existsSync(next.database)).toBe(false);

    // Keys valid 8 s are fetched again after about 4 s, not for every request (a renewal a second).
    const before = endpoint.asked.node;
    await waitFor(() => endpoint.asked.node >= before + 2, 15_000, 'the keys to be refreshed');

    expect(await old.terminate()).toMatchObject({ clean: true, killed: false });
    expect((await next.event('restored', 30_000)).outcomes).toEqual(['restored']);
    await next.event('ready');
    expect(readLoad(next.database)).toEqual({ maxId: old.lastAcked(), integrity: 'ok' });
    next.send('load');
    await waitFor(() => next.acks.length > 20, 10_000, 'the new instance to take writes');
    expect(await next.terminate()).toMatchObject({ clean: true });

    // Litestream asked the same endpoint (it has no other source), and nobody without the token was served.
    expect(endpoint.asked.litestream).toBeGreaterThan(0);
    expect(endpoint.asked.refused).toBe(0);
    // Roughly one fetch per instance per 4 s, far fewer than the requests made.
    expect(endpoint.asked.node).toBeGreaterThanOrEqual(2);
    for (const app of [old, next]) expect(app.output()).not.toContain(testS3().secretAccessKey);
  });

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
