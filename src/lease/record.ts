/**
 * What a lease object holds: who holds the replica path, for how long a silence means it is
 * gone, and a counter that makes every write's bytes (and so its MD5 ETag) new — writing the
 * same bytes twice would give the same ETag, and a stale holder's `If-Match` would pass.
 *
 * @packageDocumentation
 */
import type { LeaseHolderInfo } from '../errors.js';

/** The process that holds a lease. */
export interface LeaseHolder {
  readonly host: string;
  readonly pid: number;
  /** When the holder's process started (ISO 8601), to tell two runs with one pid apart. */
  readonly startedAt: string;
  /** The litestream-node version it runs. */
  readonly version: string;
  /**
   * Where its pid means something: the machine's boot and the pid namespace (Linux), with the
   * process's start in clock ticks. A reader with the same `machine` can tell whether the
   * holder still runs; on another machine or container only the expiry can.
   */
  readonly machine?: { readonly id: string; readonly start: string } | undefined;
}

/** One write of a lease object. */
export interface LeaseRecord {
  readonly holder: LeaseHolder;
  /** A holder that has not renewed for this long is gone (by the reader's own clock). */
  readonly ttlMs: number;
  /** Counts the holder's writes. */
  readonly counter: number;
}

/** The bytes of `record`, as the lease object stores them. */
export function encodeLease(record: LeaseRecord): string {
  return `${JSON.stringify({ litestreamNodeLease: 1, ...record })}\n`;
}

/**
 * The record in a lease object; undefined when the bytes are not one (another tool's object,
 * or a newer format): such an object is still a lease to respect, of an unknown holder.
 */
export function decodeLease(body: string): LeaseRecord | undefined {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const { litestreamNodeLease, holder, ttlMs, counter } = value as Record<string, unknown>;
  if (litestreamNodeLease !== 1 || typeof ttlMs !== 'number' || typeof counter !== 'number') return undefined;
  if (!(ttlMs > 0) || !Number.isSafeInteger(counter) || typeof holder !== 'object' || holder === null) return undefined;
  const { host, pid, startedAt, version, machine } = holder as Record<string, unknown>;
  if (typeof host !== 'string' || typeof pid !== 'number' || typeof startedAt !== 'string') return undefined;
  if (typeof version !== 'string') return undefined;
  const { id, start } = (typeof machine === 'object' && machine !== null ? machine : {}) as Record<string, unknown>;
  const where = typeof id === 'string' && typeof start === 'string' ? { id, start } : undefined;
  return { holder: { host, pid, startedAt, version, machine: where }, ttlMs, counter };
}

/** `host pid N (started …, litestream-node …)`, for errors and log lines. */
export function describeHolder(record: LeaseRecord | undefined): string {
  if (record === undefined) return 'an unknown holder (the lease object is not one litestream-node wrote)';
  const { host, pid, startedAt, version } = record.holder;
  return `${host} pid ${pid} (started ${startedAt}, litestream-node ${version})`;
}

/** The holder as errors and events show it (where its pid means something stays inside). */
export function publicHolder(record: LeaseRecord | undefined): LeaseHolderInfo | undefined {
  if (record === undefined) return undefined;
  const { host, pid, startedAt, version } = record.holder;
  return Object.freeze({ host, pid, startedAt, version });
}
