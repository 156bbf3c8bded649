// An app under write load, in its own process, for the reliability suite. It boots the way
// a user's app does (restore, open, replicate), then commits rows continuously and reports
// every committed id range on stdout as JSON lines, stamped with the commit time. The
// library's log goes to stderr as JSON lines so the test can search it for secrets.
//
// stdin commands: `load` starts writing, `status` reports replication status.
// SIGTERM: stop writing, stop replication (final sync), close, exit 0.
import { createInterface } from 'node:readline';
import Database from 'better-sqlite3';
import { configFromEnv, ensureRestored, startReplication } from '../../dist/index.js';

const report = (event) => process.stdout.write(`${JSON.stringify(event)}\n`);
const log = (level) => (fields, message) =>
  process.stderr.write(`${JSON.stringify({ level, ...fields, msg: message })}\n`);
const logger = { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };

const fail = (error) => {
  report({ event: 'error', name: error.name, message: error.message, detail: error.detail, holder: error.holder });
  process.exit(1);
};

/** Commits per batch, and the pause between batches: a few hundred commits per second. */
const BATCH = 4;
const PAUSE_MS = 5;

try {
  const config = configFromEnv(process.env, {
    logger,
    restore: {
      retryForMs: Number(process.env.APP_RESTORE_RETRY_MS ?? 30_000),
      stallTimeoutMs: Number(process.env.APP_RESTORE_STALL_MS ?? 60_000),
    },
    supervisor: {
      initialBackoffMs: 200,
      maxBackoffMs: 2_000,
      resetAfterMs: 60_000,
      restartStalledAfterMs: Number(process.env.APP_STALL_RESTART_MS ?? 120_000),
    },
  });
  const started = Date.now();
  const restored = await ensureRestored(config, {
    onWaiting: ({ holder, lease }) => report({ event: 'waiting', holder, lease, at: Date.now() }),
  });
  report({
    event: 'restored',
    outcomes: restored.map((r) => r.outcome),
    durationMs: Date.now() - started,
    at: Date.now(),
  });

  const db = new Database(config.databases[0].path);
  db.pragma('journal_mode = WAL');
  db.pragma('busy_timeout = 5000');
  db.pragma('synchronous = NORMAL');
  db.exec('CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, body TEXT NOT NULL)');
  const insert = db.prepare('INSERT INTO items (body) VALUES (?)');
  const body = 'x'.repeat(200);

  const replication = startReplication(config);
  replication.on('spawn', ({ pid }) => report({ event: 'spawn', pid }));
  replication.on('restart', ({ restarts }) => report({ event: 'restart', restarts }));
  replication.on('lease', (lease) => report({ event: 'lease', ...lease, at: Date.now() }));
  await replication.started;
  // APP_READY_AT=started: serve (take load) as soon as litestream runs, before the first sync
  // of every database has reached the replica, as an app that does not await `ready` does.
  if (process.env.APP_READY_AT !== 'started') await replication.ready;
  report({ event: 'ready', pid: replication.status().pid });

  let timer;
  let writeErrors = 0;
  let lastWriteError;
  // APP_DURABLE=1: each batch is acknowledged only once sync() confirmed it is in the replica,
  // as a payment route answers only then.
  const durable = process.env.APP_DURABLE === '1';
  let syncFailures = 0;
  const writeBatch = () => {
    // Ids of the rows committed (a failed insert takes no id, so they are consecutive).
    const ids = [];
    for (let i = 0; i < BATCH; i++) {
      try {
        ids.push(Number(insert.run(body).lastInsertRowid));
      } catch (error) {
        // A busy database would show up here (the app "noticed" replication), and so does a
        // full disk, as SQLite reports it.
        writeErrors++;
        lastWriteError = `${error.code}: ${error.message}`;
      }
    }
    if (durable) {
      replication.sync({ timeoutMs: 10_000 }).then(
        () => {
          if (ids.length > 0) report({ event: 'acked', from: ids[0], to: ids.at(-1), at: Date.now(), durable: true });
          timer = setTimeout(writeBatch, PAUSE_MS);
        },
        () => {
          syncFailures++;
          timer = setTimeout(writeBatch, PAUSE_MS);
        },
      );
      return;
    }
    if (ids.length > 0) report({ event: 'acked', from: ids[0], to: ids.at(-1), at: Date.now() });
    timer = setTimeout(writeBatch, PAUSE_MS);
  };

  // `once`, as many apps write it: a library signal listener must not turn that into a kill.
  // SIGINT too: a terminal's Ctrl-C.
  const shutdown = async (signal) => {
    process.off('SIGTERM', shutdown);
    process.off('SIGINT', shutdown);
    clearTimeout(timer);
    const result = await replication.stop();
    db.close();
    report({ event: 'stopped', signal, clean: result.clean, killed: result.killed, durationMs: result.durationMs });
    process.exit(0);
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);

  for await (const line of createInterface({ input: process.stdin })) {
    if (line === 'load') writeBatch();
    if (line === 'status') {
      const status = replication.status();
      report({
        event: 'status',
        healthy: status.healthy,
        state: status.state,
        restarts: status.restarts,
        pid: status.pid,
        writeErrors,
        lastWriteError,
        syncFailures,
        lease: status.lease,
        lastError: status.lastError,
        uploading: status.databases.some((d) => d.uploadingSince !== undefined),
        errors: status.databases.map((d) => d.lastError?.message).filter(Boolean),
        // Every commit before this time is in the replica (the least of the databases').
        lastSyncAt: Math.min(...status.databases.map((d) => d.lastSyncAt?.getTime() ?? 0)),
      });
    }
  }
} catch (error) {
  fail(error);
}
