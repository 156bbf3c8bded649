// A plain node:http app whose SQLite databases live in S3 (or a local replica):
// the main database and a job-queue database. No framework: restore, open, replicate, listen.
import { createServer } from 'node:http';
import Database from 'better-sqlite3';
import { configFromEnv, ensureRestored, startReplication } from 'litestream-node';

const MAIN = 'storage/production.sqlite3';
const QUEUE = 'storage/production_queue.sqlite3';

const config = configFromEnv(process.env, { databases: [MAIN, QUEUE] });

// 1. Restore every missing database before anything opens it (no backup yet: start empty).
await ensureRestored(config);

// 2. Open them: they are restored, or new.
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

// 3. Stream every change to the replica.
const replication = startReplication(config);
await replication.started;

// 4. Serve.
const json = (response, status, body) => {
  response.writeHead(status, { 'content-type': 'application/json' });
  response.end(JSON.stringify(body));
};
const server = createServer((request, response) => {
  const { pathname } = new URL(request.url ?? '/', 'http://localhost');
  const item = /^\/items\/([\w-]+)$/.exec(pathname);
  if (request.method === 'GET' && pathname === '/items') {
    return json(response, 200, main.prepare('SELECT id, name FROM items ORDER BY id').all());
  }
  if (request.method === 'POST' && item) {
    const { lastInsertRowid } = main.prepare('INSERT INTO items (name) VALUES (?)').run(item[1]);
    queue.prepare('INSERT INTO jobs (kind) VALUES (?)').run('index-item');
    return json(response, 200, { id: Number(lastInsertRowid) });
  }
  if (request.method === 'GET' && pathname === '/jobs') {
    return json(response, 200, queue.prepare('SELECT id, kind, done FROM jobs ORDER BY id').all());
  }
  if (request.method === 'GET' && pathname === '/healthz/litestream') {
    const status = replication.status();
    return json(response, status.healthy ? 200 : 503, status);
  }
  json(response, 404, { error: 'not found' });
});
server.listen(Number(process.env.PORT ?? 3000), process.env.HOST ?? '127.0.0.1', () => {
  console.log(`listening on http://127.0.0.1:${server.address().port}`);
});

// 5. On SIGTERM/SIGINT: stop taking requests, then stop litestream after its final sync.
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.once(signal, async () => {
    await new Promise((resolve) => server.close(resolve));
    const { clean } = await replication.stop();
    main.close();
    queue.close();
    process.exit(clean ? 0 : 1);
  });
}
