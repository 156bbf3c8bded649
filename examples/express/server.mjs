// An Express app whose SQLite databases live in S3 (or a local replica): the main database
// and a job-queue database. Configured by the LITESTREAM_* environment variables.
import Database from 'better-sqlite3';
import express from 'express';
import { configFromEnv } from 'litestream-node';
import { expressLitestream } from 'litestream-node/express';

const MAIN = 'storage/production.sqlite3';
const QUEUE = 'storage/production_queue.sqlite3';

const litestream = expressLitestream(configFromEnv(process.env, { databases: [MAIN, QUEUE] }), {
  // A load balancer gets { state, healthy, reason }; the details (database paths, litestream's
  // pid, error text) only a caller that sends the operator's token.
  healthDetails: (request) =>
    Boolean(process.env.HEALTH_TOKEN) && request.get('x-health-token') === process.env.HEALTH_TOKEN,
});

const app = express();
// Answers 503 + Retry-After until the databases are restored (matters only if something
// listens before `listen` below, e.g. a sidecar probe; kept here to show the gate).
app.use(litestream.gate);

let main;
let queue;
app.get('/items', (_request, response) => {
  response.json(main.prepare('SELECT id, name FROM items ORDER BY id').all());
});
app.post('/items/:name', (request, response) => {
  const { lastInsertRowid } = main.prepare('INSERT INTO items (name) VALUES (?)').run(request.params.name);
  queue.prepare('INSERT INTO jobs (kind) VALUES (?)').run('index-item');
  response.json({ id: Number(lastInsertRowid) });
});
app.get('/jobs', (_request, response) => {
  response.json(queue.prepare('SELECT id, kind, done FROM jobs ORDER BY id').all());
});
app.get('/healthz/litestream', litestream.health);

// Restore first, then open the databases, then listen.
await litestream.start();
const open = (file) => {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('busy_timeout = 5000');
  return db;
};
main = open(MAIN);
queue = open(QUEUE);
main.exec('CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)');
queue.exec('CREATE TABLE IF NOT EXISTS jobs (id INTEGER PRIMARY KEY, kind TEXT NOT NULL, done INTEGER DEFAULT 0)');

const server = await litestream.listen(app, Number(process.env.PORT ?? 3000), process.env.HOST ?? '127.0.0.1');
console.log(`listening on http://127.0.0.1:${server.address().port}`);

// On SIGTERM/SIGINT: close the server, wait for the final sync, exit.
// With @godaddy/terminus or close-with-grace, call `litestream.close()` from their hook instead.
litestream.closeOnSignals();
