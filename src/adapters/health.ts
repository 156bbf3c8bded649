/**
 * What a health endpoint answers: by default only what a load balancer or readiness probe
 * needs (state, healthy, a short reason), because these endpoints often sit on an app's
 * public port; the full status (database paths, litestream's pid, error text, the lease
 * holder's host and pid) only when the app asks for it.
 *
 * @packageDocumentation
 */
import type { LeaseHolderInfo } from '../errors.js';
import type { ReplicationStatus } from '../replication/types.js';
import { GATE_MESSAGES, type GateState } from './gate.js';

/** The answer of a health endpoint without details: nothing about the host, its files or its errors. */
export interface HealthSummary {
  /**
   * While the boot runs: `idle`, `restoring`, `waiting` (for the previous instance's lease)
   * or `failed`; then replication's own state (`running`, `restarting`, …).
   */
  readonly state: string;
  readonly healthy: boolean;
  /**
   * Why it is not healthy, in a few words from a fixed vocabulary (e.g. `replica errors on 1
   * of 2 databases`): never a path, pid, host name or error text. Absent when healthy.
   */
  readonly reason?: string;
}

/** A health answer: the HTTP status (200 healthy, 503 otherwise) and the JSON body. */
export interface HealthAnswer {
  readonly statusCode: 200 | 503;
  readonly body: object;
}

/** Where the boot stands, as the adapters track it, and who holds the replica while it waits. */
export interface BootState {
  readonly gate: GateState;
  readonly holder?: LeaseHolderInfo | undefined;
}

/**
 * The health answer for a boot in `boot` state with replication `status`. `details`: the
 * full status (absolute database paths, litestream's pid, the last error's text, and while
 * waiting the previous holder's host, pid and start time) beside the summary's fields.
 */
export function healthAnswer(boot: BootState, status: () => ReplicationStatus, details: boolean): HealthAnswer {
  if (boot.gate !== 'ready') {
    const summary: HealthSummary = { state: boot.gate, healthy: false, reason: GATE_MESSAGES[boot.gate] };
    return { statusCode: 503, body: details ? { ...summary, holder: boot.holder } : summary };
  }
  const current = status();
  const summary = replicationHealth(current);
  return { statusCode: summary.healthy ? 200 : 503, body: details ? { ...current, ...summary } : summary };
}

/** The summary of a replication status: its state, whether it is healthy, and if not, why in a few words. */
export function replicationHealth(status: ReplicationStatus): HealthSummary {
  if (status.healthy) return { state: status.state, healthy: true };
  return { state: status.state, healthy: false, reason: unhealthyReason(status) };
}

function unhealthyReason(status: ReplicationStatus): string {
  if (status.lease.state === 'lost') return 'another instance took the replica over';
  if (status.lease.state === 'paused') return 'the replica lease is not held';
  if (status.state !== 'running') return `litestream is ${status.state}`;
  const of = (count: number) =>
    `${count} of ${status.databases.length} database${status.databases.length === 1 ? '' : 's'}`;
  const failing = status.databases.filter((db) => db.lastError !== undefined).length;
  if (failing > 0) return `replica errors on ${of(failing)}`;
  if (status.stalled.length > 0) return `replica uploads stalled on ${of(status.stalled.length)}`;
  return 'the replica is not answering';
}
