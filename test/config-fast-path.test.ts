// The fast acceptor (src/config/accept.ts) against the zod schema it stands in for: on every
// input here, when the acceptor takes options, the schema takes them too and returns the same
// thing (deep-equal, undefined keys included); when the schema rejects options, the acceptor
// does not take them (so the schema words the errors, as before). Inputs: the rejected option
// sets and environments of test/config.test.ts, each option's valid and invalid values at its
// rules' boundaries (one field changed at a time), and random option objects built from them.
// The acceptor must also know exactly the keys the schema has, object by object: a field added
// to the schema fails this file until the acceptor handles it.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { defineConfig } from '../src/config/define.js';
import { configFromEnv } from '../src/config/from-env.js';
import { Secret } from '../src/config/secret.js';
import type { LitestreamConfig, LitestreamOptions } from '../src/config/types.js';
import { LitestreamConfigError } from '../src/errors.js';
import { REJECTED_ENVS, REJECTED_OPTIONS, SEED_ENV } from './support/config-cases.js';

// Every call defineConfig and configFromEnv make to the acceptor is recorded, and can be turned
// off (then every input goes through the schema, as before the acceptor existed).
const calls = vi.hoisted(() => ({ off: false, seen: [] as unknown[] }));
vi.mock('../src/config/accept.js', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../src/config/accept.js')>();
  return {
    ...actual,
    acceptOptions: (options: unknown) => {
      calls.seen.push(options);
      return calls.off ? undefined : actual.acceptOptions(options);
    },
  };
});

const { acceptOptions: fast, ACCEPTED_KEYS } =
  await vi.importActual<typeof import('../src/config/accept.js')>('../src/config/accept.js');

