// The options schema: the definition of valid options, and the wording of every error
// `defineConfig` reports. zod is loaded, and the schema built, the first time it is needed:
// options the fast acceptor (accept.ts) takes never load it.
import type { Logger } from '../logging/logger.js';
import { loadZod } from '../support/load-on-use.js';
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

/**
 * An object's error: `message` for a wrong type, and for a misspelt key the key itself —
 * a typo must not silently fall back to a default.
 */
const objectError =
  (message: string) =>
  (issue: { code: string; keys?: readonly string[] }): string =>
    issue.code === 'unrecognized_keys' && issue.keys
      ? `has unknown option${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((key) => `"${key}"`).join(', ')}: check the spelling`
      : message;

function replicaTypeError(type: unknown): string {
  const kinds = '"s3" (with bucket, region, …) or "file" (with path)';
  return type === undefined ? `type is required: ${kinds}` : `type must be ${kinds}, not ${JSON.stringify(type)}`;
}

let cachedSchema: ReturnType<typeof makeOptionsSchema> | undefined;

/** The options schema, built on first use (zod loads then, not at import). */
export function optionsSchema() {
  cachedSchema ??= makeOptionsSchema();
  return cachedSchema;
}

function makeOptionsSchema() {
  const { z } = loadZod();
  const duration = (fallback: string) =>
    z
      .string({ error: 'must be a Go duration string such as "10s", "5m" or "168h"' })
      .default(fallback)
      // Parsed here, once: the config carries the text for litestream and the milliseconds for us.
      .transform((text, context) => {
        const ms = parseDuration(text);
        if (ms !== undefined) return { text, ms };
        context.addIssue({
          code: 'custom',
          input: text,
          message: `${JSON.stringify(text)} is not a positive duration: use a number with a unit, e.g. "10s", "5m" or "168h"`,
        });
        return z.NEVER;
      });

  const positiveMs = (what: string) =>
    z
      .number({ error: `must be a number of milliseconds (${what})` })
      .int({ error: 'must be a whole number of milliseconds' })
      .positive({ error: 'must be greater than 0' });

  // The value is never repeated in the message: it may hold a token.
  const httpUrl = (what: string) =>
    z
      .string({ error: `must be a URL string: ${what}` })
      .refine(isHttpUrl, { error: `must be an http:// or https:// URL: ${what}` });

  const nonEmpty = (what: string) =>
    z
      .string({ error: `must be a string: ${what}` })
      .trim()
      .min(1, { error: `must not be empty: ${what}` });

  const databaseSchema = z.union(
    [
      nonEmpty('the path of a SQLite file, e.g. "storage/production.sqlite3"'),
      z
        .object(
          {
            path: nonEmpty('the path of a SQLite file, e.g. "storage/production.sqlite3"'),
            replicaPath: nonEmpty('a key such as "production.sqlite3"').optional(),
          },
          { error: objectError('must be a path string or { path, replicaPath? }') },
        )
        .strict(),
    ],
    { error: 'must be a path string or { path, replicaPath? }' },
  );

  const s3Schema = z
    .object(
      {
        type: z.literal('s3'),
        bucket: z
          .string({ error: 'is required: set the name of an existing S3 bucket' })
          .trim()
          .min(1, { error: 'is required: set the name of an existing S3 bucket', abort: true })
          .regex(BUCKET_NAME, {
            error: 'is not a valid bucket name: use 3-63 lowercase letters, digits, dots or hyphens',
          }),
        endpoint: z
          .string({ error: 'must be a URL such as "https://s3.amazonaws.com"' })
          .trim()
          .refine(isHttpUrl, {
            error: 'must be an http(s) URL with a scheme, e.g. "https://s3.amazonaws.com" or "http://127.0.0.1:9000"',
          })
          .optional(),
        region: nonEmpty('an S3 region such as "us-east-1"').optional(),
        accessKeyId: nonEmpty('the access key id').optional(),
        secretAccessKey: nonEmpty('the secret access key').optional(),
        path: z.string({ error: 'must be a key prefix string such as "myapp"' }).optional(),
        forcePathStyle: z.boolean({ error: 'must be true or false' }).optional(),
        skipVerify: z.boolean({ error: 'must be true or false' }).optional(),
      },
      { error: objectError('must be { type: "s3", bucket, … }') },
    )
    .strict();

  const fileSchema = z
    .object(
      {
        type: z.literal('file'),
        path: nonEmpty('a directory for the replica, e.g. "/var/backups/litestream"'),
      },
      { error: objectError('must be { type: "file", path }') },
    )
    .strict();

  const replicaSchema = z.discriminatedUnion('type', [s3Schema, fileSchema], {
    error: (issue) =>
      issue.code === 'invalid_union'
        ? replicaTypeError((issue.input as { type?: unknown } | undefined)?.type)
        : 'must be { type: "s3", bucket, … } or { type: "file", path }',
  });

  const loggerSchema = z.custom<Logger | false>(isLoggerOption, {
    error: 'must be a pino-compatible logger with debug/info/warn/error methods, or false to silence',
  });

  const schema = z
    .object(
      {
        enabled: z.boolean({ error: 'must be true or false' }).default(true),
        databases: z
          .array(databaseSchema, { error: 'must be a list of SQLite file paths, e.g. ["storage/production.sqlite3"]' })
          .min(1, { error: 'is empty: list at least one SQLite file, e.g. ["storage/production.sqlite3"]' })
          .optional(),
        replica: replicaSchema.optional(),
        configFile: nonEmpty('the path of a litestream.yml').optional(),
        syncInterval: duration(DEFAULTS.syncInterval),
        retention: duration(DEFAULTS.retention),
        snapshotInterval: duration(DEFAULTS.snapshotInterval),
        binaryPath: nonEmpty('the path of a litestream executable').optional(),
        logger: loggerSchema.optional(),
        shutdownTimeoutMs: positiveMs('how long stop() waits for the final sync').default(DEFAULTS.shutdownTimeoutMs),
        restore: z
          .object(
            {
              retryForMs: z
                .number({ error: 'must be a number of milliseconds' })
                .int({ error: 'must be a whole number of milliseconds' })
                .nonnegative({ error: 'must be 0 or more' })
                .default(DEFAULTS.restore.retryForMs),
              stallTimeoutMs: positiveMs('how long a restore may show no progress').default(
                DEFAULTS.restore.stallTimeoutMs,
              ),
              integrityCheck: z
                .enum(INTEGRITY_CHECKS, { error: 'must be "full", "quick" or "off"' })
                .default(DEFAULTS.restore.integrityCheck),
              onStale: z
                .enum(ON_STALE, { error: 'must be "refuse", "restore" or "keep-local"' })
                .default(DEFAULTS.restore.onStale),
            },
            { error: objectError('must be an object') },
          )
          .strict()
          .default({ ...DEFAULTS.restore }),
        supervisor: z
          .object(
            {
              initialBackoffMs: positiveMs('first restart delay').default(DEFAULTS.supervisor.initialBackoffMs),
              maxBackoffMs: positiveMs('longest restart delay').default(DEFAULTS.supervisor.maxBackoffMs),
              resetAfterMs: positiveMs('stable run that resets the backoff').default(DEFAULTS.supervisor.resetAfterMs),
              restartStalledAfterMs: positiveMs('hung upload that restarts litestream').default(
                DEFAULTS.supervisor.restartStalledAfterMs,
              ),
            },
            { error: objectError('must be an object') },
          )
          .strict()
          .default({ ...DEFAULTS.supervisor }),
        lease: z
          .union(
            [
              z.literal(false),
              z
                .object(
                  {
                    mode: z
                      .enum(LEASE_MODES, {
                        error: 'must be "take", "off" or "off-write-over-live-holder"',
                      })
                      .optional(),
                    whenHeld: z.enum(WHEN_HELD, { error: 'must be "wait" or "refuse"' }).optional(),
                    waitMs: z
                      .number({ error: 'must be a number of milliseconds' })
                      .int({ error: 'must be a whole number of milliseconds' })
                      .nonnegative({ error: 'must be 0 or more' })
                      .optional(),
                    ttlMs: z
                      .number({ error: 'must be a number of milliseconds' })
                      .int({ error: 'must be a whole number of milliseconds' })
                      .min(MIN_LEASE_TTL_MS, { error: 'must be at least 2000: the lease is renewed every third of it' })
                      .optional(),
                  },
                  { error: objectError('must be false, or { mode?, whenHeld?, waitMs?, ttlMs? }') },
                )
                .strict()
                .superRefine((lease, context) => {
                  // A lease that is not taken is never waited for: these would be silently ignored.
                  if (lease.mode === undefined || lease.mode === 'take') return;
                  for (const field of ['whenHeld', 'waitMs'] as const) {
                    if (lease[field] === undefined) continue;
                    context.addIssue({
                      code: 'custom',
                      path: [field],
                      message: `has no effect with mode "${lease.mode}" (no lease is taken, so none is waited for): remove it, or take the lease`,
                    });
                  }
                }),
            ],
            {
              error:
                'must be false (no lease taken), or { mode?: "take" | "off" | "off-write-over-live-holder", whenHeld?: "wait" | "refuse", waitMs?, ttlMs? }',
            },
          )
          .default({}),
        alerts: z
          .object(
            {
              heartbeatUrl: httpUrl('the URL to ping while replication is healthy').optional(),
              heartbeatIntervalMs: positiveMs('how often the heartbeat is pinged').default(
                DEFAULTS.alerts.heartbeatIntervalMs,
              ),
              webhookUrl: httpUrl('the URL to call when replication is unhealthy').optional(),
              unhealthyAfterMs: positiveMs('how long replication is unhealthy before the webhook is called').default(
                DEFAULTS.alerts.unhealthyAfterMs,
              ),
              timeoutMs: positiveMs('how long one alert request may take').default(DEFAULTS.alerts.timeoutMs),
            },
            {
              error: objectError(
                'must be an object { heartbeatUrl?, heartbeatIntervalMs?, webhookUrl?, unhealthyAfterMs?, timeoutMs? }',
              ),
            },
          )
          .strict()
          .optional(),
      },
      { error: objectError('options must be an object such as { databases: [...], replica: {...} }') },
    )
    .strict();
  return schema;
}

/** What a successful parse of the options returns. @internal */
export type ParsedOptions = ReturnType<ReturnType<typeof makeOptionsSchema>['parse']>;
