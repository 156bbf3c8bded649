import { defineConfig } from 'vitest/config';

// The behaviours users rely on most also run against a second S3 implementation.
const ALSO_ON_SEAWEEDFS = [
  'test/round-trip.test.ts',
  'test/failures.test.ts',
  'test/pitr.test.ts',
  'test/verify.test.ts',
  'test/s3-servers.test.ts',
  'test/s3-objects.test.ts',
  'test/s3-signing.test.ts',
  'test/lease.test.ts',
];

// The behaviours every user relies on also run against Litestream 0.5 (the others are
// about 0.3's own listings, log lines and quirks, or about the library alone).
const ALSO_ON_LITESTREAM_05 = [
  'test/durable-sync.test.ts',
  'test/durable-routes.test.ts',
  'test/round-trip.test.ts',
  'test/failures.test.ts',
  'test/pitr.test.ts',
  'test/verify.test.ts',
  'test/stale-disk.test.ts',
  'test/replicate.test.ts',
  'test/lifecycle.test.ts',
  'test/examples.test.ts',
  'test/run-app.test.ts',
  'test/rolling-deploy.test.ts',
  'test/credentials-chain.test.ts',
  'test/lease-off.test.ts',
  'test/claim-race.test.ts',
  'test/reliability/*.test.ts',
  // Both versions side by side, and what only 0.5 needs.
  'test/versions.test.ts',
];

// Pure units: no S3 server, no litestream, no build. They run in a project of their own, so
// that no file of theirs starts an S3 server it never uses.
const UNITS = [
  'test/supervision/**/*.test.ts',
  'test/architecture.test.ts',
  'test/codecs.test.ts',
  'test/config-fast-path.test.ts',
  'test/engine-v0_5.test.ts',
  'test/failure-cause.test.ts',
  'test/log-lines.test.ts',
  'test/ltx-file.test.ts',
  'test/lz4-frame.test.ts',
  'test/metrics.test.ts',
  'test/replica-outage.test.ts',
];

// What every project shares. The global setup is the root's alone, so it runs once.
const perProject = {
  setupFiles: ['test/support/s3-per-file.ts'],
  pool: 'forks' as const,
  testTimeout: 60_000,
  hookTimeout: 60_000,
};

export default defineConfig({
  test: {
    globalSetup: ['test/support/build.ts', 'test/support/s3-global.ts'],
    // Each file starts real litestream processes and S3 servers, and mostly waits on them (sync
    // intervals, leases, outages): a file uses about a fifth of a core. Four at a time on a
    // 2-core machine slowed each file by about 5% and took the litestream-0.5 project from
    // 256 s to 149 s (six: 108 s, each file about 14% slower).
    maxWorkers: 4,
    reporters: ['default', './test/support/summary-reporter.ts'],
    projects: [
      {
        test: {
          name: 'unit',
          include: UNITS,
          pool: 'forks' as const,
          testTimeout: 60_000,
        },
      },
      {
        test: {
          ...perProject,
          name: 'versitygw',
          include: ['test/**/*.test.ts'],
          // It runs both versions itself; units need no server.
          exclude: ['test/versions.test.ts', ...UNITS],
          provide: { s3Kind: 'versitygw', litestreamFamily: '0.3' },
        },
      },
      {
        test: {
          ...perProject,
          name: 'seaweedfs',
          include: ALSO_ON_SEAWEEDFS,
          provide: { s3Kind: 'seaweedfs', litestreamFamily: '0.3' },
        },
      },
      {
        test: {
          ...perProject,
          name: 'litestream-0.5',
          include: ALSO_ON_LITESTREAM_05,
          provide: { s3Kind: 'versitygw', litestreamFamily: '0.5' },
        },
      },
    ],
  },
});
