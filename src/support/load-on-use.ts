import { createRequire } from 'node:module';

// Libraries that cost an import tens of milliseconds are loaded by the code path that
// needs them, synchronously, the first time it runs: importing litestream-node must stay
// cheap, because every cold boot of an app pays it before its first request.
const require = createRequire(import.meta.url);

/** zod (~55 ms to load), for validating options. */
export const loadZod = (): typeof import('zod') => require('zod');

/** yaml (~30 ms), only for a user's own litestream.yml. */
export const loadYaml = (): typeof import('yaml') => require('yaml');

/** better-sqlite3 (~10 ms plus its native addon), for checking restored files. */
export const loadSqlite = (): typeof import('better-sqlite3') => require('better-sqlite3');

// Node's own modules cost an import too (2–7 ms each): these load when first used.

/** For starting litestream (and `ps`). */
export const loadChildProcess = (): typeof import('node:child_process') => require('node:child_process');

/** For the integrity check's worker threads. */
export const loadWorkerThreads = (): typeof import('node:worker_threads') => require('node:worker_threads');

/** For the S3 requests made from Node: the transport and the request signature. */
export const loadHttp = (secure: boolean): typeof import('node:https') | typeof import('node:http') =>
  secure ? require('node:https') : require('node:http');
export const loadCrypto = (): typeof import('node:crypto') => require('node:crypto');
/** aws4 (the SigV4 signer; little beyond node:crypto, which it loads), for those same requests. */
export const loadAws4 = (): typeof import('aws4') => require('aws4');

/**
 * The AWS default credential chain (~100 ms), only when the Node process has no static keys
 * for its own S3 requests.
 */
export const loadCredentialProviders = (): typeof import('@aws-sdk/credential-providers') =>
  require('@aws-sdk/credential-providers');
