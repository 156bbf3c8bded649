// The fast acceptor: options of the common shapes, checked without loading zod (loading it
// and building the schema costs a cold boot 45–60 ms, more than everything else the first
// `defineConfig` does). It is conservative: it returns exactly what the zod schema's parse
// (schema.ts) returns for the options it takes, and `undefined` for anything it does not
// positively accept — an unknown key, an unexpected type, any value a rule of the schema
// would reject, an object that is not a plain one — which then goes through the schema, so
// that every error is worded and listed as before. It may take less than the schema, never
// more: test/config-fast-path.test.ts compares the two on generated options, and checks that
// the keys below are the schema's, so a field added to the schema fails it until it is added
// here (and until then the new key is unknown here, so such options go the schema's way).
import { DEFAULTS } from './defaults.js';
import { parseDuration } from './duration.js';
import {
  BUCKET_NAME,
  INTEGRITY_CHECKS,
  isHttpUrl,
  isLoggerOption,
  LEASE_MODES,
  MIN_LEASE_TTL_MS,
  ON_STALE,
  WHEN_HELD,
} from './rules.js';
import type { ParsedOptions } from './schema.js';

/**
 * The keys each object of the options may have, by where it is in the options (as the schema
 * nests them). A key outside these sends the options to the schema. @internal
 */
export const ACCEPTED_KEYS = {
  options: [
    'enabled',
    'databases',
    'replica',
    'configFile',
    'syncInterval',
    'retention',
    'snapshotInterval',
    'binaryPath',
    'logger',
    'shutdownTimeoutMs',
    'restore',
    'supervisor',
    'lease',
    'alerts',
  ],
  'databases[]': ['path', 'replicaPath'],
  'replica(s3)': [
    'type',
    'bucket',
    'endpoint',
    'region',
    'accessKeyId',
    'secretAccessKey',
    'path',
    'forcePathStyle',
    'skipVerify',
  ],
  'replica(file)': ['type', 'path'],
  restore: ['retryForMs', 'stallTimeoutMs', 'integrityCheck', 'onStale'],
  supervisor: ['initialBackoffMs', 'maxBackoffMs', 'resetAfterMs', 'restartStalledAfterMs'],
  lease: ['mode', 'whenHeld', 'waitMs', 'ttlMs'],
  alerts: ['heartbeatUrl', 'heartbeatIntervalMs', 'webhookUrl', 'unhealthyAfterMs', 'timeoutMs'],
} as const satisfies Record<string, readonly string[]>;

type Where = keyof typeof ACCEPTED_KEYS;
const KEYS = Object.fromEntries(
  Object.entries(ACCEPTED_KEYS).map(([where, keys]) => [where, new Set<string>(keys)]),
) as unknown as Record<Where, ReadonlySet<string>>;

type Input = Readonly<Record<string, unknown>>;
type Output = Record<string, unknown>;

/** Thrown (never out of this module) for anything not accepted here. */
const REFUSED = Symbol('refused');

function refuse(): never {
  throw REFUSED;
}

/**
 * The schema's parse of `options` when these are options of a shape accepted here, or
 * `undefined`: then the schema must parse them (and word what is wrong with them). @internal
 */
export function acceptOptions(options: unknown): ParsedOptions | undefined {
  try {
    return acceptTop(options);
  } catch {
    // REFUSED, or anything thrown while reading the options (a getter): the schema decides.
    return undefined;
  }
}

