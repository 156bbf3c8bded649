// Scenario 14: the app dies (SIGKILL to the app and its litestream) while a large upload is in
// flight: a bulk transaction of 1 GiB (64 MiB in the short form), as an import or a migration
// writes, through a throttled link, killed once its upload has started and before it can have
// finished. The next container must restore the last complete state: integrity ok, the bulk
// transaction not there at all, and every write acknowledged before it.
import { randomBytes, randomUUID } from 'node:crypto';
import Database from 'better-sqlite3';
import { describe, it } from 'vitest';
import { waitFor } from '../support/fixtures.js';
import { throttledProxy } from '../support/proxy.js';
import { testS3 } from '../support/s3-per-file.js';
import {
  between,
  FULL,
  LOSS_BUDGET_MS,
  launchUnderLoad,
  lossWindowMs,
  restoreFresh,
  runFor,
  Scenario,
  seedLargeBackup,
  trials,
} from './harness.js';

const MIB = 1024 * 1024;
const BULK_MIB = FULL ? 1024 : 64;
/**
 * Each connection's speed through the proxy: litestream uploads a large object in parts over
 * several connections at once, so that the whole takes some seconds.
 */
const LINK_BYTES_PER_SECOND = (FULL ? 10 : 2) * MIB;
/** When the kill comes, after the bulk upload has started: well before it can have finished. */
const KILL_AFTER_MS: [number, number] = FULL ? [0, 10_000] : [0, 1_500];

/** Commits `mib` rows of 1 MiB of random bytes in one transaction, from a connection of its own. */
function bulkInsert(file: string, mib: number): void {
  const db = new Database(file);
  try {
    db.pragma('busy_timeout = 10000');
    db.exec('CREATE TABLE IF NOT EXISTS bulk (id INTEGER PRIMARY KEY, data BLOB NOT NULL)');
    const insert = db.prepare('INSERT INTO bulk (data) VALUES (?)');
    db.transaction(() => {
      for (let i = 0; i < mib; i++) insert.run(randomBytes(MIB));
    })();
  } finally {
    db.close();
  }
}

/** How many 1 MiB rows the restored database's bulk table holds (0 when it has none). */
function bulkRows(file: string): number {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const table = db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'bulk'").get();
    return table ? (db.prepare('SELECT count(*) AS n FROM bulk').get() as { n: number }).n : 0;
  } finally {
    db.close();
  }
}

