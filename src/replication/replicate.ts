import type { LitestreamConfig } from '../config/types.js';
import type { LeaseKeeper } from '../lease/keeper.js';
import { compareWithReplica, type LineageMemo } from '../lineage/check.js';
import { childLogger } from '../logging/logger.js';
import { DisabledReplication } from './idle.js';
import { Supervisor } from './supervisor.js';
import type { Replication } from './types.js';

/** What the replication of one Litestream instance uses of what that instance holds. */
export interface ReplicationHoldings {
  /** Its replica leases (those its boot's restore took are found held). */
  readonly leases: LeaseKeeper;
  /** The databases its boot found current: not compared again before litestream writes. */
  readonly lineage: LineageMemo;
}

/**
 * Starts a supervised replicator for `config` (see {@link Replication}) with the leases and
 * lineage of the instance that holds them; `onStopped` is called once it has stopped for
 * good. @internal the public entry is `startReplication` in litestream.ts.
 */
export function replicate(config: LitestreamConfig, holdings: ReplicationHoldings, onStopped: () => void): Replication {
  if (!config.enabled) return new DisabledReplication(config);
  const logger = childLogger(config.logger, { component: 'replicate' });
  const supervisor = new Supervisor(config, onStopped, {
    takeLeases: (signal) => holdings.leases.take(config, config.databases, { logger, signal }),
    compareWithReplica: (runtime, signal) => compareWithReplica(holdings.lineage, config, runtime, logger, signal),
  });
  supervisor.start();
  return supervisor;
}