function acceptTop(value: unknown): ParsedOptions {
  const input = plainObject(value, KEYS.options);
  const out: Output = {
    enabled: defaulted(input, 'enabled', true, boolean),
    syncInterval: duration(input, 'syncInterval', DEFAULTS.syncInterval),
    retention: duration(input, 'retention', DEFAULTS.retention),
    snapshotInterval: duration(input, 'snapshotInterval', DEFAULTS.snapshotInterval),
    shutdownTimeoutMs: defaulted(input, 'shutdownTimeoutMs', DEFAULTS.shutdownTimeoutMs, positiveMs),
    restore: defaulted(input, 'restore', undefined, restore) ?? restore({}),
    supervisor: defaulted(input, 'supervisor', undefined, supervisor) ?? supervisor({}),
    lease: defaulted(input, 'lease', undefined, lease) ?? {},
  };
  optional(out, input, 'databases', databases);
  optional(out, input, 'replica', replica);
  optional(out, input, 'configFile', nonEmpty);
  optional(out, input, 'binaryPath', nonEmpty);
  optional(out, input, 'logger', (logger) => (isLoggerOption(logger) ? logger : refuse()));
  optional(out, input, 'alerts', alerts);
  return out as ParsedOptions;
}

// How the schema treats a key: an optional one is copied when present (even as undefined)
// and left out when absent; a defaulted one is always there, its default in place of
// undefined. Keys are read as zod reads them (`key in input`, then `input[key]`).

function optional(out: Output, input: Input, key: string, accept: (value: unknown) => unknown): void {
  if (!(key in input)) return;
  const value = input[key];
  out[key] = value === undefined ? undefined : accept(value);
}

function defaulted<T, D>(input: Input, key: string, fallback: D, accept: (value: unknown) => T): T | D {
  const value = input[key];
  return value === undefined ? fallback : accept(value);
}

/** An object literal's kind of object (not a class instance, an array or a null-prototype object) with known keys. */
function plainObject(value: unknown, keys: ReadonlySet<string>): Input {
  if (typeof value !== 'object' || value === null || Object.getPrototypeOf(value) !== Object.prototype) refuse();
  // `for…in`, as the schema's strict check: inherited enumerable keys count too.
  for (const key in value) if (!keys.has(key)) refuse();
  return value as Input;
}

function boolean(value: unknown): boolean {
  return typeof value === 'boolean' ? value : refuse();
}

/** A string that is not blank, trimmed (the schema's `.trim().min(1)`). */
function nonEmpty(value: unknown): string {
  if (typeof value !== 'string') refuse();
  const trimmed = value.trim();
  return trimmed.length > 0 ? trimmed : refuse();
}

function oneOf<T extends string>(values: readonly T[]) {
  return (value: unknown): T => (values.includes(value as T) ? (value as T) : refuse());
}

/** Whole milliseconds (zod's `.int()`: a safe integer) of at least `min`. */
function wholeMs(min: number) {
  return (value: unknown): number =>
    Number.isSafeInteger(value) && (value as number) >= min ? (value as number) : refuse();
}

const positiveMs = wholeMs(1);
const nonNegativeMs = wholeMs(0);

function duration(input: Input, key: string, fallback: string): { text: string; ms: number } {
  const text = defaulted(input, key, fallback, (value) => (typeof value === 'string' ? value : refuse()));
  const ms = parseDuration(text);
  return ms === undefined ? refuse() : { text, ms };
}

function databases(value: unknown): Output[keyof Output] {
  if (!Array.isArray(value) || Object.getPrototypeOf(value) !== Array.prototype || value.length === 0) refuse();
  const out: unknown[] = [];
  for (let index = 0; index < value.length; index++) {
    const entry: unknown = value[index];
    if (typeof entry === 'string') {
      out.push(nonEmpty(entry));
      continue;
    }
    const input = plainObject(entry, KEYS['databases[]']);
    const database: Output = { path: nonEmpty(input.path) };
    optional(database, input, 'replicaPath', nonEmpty);
    out.push(database);
  }
  return out;
}