const work = mkdtempSync(path.join(os.tmpdir(), 'lsnode-fast-path-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
let dirs = 0;
const tempDir = () => {
  const dir = path.join(work, `d${dirs++}`);
  mkdirSync(dir);
  return dir;
};

const logger = { debug() {}, info() {}, warn() {}, error() {} };
const pinoLike = { ...logger, child: () => pinoLike, level: 'info' };

/** Options as apps write them: each must be taken without zod. */
const COMMON: LitestreamOptions[] = [
  {
    databases: ['storage/production.sqlite3', 'storage/production_queue.sqlite3'],
    replica: { type: 's3', bucket: 'my-app-backups', region: 'us-east-1' },
  },
  {
    databases: ['storage/a.sqlite3', { path: 'storage/b.sqlite3', replicaPath: 'queues/b' }],
    replica: {
      type: 's3',
      bucket: 'my-bucket',
      path: '/apps/shop/',
      endpoint: 'http://127.0.0.1:9000',
      accessKeyId: 'id',
      secretAccessKey: 'key',
      forcePathStyle: true,
    },
    syncInterval: '1m30s',
  },
  // Values read from an environment that does not set them.
  {
    databases: ['data/app.db'],
    replica: {
      type: 's3',
      bucket: 'b-1.example',
      endpoint: undefined,
      accessKeyId: undefined,
      secretAccessKey: undefined,
    },
    binaryPath: undefined,
    logger: undefined,
  },
  { databases: ['a.db'], replica: { type: 'file', path: 'backups' } },
  { enabled: false, databases: ['a.db'] },
  {
    databases: ['a.db'],
    replica: { type: 's3', bucket: 'my-bucket' },
    logger: pinoLike,
    shutdownTimeoutMs: 10_000,
    retention: '72h',
    snapshotInterval: '1h',
    restore: { integrityCheck: 'quick', onStale: 'restore', retryForMs: 0 },
    supervisor: { initialBackoffMs: 500 },
    lease: { whenHeld: 'refuse', ttlMs: 2_000 },
    alerts: { heartbeatUrl: 'https://hc-ping.com/abc', webhookUrl: 'http://127.0.0.1:9/hook' },
  },
  { databases: ['a.db'], replica: { type: 's3', bucket: 'my-bucket' }, lease: false, logger: false },
  { databases: ['a.db'], replica: { type: 's3', bucket: 'my-bucket' }, lease: { mode: 'off', ttlMs: 60_000 } },
  { configFile: 'config/litestream.yml' },
];

const require = createRequire(import.meta.url);
/** Whether zod is in Node's module cache (the library loads it with `require`). */
const zodLoaded = () => Object.keys(require.cache).some((file) => file.includes(`${path.sep}zod${path.sep}`));

let zodSchema: { safeParse(input: unknown): { success: boolean; data?: unknown } } | undefined;
/** The schema's parse (zod loads on the first call). */
async function schemaParse(input: unknown) {
  zodSchema ??= (await import('../src/config/schema.js')).optionsSchema();
  return zodSchema.safeParse(input);
}

/** The property, for one input: taken ⇒ the schema takes it and returns the same; rejected by the schema ⇒ not taken. */
async function compare(input: unknown): Promise<{ taken: boolean; valid: boolean }> {
  const taken = fast(input);
  const parsed = await schemaParse(input);
  const where = `input: ${show(input)}`;
  if (taken !== undefined) {
    expect(parsed.success, where).toBe(true);
    expect(taken, where).toStrictEqual(parsed.data);
    const fastLogger = (taken as { logger?: unknown }).logger;
    expect(fastLogger, where).toBe((parsed.data as { logger?: unknown }).logger);
  }
  if (!parsed.success) expect(taken, where).toBeUndefined();
  return { taken: taken !== undefined, valid: parsed.success };
}

function show(input: unknown): string {
  try {
    return JSON.stringify(input, (_key, value) => (value === undefined ? '<undefined>' : value)) ?? String(input);
  } catch {
    return String(input);
  }
}

describe('the fast acceptor', () => {
  // First, before anything here loads zod.
  it('takes the common option shapes without loading zod', () => {
    expect(zodLoaded()).toBe(false);
    for (const options of COMMON) expect(fast(options), show(options)).toBeDefined();
    const cwd = process.cwd();
    process.chdir(tempDir());
    try {
      for (const options of COMMON.filter((o) => o.configFile === undefined)) defineConfig(options);
      configFromEnv(SEED_ENV, { databases: ['a.db'] });
    } finally {
      process.chdir(cwd);
    }
    expect(zodLoaded()).toBe(false);
  });

  it('knows exactly the keys of every object in the schema', async () => {
    const { optionsSchema } = await import('../src/config/schema.js');
    const found: Record<string, string[]> = {};
    objectsIn(optionsSchema(), 'options', found);
    // The check above can see zod: it is loaded now.
    expect(zodLoaded()).toBe(true);
    const accepted = Object.fromEntries(
      Object.entries(ACCEPTED_KEYS).map(([where, keys]) => [where, [...keys].sort()]),
    );
    expect(accepted).toEqual(found);
  });

  it('takes what the schema takes among COMMON, and returns what it returns', async () => {
    for (const options of COMMON) expect(await compare(options)).toEqual({ taken: true, valid: true });
  });

  it("agrees with the schema on each option's valid and invalid values (one field changed at a time)", async () => {
    let taken = 0;
    for (const { input, unusual } of singleChanges()) {
      const result = await compare(input);
      // On plain objects the acceptor takes all the schema takes: the schema is reached only for errors.
      if (!unusual) expect(result.taken, show(input)).toBe(result.valid);
      if (result.taken) taken++;
    }
    expect(taken).toBeGreaterThan(100);
  });

  it('agrees with the schema on random option objects', async () => {
    const random = rng(0x5eed);
    const counts = { taken: 0, rejected: 0, unusual: 0 };
    for (let i = 0; i < 4_000; i++) {
      const state = { unusual: false };
      const input = options(random, state);
      const result = await compare(input);
      if (state.unusual) counts.unusual++;
      else expect(result.taken, show(input)).toBe(result.valid);
      if (result.taken) counts.taken++;
      if (!result.valid) counts.rejected++;
    }
    // Both sides of the boundary are exercised.
    expect(counts.taken).toBeGreaterThan(400);
    expect(counts.rejected).toBeGreaterThan(400);
    expect(counts.unusual).toBeGreaterThan(20);
  });

  it('leaves unusual inputs to the schema', async () => {
    const base = { databases: ['a.db'], replica: { type: 's3', bucket: 'my-bucket' } };
    class Paths extends Array<string> {}
    class Options {
      databases = ['a.db'];
    }
    const nullProto = Object.assign(Object.create(null), base);
    const withProto = JSON.parse('{"databases":["a.db"],"__proto__":{"x":1}}');
    const getter = Object.defineProperty({ databases: ['a.db'] }, 'enabled', {
      enumerable: true,
      get() {
        throw new Error('read');
      },
    });
    for (const input of [
      undefined,
      null,
      'a.db',
      ['a.db'],
      new Options(),
      nullProto,
      withProto,
      { ...base, databases: Paths.of('a.db') },
      // biome-ignore lint/suspicious/noSparseArray: a hole in the list
      { ...base, databases: [, 'a.db'] },
      { ...base, replica: Object.assign(Object.create(null), base.replica) },
      { ...base, replica: { ...base.replica, type: 'S3' } },
    ]) {
      expect(fast(input), show(input)).toBeUndefined();
      await compare(input);
    }
    expect(fast(getter)).toBeUndefined();
  });
});

describe('defineConfig and configFromEnv, with and without the fast acceptor', () => {
  /** The config (secrets revealed), or the error's issues, of `run` with the acceptor on or off. */
  function outcome(run: () => LitestreamConfig, off: boolean): unknown {
    calls.off = off;
    try {
      return plain(run());
    } catch (error) {
      if (!(error instanceof LitestreamConfigError)) throw error;
      return { issues: error.issues };
    } finally {
      calls.off = false;
    }
  }

  function same(run: () => LitestreamConfig) {
    const before = calls.seen.length;
    const withFast = outcome(run, false);
    const inputs = calls.seen.slice(before);
    expect(outcome(run, true)).toStrictEqual(withFast);
    return inputs;
  }

  it("rejects config.test.ts's option sets with the same issues, and the acceptor takes none the schema rejects", async () => {
    for (const [name, options] of REJECTED_OPTIONS) {
      const input = options(tempDir);
      const inputs = same(() => defineConfig(input as LitestreamOptions));
      expect(inputs, name).toHaveLength(1);
      for (const seen of inputs) await compare(seen);
    }
  });

  it("rejects config.test.ts's environments with the same issues; configFromEnv's options go through the acceptor", async () => {
    const databases = ['storage/production.sqlite3'];
    for (const [name, env] of REJECTED_ENVS) {
      const inputs = same(() => configFromEnv(env, { databases }));
      expect(inputs.length, name).toBeGreaterThan(0);
      for (const seen of inputs) await compare(seen);
    }
    const valid: Record<string, string>[] = [
      SEED_ENV,
      { ...SEED_ENV, LITESTREAM_ENABLED: '0' },
      { LITESTREAM_ENABLED: '1', LITESTREAM_FILE_REPLICA: 'backups' },
      {
        ...SEED_ENV,
        LITESTREAM_DATABASES: 'storage/a.db, storage/b.db',
        LITESTREAM_S3_PATH: 'myapp',
        LITESTREAM_SYNC_INTERVAL: '1s',
        LITESTREAM_LEASE: 'off',
        LITESTREAM_LEASE_TTL: '2m',
        LITESTREAM_ON_STALE: 'restore',
        LITESTREAM_RESTORE_RETRY_FOR: '5s',
        LITESTREAM_HEARTBEAT_URL: 'https://hc-ping.com/x',
        LITESTREAM_ALERT_AFTER: '5m',
        LITESTREAM_S3_FORCE_PATH_STYLE: 'true',
      },
      { ...SEED_ENV, LITESTREAM_LEASE: 'refuse', LITESTREAM_LEASE_WAIT: '5m' },
    ];
    for (const env of valid) {
      const inputs = same(() => configFromEnv(env, { databases, restore: { stallTimeoutMs: 1_000 } }));
      expect(inputs.length).toBeGreaterThan(0);
      for (const seen of inputs) expect(await compare(seen)).toEqual({ taken: true, valid: true });
    }
  });

  it('builds the same configs from generated valid options', async () => {
    const random = rng(0xc0ffee);
    let built = 0;
    const cwd = process.cwd();
    process.chdir(tempDir());
    try {
      for (let i = 0; i < 1_500 && built < 300; i++) {
        const input = options(random, { unusual: false });
        if (fast(input) === undefined || (input as LitestreamOptions).configFile !== undefined) continue;
        same(() => defineConfig(input as LitestreamOptions));
        built++;
      }
    } finally {
      process.chdir(cwd);
    }
    expect(built).toBeGreaterThan(100);
  });
});

/** A config as comparable data: secrets revealed, the logger by identity. */
function plain(value: unknown): unknown {
  if (value instanceof Secret) return { secret: value.reveal() };
  if (Array.isArray(value)) return value.map(plain);
  if (typeof value === 'object' && value !== null) {
    if (value === logger || value === pinoLike) return value;
    return Object.fromEntries(Object.entries(value).map(([key, v]) => [key, plain(v)]));
  }
  return value;
}

/**
 * Every object in a zod schema, by where it is (`options`, `restore`, `databases[]`,
 * `replica(s3)` for the union member whose `type` is "s3"), with its keys. A kind of schema
 * this walker does not know fails the test: teach it, and the acceptor.
 */
function objectsIn(schema: unknown, where: string, found: Record<string, string[]>): void {
  const def = (schema as { _zod: { def: Record<string, unknown> & { type: string } } })._zod.def;
  switch (def.type) {
    case 'object': {
      const shape = def.shape as Record<string, unknown>;
      if (found[where]) throw new Error(`two objects at ${where}`);
      found[where] = Object.keys(shape).sort();
      for (const [key, value] of Object.entries(shape))
        objectsIn(value, where === 'options' ? key : `${where}.${key}`, found);
      return;
    }
    case 'optional':
    case 'default':
      objectsIn(def.innerType, where, found);
      return;
    case 'pipe':
      objectsIn(def.in, where, found);
      objectsIn(def.out, where, found);
      return;
    case 'array':
      objectsIn(def.element, `${where}[]`, found);
      return;
    case 'union':
      for (const option of def.options as unknown[]) {
        const literal = (option as { _zod: { def: { shape?: { type?: { _zod: { def: { values?: unknown[] } } } } } } })
          ._zod.def.shape?.type?._zod.def.values?.[0];
        objectsIn(option, literal === undefined ? where : `${where}(${String(literal)})`, found);
      }
      return;
    case 'string':
    case 'number':
    case 'boolean':
    case 'literal':
    case 'enum':
    case 'custom':
    case 'transform':
      return;
    default:
      throw new Error(`a zod ${def.type} at ${where}: teach this test (and the acceptor) what it holds`);
  }
}

// Values at each rule's boundaries, valid and not.
const MS = {
  valid: [1, 1_000, 2_000, Number.MAX_SAFE_INTEGER],
  invalid: [0, -0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, Number.MAX_SAFE_INTEGER + 1, '1000', null, true],
};
const NON_NEGATIVE = { valid: [0, -0, 1, Number.MAX_SAFE_INTEGER], invalid: [-1, 0.5, Number.NaN, '0', null] };
const TTL = {
  valid: [2_000, 2_001, 60_000, Number.MAX_SAFE_INTEGER],
  invalid: [1_999, 0, 2_000.5, -2_000, Number.NaN, '2000'],
};
const BOOLEAN = { valid: [true, false], invalid: ['true', 0, 1, null, {}] };
const TEXT = {
  valid: ['a.db', ' a.db ', 'storage/production.sqlite3', '\ta\n', 'ü.db', '/abs/x.db', '\u00a0x\ufeff'],
  invalid: ['', '   ', '\n\t', '\u00a0', 42, null, true, {}, [], Object('a')],
};
const BUCKET = {
  valid: ['my-bucket', 'abc', 'a'.repeat(63), ' my-bucket ', 'a.b-c', '1bucket', '0.0'],
  invalid: ['ab', 'a'.repeat(64), 'My_Bucket', 'Abc', '-abc', 'abc-', '.abc', '', '  ', 'a b', 'ab\n', 42, null],
};
const ENDPOINT = {
  valid: [
    'https://s3.amazonaws.com',
    'http://127.0.0.1:9000',
    ' https://x.example ',
    'HTTP://X',
    'https://h/p?q=1',
    'http://[::1]:9000',
  ],
  invalid: ['s3.amazonaws.com', 'ftp://host', 'http://', 'file:///x', 'mailto:a@b', '', ' ', 'https://', 42, null],
};
const URL_ = {
  valid: ['https://hc-ping.com/abc', 'http://127.0.0.1:9/hook', ' https://x.example ', 'https://user:pw@h/x'],
  invalid: ['hc-ping.com/abc', 'ftp://x', 'not a url', '', 42, null, {}],
};
const DURATION = {
  valid: ['10s', '1m30s', '1.5s', '250ms', '1h', '.5s', '1ns', '168h', '0.001ms', '1h0m0s', '2µs', '3us'],
  invalid: ['10', '-5s', '0s', '+5s', '7d', '', ' 10s', '10s ', '10 s', '0', 's', 10, null, false],
};
const S3_PATH = { valid: ['', 'myapp', '/apps/shop/', '..', ' x '], invalid: [42, null, true] };
const enumOf = (...values: string[]) => ({ valid: values, invalid: [values[0]?.toUpperCase(), '', 'maybe', null, 1] });
const LOGGER = {
  valid: [false, logger, pinoLike, { ...logger, extra: 1 }],
  invalid: [true, {}, { info() {}, warn() {}, error() {} }, null, 'console', Object.assign(() => {}, logger)],
};
const ANY_OBJECT_JUNK = ['x', 1, null, true, [], ['a.db']];

type Pool = { valid: readonly unknown[]; invalid: readonly unknown[] };
type Spec = Record<string, Pool | (() => Pool)>;

// Each object of the options, key by key (nested objects as pools of whole objects, built below).
const S3_SPEC: Spec = {
  bucket: BUCKET,
  endpoint: ENDPOINT,
  region: TEXT,
  accessKeyId: TEXT,
  secretAccessKey: TEXT,
  path: S3_PATH,
  forcePathStyle: BOOLEAN,
  skipVerify: BOOLEAN,
};
const RESTORE_SPEC: Spec = {
  retryForMs: NON_NEGATIVE,
  stallTimeoutMs: MS,
  integrityCheck: enumOf('full', 'quick', 'off'),
  onStale: enumOf('refuse', 'restore', 'keep-local'),
};
const SUPERVISOR_SPEC: Spec = { initialBackoffMs: MS, maxBackoffMs: MS, resetAfterMs: MS, restartStalledAfterMs: MS };
const LEASE_SPEC: Spec = {
  mode: enumOf('take', 'off', 'off-write-over-live-holder'),
  whenHeld: enumOf('wait', 'refuse'),
  waitMs: NON_NEGATIVE,
  ttlMs: TTL,
};
const ALERTS_SPEC: Spec = {
  heartbeatUrl: URL_,
  heartbeatIntervalMs: MS,
  webhookUrl: URL_,
  unhealthyAfterMs: MS,
  timeoutMs: MS,
};
const VALID_BASE = {
  enabled: true,
  databases: ['storage/a.db', { path: 'storage/b.db', replicaPath: 'b' }],
  replica: { type: 's3', bucket: 'my-bucket', endpoint: 'http://127.0.0.1:9000', region: 'eu-west-1', path: 'app' },
  syncInterval: '10s',
  retention: '168h',
  snapshotInterval: '24h',
  binaryPath: '/usr/local/bin/litestream',
  logger,
  shutdownTimeoutMs: 30_000,
  restore: { retryForMs: 30_000, integrityCheck: 'full' },
  supervisor: { maxBackoffMs: 30_000 },
  lease: { mode: 'take', ttlMs: 60_000 },
  alerts: { heartbeatUrl: 'https://hc-ping.com/abc' },
};
const TOP_SPEC: Spec = {
  enabled: BOOLEAN,
  databases: {
    valid: [
      ['a.db'],
      [' a.db', { path: 'b.db' }],
      [{ path: 'c.db', replicaPath: 'k/c' }],
      [{ path: 'd.db', replicaPath: undefined }],
    ],
    invalid: [
      [],
      'a.db',
      [''],
      [42],
      [{}],
      [{ path: '' }],
      [{ path: 'a', replicaPath: ' ' }],
      [{ path: 'a', extra: 1 }],
      null,
    ],
  },
  replica: {
    valid: [
      { type: 's3', bucket: 'my-bucket' },
      { type: 'file', path: 'backups' },
      { type: 'file', path: ' backups ' },
    ],
    invalid: [
      { type: 'gcs' },
      { bucket: 'b' },
      { type: 'file' },
      { type: 'file', path: '' },
      { type: 'file', path: 'x', bucket: 'b' },
      { type: 's3' },
      { type: 's3', bucket: 'my-bucket', prefix: 'x' },
      ...ANY_OBJECT_JUNK,
    ],
  },
  configFile: TEXT,
  syncInterval: DURATION,
  retention: DURATION,
  snapshotInterval: DURATION,
  binaryPath: TEXT,
  logger: LOGGER,
  shutdownTimeoutMs: MS,
  restore: { valid: [{}, { onStale: 'keep-local' }], invalid: [{ retry: 1 }, ...ANY_OBJECT_JUNK] },
  supervisor: { valid: [{}, { resetAfterMs: 1 }], invalid: [{ backoff: 1 }, ...ANY_OBJECT_JUNK] },
  lease: {
    valid: [false, {}, { mode: 'off' }, { mode: 'take', whenHeld: 'wait', waitMs: 0 }, { mode: 'off', ttlMs: 2_000 }],
    invalid: [
      true,
      { mode: 'off', whenHeld: 'wait' },
      { mode: 'off-write-over-live-holder', waitMs: 1 },
      { mode: 'off', whenHeld: undefined, waitMs: 5 },
      { ttl: 1 },
      ...ANY_OBJECT_JUNK,
    ],
  },
  alerts: { valid: [{}, { webhookUrl: 'https://x.example/h' }], invalid: [{ url: 'https://x' }, ...ANY_OBJECT_JUNK] },
};

/** `base` with `key` absent, undefined, and each of its pool's values in turn. */
function* changes(base: Record<string, unknown>, spec: Spec, extraKey: string) {
  for (const [key, poolOrMake] of Object.entries(spec)) {
    const pool = typeof poolOrMake === 'function' ? poolOrMake() : poolOrMake;
    const { [key]: _, ...without } = base;
    yield without;
    yield { ...base, [key]: undefined };
    for (const value of [...pool.valid, ...pool.invalid]) yield { ...base, [key]: value };
  }
  yield { ...base, [extraKey]: 1 };
  yield { ...base, [extraKey]: undefined };
}

/** Each field of each object of VALID_BASE changed alone. */
function* singleChanges(): Generator<{ input: unknown; unusual: boolean }> {
  for (const input of changes(VALID_BASE, TOP_SPEC, 'bucket')) yield { input, unusual: false };
  const nested: [string, Record<string, unknown>, Spec][] = [
    ['replica', { type: 's3', bucket: 'my-bucket', region: 'us-east-1' }, S3_SPEC],
    ['restore', {}, RESTORE_SPEC],
    ['supervisor', {}, SUPERVISOR_SPEC],
    ['lease', { mode: 'take' }, LEASE_SPEC],
    ['lease', { mode: 'off' }, LEASE_SPEC],
    ['alerts', { webhookUrl: 'https://x.example/h' }, ALERTS_SPEC],
  ];
  for (const [key, base, spec] of nested) {
    for (const value of changes(base, spec, 'syncInterval'))
      yield { input: { ...VALID_BASE, [key]: value }, unusual: false };
  }
  for (const value of changes({ type: 'file', path: 'backups' }, { path: TEXT }, 'bucket')) {
    yield { input: { ...VALID_BASE, replica: value }, unusual: false };
  }
  for (const value of changes({ path: 'a.db' }, { path: TEXT, replicaPath: TEXT }, 'name')) {
    yield { input: { ...VALID_BASE, databases: ['x.db', value] }, unusual: false };
  }
}

type Random = () => number;

/** mulberry32: a small seeded generator, so that a failure replays. */
function rng(seed: number): Random {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const pick = <T>(random: Random, values: readonly T[]): T => values[Math.floor(random() * values.length)] as T;

/** A value for one key: absent (undefined returned with `present` false), undefined, valid (mostly) or invalid. */
function value(random: Random, pool: Pool): { present: boolean; value?: unknown } {
  const roll = random();
  if (roll < 0.4) return { present: false };
  if (roll < 0.48) return { present: true, value: undefined };
  if (roll < 0.95) return { present: true, value: pick(random, pool.valid) };
  return { present: true, value: pick(random, pool.invalid) };
}

/** An object with some of `spec`'s keys, now and then an unknown one, now and then not a plain object. */
function object(random: Random, spec: Spec, state: { unusual: boolean }, fixed: Record<string, unknown> = {}) {
  const out: Record<string, unknown> = { ...fixed };
  for (const [key, poolOrMake] of Object.entries(spec)) {
    const pool = typeof poolOrMake === 'function' ? poolOrMake() : poolOrMake;
    const chosen = value(random, pool);
    if (chosen.present) out[key] = chosen.value;
  }
  if (random() < 0.02) out[pick(random, ['bucketName', 'sync_interval', 'replicas', 'Path', 'type', 'path'])] = 'x';
  if (random() < 0.01) {
    state.unusual = true;
    return Object.assign(Object.create(null), out);
  }
  return out;
}

/** Random options: each object built from its spec, nested objects from theirs. */
function options(random: Random, state: { unusual: boolean }): unknown {
  const roll = random();
  if (roll < 0.005) return pick(random, [undefined, null, 'a.db', [], 42]);
  const s3 = () => object(random, S3_SPEC, state, { type: 's3', bucket: pick(random, BUCKET.valid) });
  const spec: Spec = {
    ...TOP_SPEC,
    databases: () => ({
      valid: [Array.from({ length: 1 + Math.floor(random() * 3) }, () => database(random, state))],
      invalid: TOP_SPEC.databases && 'invalid' in TOP_SPEC.databases ? TOP_SPEC.databases.invalid : [],
    }),
    replica: () => ({
      valid: [s3(), s3(), object(random, { path: TEXT }, state, { type: 'file', path: pick(random, TEXT.valid) })],
      invalid: (TOP_SPEC.replica as Pool).invalid,
    }),
    restore: () => ({ valid: [object(random, RESTORE_SPEC, state)], invalid: (TOP_SPEC.restore as Pool).invalid }),
    supervisor: () => ({
      valid: [object(random, SUPERVISOR_SPEC, state)],
      invalid: (TOP_SPEC.supervisor as Pool).invalid,
    }),
    lease: () => ({ valid: [false, object(random, LEASE_SPEC, state)], invalid: (TOP_SPEC.lease as Pool).invalid }),
    alerts: () => ({ valid: [object(random, ALERTS_SPEC, state)], invalid: (TOP_SPEC.alerts as Pool).invalid }),
  };
  const top = object(random, spec, state);
  // Mostly options that could pass: a database list and a replica.
  if (random() < 0.9 && !('databases' in top)) top.databases = [database(random, state)];
  return top;
}

function database(random: Random, state: { unusual: boolean }): unknown {
  if (random() < 0.6) return random() < 0.95 ? pick(random, TEXT.valid) : pick(random, TEXT.invalid);
  return object(random, { replicaPath: TEXT }, state, {
    path: random() < 0.95 ? pick(random, TEXT.valid) : pick(random, TEXT.invalid),
  });
}
