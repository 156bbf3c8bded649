// The predicates and value sets an option is checked against, shared by the zod schema
// (schema.ts, the definition, which also words the errors) and the fast acceptor
// (accept.ts), so that neither can drift from the other on what a valid value is.
import type { Logger } from '../logging/logger.js';

/** An S3 bucket name: 3–63 lowercase letters, digits, dots or hyphens. */
export const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

export const INTEGRITY_CHECKS = ['full', 'quick', 'off'] as const;
export const ON_STALE = ['refuse', 'restore', 'keep-local'] as const;
export const LEASE_MODES = ['take', 'off', 'off-write-over-live-holder'] as const;
export const WHEN_HELD = ['wait', 'refuse'] as const;

/** The shortest lease ttl: it is renewed every third of it. */
export const MIN_LEASE_TTL_MS = 2_000;

/** An absolute http:// or https:// URL with a host. */
export function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname.length > 0;
  } catch {
    return false;
  }
}

/** `false` (silenced), or an object with pino's debug/info/warn/error methods. */
export function isLoggerOption(value: unknown): value is Logger | false {
  return (
    value === false ||
    (typeof value === 'object' &&
      value !== null &&
      ['debug', 'info', 'warn', 'error'].every((m) => typeof (value as Record<string, unknown>)[m] === 'function'))
  );
}