function replica(value: unknown): Output {
  const type = typeof value === 'object' && value !== null ? (value as Input).type : undefined;
  if (type === 'file') {
    const input = plainObject(value, KEYS['replica(file)']);
    return { type, path: nonEmpty(input.path) };
  }
  if (type !== 's3') refuse();
  const input = plainObject(value, KEYS['replica(s3)']);
  const out: Output = { type, bucket: bucket(input.bucket) };
  optional(out, input, 'endpoint', endpoint);
  optional(out, input, 'region', nonEmpty);
  optional(out, input, 'accessKeyId', nonEmpty);
  optional(out, input, 'secretAccessKey', nonEmpty);
  optional(out, input, 'path', (path) => (typeof path === 'string' ? path : refuse()));
  optional(out, input, 'forcePathStyle', boolean);
  optional(out, input, 'skipVerify', boolean);
  return out;
}

function bucket(value: unknown): string {
  if (typeof value !== 'string') refuse();
  const trimmed = value.trim();
  return BUCKET_NAME.test(trimmed) ? trimmed : refuse();
}

function endpoint(value: unknown): string {
  if (typeof value !== 'string') refuse();
  const trimmed = value.trim();
  return isHttpUrl(trimmed) ? trimmed : refuse();
}

/** An alert URL: not trimmed (the schema does not trim it). */
function httpUrl(value: unknown): string {
  return typeof value === 'string' && isHttpUrl(value) ? value : refuse();
}

function restore(value: unknown): Output {
  const input = plainObject(value, KEYS.restore);
  return {
    retryForMs: defaulted(input, 'retryForMs', DEFAULTS.restore.retryForMs, nonNegativeMs),
    stallTimeoutMs: defaulted(input, 'stallTimeoutMs', DEFAULTS.restore.stallTimeoutMs, positiveMs),
    integrityCheck: defaulted(input, 'integrityCheck', DEFAULTS.restore.integrityCheck, oneOf(INTEGRITY_CHECKS)),
    onStale: defaulted(input, 'onStale', DEFAULTS.restore.onStale, oneOf(ON_STALE)),
  };
}

function supervisor(value: unknown): Output {
  const input = plainObject(value, KEYS.supervisor);
  const defaults = DEFAULTS.supervisor;
  return {
    initialBackoffMs: defaulted(input, 'initialBackoffMs', defaults.initialBackoffMs, positiveMs),
    maxBackoffMs: defaulted(input, 'maxBackoffMs', defaults.maxBackoffMs, positiveMs),
    resetAfterMs: defaulted(input, 'resetAfterMs', defaults.resetAfterMs, positiveMs),
    restartStalledAfterMs: defaulted(input, 'restartStalledAfterMs', defaults.restartStalledAfterMs, positiveMs),
  };
}

function lease(value: unknown): Output | false {
  if (value === false) return false;
  const input = plainObject(value, KEYS.lease);
  const out: Output = {};
  optional(out, input, 'mode', oneOf(LEASE_MODES));
  optional(out, input, 'whenHeld', oneOf(WHEN_HELD));
  optional(out, input, 'waitMs', nonNegativeMs);
  optional(out, input, 'ttlMs', wholeMs(MIN_LEASE_TTL_MS));
  // The schema refuses a wait beside a lease that is not taken (it would be ignored).
  if (out.mode !== undefined && out.mode !== 'take' && (out.whenHeld !== undefined || out.waitMs !== undefined)) {
    refuse();
  }
  return out;
}

function alerts(value: unknown): Output {
  const input = plainObject(value, KEYS.alerts);
  const defaults = DEFAULTS.alerts;
  const out: Output = {
    heartbeatIntervalMs: defaulted(input, 'heartbeatIntervalMs', defaults.heartbeatIntervalMs, positiveMs),
    unhealthyAfterMs: defaulted(input, 'unhealthyAfterMs', defaults.unhealthyAfterMs, positiveMs),
    timeoutMs: defaulted(input, 'timeoutMs', defaults.timeoutMs, positiveMs),
  };
  optional(out, input, 'heartbeatUrl', httpUrl);
  optional(out, input, 'webhookUrl', httpUrl);
  return out;
}