describe('a large upload cut short', () => {
  it(
    `14. SIGKILL while a ${BULK_MIB} MiB transaction is being uploaded: the next boot restores the last complete state, integrity ok`,
    async ({ task }) => {
      const scenario = new Scenario(`14. SIGKILL during a ${BULK_MIB} MiB upload`, task);
      const sentMiB: number[] = [];
      for (let trial = 0; trial < trials(5, 1); trial++) {
        const proxy = await throttledProxy(testS3().endpoint, LINK_BYTES_PER_SECOND);
        const prefix = `large-upload-${randomUUID()}`;
        const app = await launchUnderLoad(prefix, { env: { LITESTREAM_S3_ENDPOINT: proxy.endpoint } });
        await runFor(1_000);
        const bulkAt = Date.now();
        bulkInsert(app.database, BULK_MIB);
        // The kill lands mid-upload: after the first MiB of it has reached the server.
        const sentBefore = proxy.sentBytes();
        await waitFor(() => proxy.sentBytes() - sentBefore > MIB, 60_000, 'the bulk upload to start');
        await runFor(between(...KILL_AFTER_MS));
        const sentOfBulk = proxy.sentBytes() - sentBefore;
        await app.killContainer();
        const restored = await restoreFresh(prefix);
        const rows = restored.file ? bulkRows(restored.file) : 0;
        // Writes acknowledged before the bulk transaction began must all be there.
        const windowMs = lossWindowMs(app.acks, restored.maxId, bulkAt);
        const problems = [
          // Random bytes do not compress: less than the bulk's size sent is an upload unfinished.
          ...(sentOfBulk < BULK_MIB * MIB
            ? []
            : [`${Math.round(sentOfBulk / MIB)} MiB had been sent at the kill: the upload may have finished first`]),
          ...(restored.outcome === 'restored' ? [] : [`the new container's restore said ${restored.outcome}`]),
          ...(restored.integrity === 'ok' ? [] : [`integrity_check: ${restored.integrity}`]),
          // Its upload was cut short: the last complete state is the one before it.
          ...(rows === 0
            ? []
            : [`${rows} of the bulk transaction's ${BULK_MIB} rows restored from an unfinished upload`]),
          ...(windowMs > LOSS_BUDGET_MS
            ? [`lost writes acknowledged ${windowMs} ms before the bulk transaction began`]
            : []),
          ...scenario.checkSecrets({ 'app output': app.output(), 'restore log': restored.log }),
        ];
        sentMiB.push(Math.round(sentOfBulk / MIB));
        scenario.row.notes = `killed 1 MiB + ${KILL_AFTER_MS.join('–')} ms into the bulk upload, after ${Math.min(...sentMiB)}–${Math.max(...sentMiB)} MiB of ${BULK_MIB} were sent; the bulk transaction absent in every passing trial`;
        scenario.trial(problems, { windowMs, lostAcknowledged: windowMs > LOSS_BUDGET_MS });
      }
    },
    trials(5, 1) * 180_000,
  );

  it(
    `14b. SIGKILL while a restored boot uploads its first full copy (${BULK_MIB} MiB): the next boot restores the backup it restored from, integrity ok`,
    async ({ task }) => {
      const scenario = new Scenario(`14b. SIGKILL during a ${BULK_MIB} MiB snapshot upload after a restore`, task);
      const sentMiB: number[] = [];
      const lostMs: number[] = [];
      // Rows of the load app's table, 1 KiB each.
      const seedRows = BULK_MIB * 1024;
      for (let trial = 0; trial < trials(5, 1); trial++) {
        const prefix = `snapshot-upload-${randomUUID()}`;
        await seedLargeBackup(prefix, seedRows);
        // Restores at full speed; what it uploads next crawls. The app takes writes as soon
        // as litestream runs, before its first full copy has reached the replica.
        const proxy = await throttledProxy(testS3().endpoint, LINK_BYTES_PER_SECOND, { uploadsOnly: true });
        const app = await launchUnderLoad(prefix, {
          env: { LITESTREAM_S3_ENDPOINT: proxy.endpoint, APP_READY_AT: 'started' },
        });
        await waitFor(() => proxy.sentBytes() > MIB, 60_000, 'the upload of the full copy to start');
        await runFor(between(...KILL_AFTER_MS));
        const sentOfCopy = proxy.sentBytes();
        const status = await app.status();
        const killedAt = Date.now();
        await app.killContainer();
        const restored = await restoreFresh(prefix);
        const problems = [
          // Random bytes do not compress: less than the database's size sent is a copy unfinished.
          ...(sentOfCopy < BULK_MIB * MIB
            ? []
            : [`${Math.round(sentOfCopy / MIB)} MiB had been sent at the kill: the copy may have finished first`]),
          ...(status.lastSyncAt === 0
            ? []
            : [`the app's replication reported a sync before its full copy was uploaded`]),
          ...(restored.outcome === 'restored' ? [] : [`the new container's restore said ${restored.outcome}`]),
          ...(restored.integrity === 'ok' ? [] : [`integrity_check: ${restored.integrity}`]),
          // Every row of the backup it booted from. The app's writes since wait behind the full
          // copy: on 0.3 a new generation's changes follow its snapshot, on 0.5 its first LTX file.
          ...(restored.maxId >= seedRows ? [] : [`restored ${restored.maxId} of the backup's ${seedRows} rows`]),
          ...scenario.checkSecrets({ 'app output': app.output(), 'restore log': restored.log }),
        ];
        sentMiB.push(Math.round(sentOfCopy / MIB));
        // Writes acknowledged before \`ready\` are what a kill now loses: since the first one.
        const lostSince = app.acks.find((ack) => ack.to > restored.maxId)?.at;
        lostMs.push(lostSince === undefined ? 0 : killedAt - lostSince);
        scenario.row.notes = `killed 1 MiB + ${KILL_AFTER_MS.join('–')} ms into the upload, after ${Math.min(...sentMiB)}–${Math.max(...sentMiB)} MiB of ${BULK_MIB}, before \`ready\`; writes taken before \`ready\` lost, up to ${Math.max(...lostMs)} ms of them`;
        scenario.trial(problems, { windowMs: Math.max(...lostMs), lostAcknowledged: lostSince !== undefined });
      }
    },
    trials(5, 1) * 300_000,
  );
});
