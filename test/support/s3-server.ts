// Starts one real S3-compatible server (s3rver) on 127.0.0.1 for the whole run.
// It runs in vitest's main process; tests run in forked workers, so nothing they do
// can block its event loop.
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { sigV4Verifier } from './sigv4.js';

const require = createRequire(import.meta.url);

/** Credentials of the test server; the secret is distinctive so a leak is easy to grep. */
export const S3_TEST = {
  bucket: 'litestream-test',
  accessKeyId: 'LSNODETESTKEY',
  secretAccessKey: 'sEcReT-lsnode-0c9b7e51-dont-leak',
};

declare module 'vitest' {
  export interface ProvidedContext {
    s3: { endpoint: string; bucket: string; accessKeyId: string; secretAccessKey: string };
  }
}

interface ListedObject {
  key: string;
}
interface ListResult {
  objects: ListedObject[];
  commonPrefixes: string[];
  isTruncated: boolean;
}
interface ListOptions {
  delimiter?: string;
  prefix?: string;
  maxKeys?: number;
  startAfter?: string;
}

interface StoredObject {
  bucket: string;
  key: string;
  content: Buffer | NodeJS.ReadableStream;
  metadata: Record<string, string>;
}

/** The whole body of an upload; rejects when the client goes away before the end. */
function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let ended = false;
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => {
      ended = true;
      resolve(Buffer.concat(chunks));
    });
    stream.on('error', reject);
    stream.on('close', () => {
      if (!ended) reject(new Error('upload aborted'));
    });
  });
}

export default async function setup(project: TestProject) {
  const S3rver = require('s3rver');
  const { DUMMY_ACCOUNT } = require('s3rver/lib/models/account.js');
  DUMMY_ACCOUNT.createKeyPair(S3_TEST.accessKeyId, S3_TEST.secretAccessKey);
  const directory = await mkdtemp(path.join(os.tmpdir(), 'lsnode-s3-'));
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory,
    configureBuckets: [{ name: S3_TEST.bucket }],
  });

  // s3rver's filesystem store drops CommonPrefixes for keys two or more levels below the
  // prefix, so Litestream would see no generations. List without the delimiter, then fold.
  const store = server.store;
  const listObjects = store.listObjects.bind(store) as (bucket: string, options: ListOptions) => Promise<ListResult>;
  store.listObjects = async (bucket: string, options: ListOptions): Promise<ListResult> => {
    if (!options.delimiter) return listObjects(bucket, options);
    const { delimiter, prefix = '', maxKeys = Number.POSITIVE_INFINITY } = options;
    const all = await listObjects(bucket, { ...options, delimiter: '', maxKeys: Number.POSITIVE_INFINITY });
    const prefixes = new Set<string>();
    const objects: ListedObject[] = [];
    for (const object of all.objects) {
      const rest = object.key.slice(prefix.length);
      const cut = rest.indexOf(delimiter);
      if (cut !== -1) prefixes.add(prefix + rest.slice(0, cut + delimiter.length));
      else if (objects.length < maxKeys) objects.push(object);
    }
    return { objects, commonPrefixes: [...prefixes].sort(), isTruncated: false };
  };

  // s3rver acknowledges a PUT before the object is on disk and keeps a partial object when
  // the upload is aborted; S3 does neither. Take the whole body, then rename it into place.
  store.putObject = async (object: StoredObject) => {
    const content = Buffer.isBuffer(object.content) ? object.content : await readAll(object.content);
    const md5 = createHash('md5').update(content).digest('hex');
    const objectPath: string = store.getResourcePath(object.bucket, object.key, 'object');
    await mkdir(path.dirname(objectPath), { recursive: true });
    const partial = `${objectPath}.partial-${randomUUID()}`;
    await writeFile(partial, content);
    await rename(partial, objectPath);
    await store.putMetadata(object.bucket, object.key, object.metadata, md5);
    return { size: content.length, md5 };
  };

  // Check V4 signatures for the test key, so a wrong secret is refused as by real S3.
  server.middleware.unshift(sigV4Verifier(new Map([[S3_TEST.accessKeyId, S3_TEST.secretAccessKey]])));

  const address = (await server.run()) as AddressInfo;
  project.provide('s3', { endpoint: `http://127.0.0.1:${address.port}`, ...S3_TEST });

  return async () => {
    await server.close();
    await rm(directory, { recursive: true, force: true });
  };
}
