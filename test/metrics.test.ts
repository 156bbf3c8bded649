// Prometheus metrics from the library's own status: the text format, and what each metric
// says for a given status. The adapters serve them against the real litestream in
// fastify.test.ts and express.test.ts.
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import type { ReplicationStatus } from '../src/index.js';
import { renderExposition } from '../src/metrics/exposition.js';
import { MetricsRecorder } from '../src/metrics/recorder.js';
import type { Replication } from '../src/replication/types.js';
import { expectWellFormed, sample } from './support/prometheus.js';

const DB = '/data/app "main".sqlite3';
const NOW = Date.parse('2026-12-03T12:00:00Z');

function status(overrides: Partial<ReplicationStatus> = {}): ReplicationStatus {
  return {
    state: 'running',
    healthy: true,
    lastError: undefined,
    pid: 42,
    restarts: 2,
    startedAt: new Date(NOW - 60_000),
    databases: [
      {
        path: DB,
        initialized: true,
        synced: true,
        generation: undefined,
        txid: 17,
        lastSyncAt: new Date(NOW - 1_500),
        lastError: undefined,
        uploadingSince: new Date(NOW - 4_000),
      },
    ],
    stalled: [],
    lease: { state: 'held', error: undefined },
    ...overrides,
  };
}

describe('renderExposition', () => {
  it('writes HELP and TYPE once per family, escapes label values and help, and leaves out empty families', () => {
    const text = renderExposition([
      { name: 'a_total', type: 'counter', help: 'line one\nback\\slash', samples: [{ value: 3 }] },
      { name: 'b_seconds', type: 'gauge', help: 'b', samples: [{ labels: { database: 'x"y\\z\nw' }, value: 1.5 }] },
      { name: 'c', type: 'gauge', help: 'none', samples: [] },
    ]);
    expect(text).toBe(
      [
        '# HELP a_total line one\\nback\\\\slash',
        '# TYPE a_total counter',
        'a_total 3',
        '# HELP b_seconds b',
        '# TYPE b_seconds gauge',
        'b_seconds{database="x\\"y\\\\z\\nw"} 1.5',
        '',
      ].join('\n'),
    );
    expectWellFormed(text);
  });
});

describe('MetricsRecorder', () => {
  it('gives per database the last sync time and age, the position, uploads in flight and stalled', () => {
    const recorder = new MetricsRecorder({ now: () => NOW });
    const text = recorder.render(status({ stalled: [DB], healthy: false }));
    expectWellFormed(text);
    const db = { database: DB.replace(/"/g, '\\"') };
    expect(sample(text, 'litestream_node_replication_up')).toBe(1);
    expect(sample(text, 'litestream_node_replication_healthy')).toBe(0);
    expect(sample(text, 'litestream_node_litestream_restarts_total')).toBe(2);
    expect(sample(text, 'litestream_node_last_sync_timestamp_seconds', db)).toBe((NOW - 1_500) / 1000);
    expect(sample(text, 'litestream_node_last_sync_age_seconds', db)).toBe(1.5);
    expect(sample(text, 'litestream_node_replica_txid', db)).toBe(17);
    expect(sample(text, 'litestream_node_upload_in_flight_seconds', db)).toBe(4);
    expect(sample(text, 'litestream_node_upload_stalled', db)).toBe(1);
    expect(sample(text, 'litestream_node_lease_info', { state: 'held' })).toBe(1);
    // Nothing recorded yet: no restore, no final sync.
    expect(text).not.toContain('litestream_node_restore_info');
    expect(text).not.toContain('litestream_node_final_sync');
  });

  it('tells a boot with no backup from a failed one, counts errors, and keeps the final sync', () => {
    const recorder = new MetricsRecorder({ now: () => NOW });
    recorder.recordRestore([{ path: DB, outcome: 'no-backup', durationMs: 250 }]);
    let text = recorder.render(status());
    expect(sample(text, 'litestream_node_restore_info', { outcome: 'no-backup' })).toBe(1);
    expect(sample(text, 'litestream_node_restore_duration_seconds')).toBe(0.25);
    recorder.recordRestoreFailure([DB], 30_000);
    text = recorder.render(status());
    expect(sample(text, 'litestream_node_restore_info', { outcome: 'failed' })).toBe(1);
    expect(sample(text, 'litestream_node_restore_info', { outcome: 'no-backup' })).toBeUndefined();

    const replication = new EventEmitter() as unknown as Replication;
    recorder.watch(replication);
    recorder.watch(replication);
    replication.emit('replicaError', { db: DB, message: 'connection refused' });
    replication.emit('replicaError', { db: DB, message: 'connection refused' });
    replication.emit('stopped', { clean: true, killed: false, exitCode: 0, errors: [], durationMs: 1_250 });
    text = recorder.render(
      status({
        state: 'stopped',
        databases: [{ ...(status().databases[0] as ReplicationStatus['databases'][number]), lastError: undefined }],
      }),
    );
    expectWellFormed(text);
    expect(sample(text, 'litestream_node_sync_errors_total')).toBe(2);
    expect(sample(text, 'litestream_node_replication_up')).toBe(0);
    expect(sample(text, 'litestream_node_final_sync_clean')).toBe(1);
    expect(sample(text, 'litestream_node_final_sync_killed')).toBe(0);
    expect(sample(text, 'litestream_node_final_sync_duration_seconds')).toBe(1.25);
  });

  it('names 0.3 generations as a label, and leaves out what a database does not have', () => {
    const base = status().databases[0] as ReplicationStatus['databases'][number];
    const text = new MetricsRecorder({ now: () => NOW }).render(
      status({
        databases: [
          {
            ...base,
            txid: undefined,
            generation: 'a1b2c3d4e5f60718',
            lastSyncAt: undefined,
            uploadingSince: undefined,
          },
        ],
      }),
    );
    expectWellFormed(text);
    expect(sample(text, 'litestream_node_replica_generation_info', { generation: 'a1b2c3d4e5f60718' })).toBe(1);
    expect(text).not.toContain('litestream_node_replica_txid');
    expect(text).not.toContain('litestream_node_last_sync_timestamp_seconds');
    expect(sample(text, 'litestream_node_upload_in_flight_seconds')).toBe(0);
  });
});
