// A Fastify app whose SQLite databases live in S3 (or a local replica): the main database
// and a job-queue database. Configured by the LITESTREAM_* environment variables.
import Database from 'better-sqlite3';
import Fastify from 'fastify';
import { configFromEnv } from 'litestream-node';
import litestream from 'litestream-node/fastify';

const MAIN = 'storage/production.sqlite3';
const QUEUE = 'storage/production_queue.sqlite3';

// A large restore can take longer than Fastify's default 10 s plugin timeout.
const app = Fastify({ logger: true, pluginTimeout: 120_000 });

// Restores missing databases before anything opens them, then replicates in the background.
await app.register(litestream, {
  config: configFromEnv(process.env, { databases: [MAIN, QUEUE], logger: app.log.child({ plugin: 'litestream' }) }),
  healthRoute: '/healthz/litestream',
  // A load balancer gets { state, healthy, reason }; the details (database paths, litestream's
  // pid, error text) only a caller that sends the operator's token.
  healthDetails: (request) =>
    Boolean(process.env.HEALTH_TOKEN) && request.headers['x-health-token'] === process.env.HEALTH_TOKEN,
});

// Open the databases only now: they are restored (or new).
const open = (file) => {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('busy_timeout = 5000');
  return db;
};
const main = open(MAIN);
const queue = open(QUEUE);
main.exec('CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)');
queue.exec('CREATE TABLE IF NOT EXISTS jobs (id INTEGER PRIMARY KEY, kind TEXT NOT NULL, done INTEGER DEFAULT 0)');
app.addHook('onClose', async () => {
  main.close();
  queue.close();
});

app.get('/items', async () => main.prepare('SELECT id, name FROM items ORDER BY id').all());
app.post('/items/:name', async (request) => {
  const { lastInsertRowid } = main.prepare('INSERT INTO items (name) VALUES (?)').run(request.params.name);
  queue.prepare('INSERT INTO jobs (kind) VALUES (?)').run('index-item');
  return { id: Number(lastInsertRowid) };
});
app.get('/jobs', async () => queue.prepare('SELECT id, kind, done FROM jobs ORDER BY id').all());

await app.listen({ port: Number(process.env.PORT ?? 3000), host: process.env.HOST ?? '127.0.0.1' });

// Graceful shutdown: app.close() runs the plugin's onClose, which waits for the final sync.
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.once(signal, async () => {
    await app.close();
    process.exit(0);
  });
}
