/** The defaults: sync every 10 s, 7 days of history, a snapshot a day. */
export const DEFAULTS = Object.freeze({
  syncInterval: '10s',
  retention: '168h',
  snapshotInterval: '24h',
  shutdownTimeoutMs: 30_000,
  region: 'us-east-1',
  restore: Object.freeze({
    retryForMs: 30_000,
    stallTimeoutMs: 60_000,
    integrityCheck: 'full' as const,
    onStale: 'refuse' as const,
  }),
  supervisor: Object.freeze({
    initialBackoffMs: 1_000,
    maxBackoffMs: 30_000,
    resetAfterMs: 60_000,
    restartStalledAfterMs: 120_000,
  }),
  lease: Object.freeze({ minTtlMs: 60_000, syncIntervalsPerTtl: 6, minWaitMs: 120_000 }),
  alerts: Object.freeze({ heartbeatIntervalMs: 60_000, unhealthyAfterMs: 60_000, timeoutMs: 10_000 }),
});
