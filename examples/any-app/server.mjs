// An app that knows nothing of Litestream: a plain node:http server on SQLite, as a
// Next.js-style `node server.js` or a Hono app is. `litestream-node run` wraps it unchanged:
//   LITESTREAM_DATABASES=storage/app.sqlite3 npx litestream-node run -- node server.mjs
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:http';
import Database from 'better-sqlite3';

const FILE = 'storage/app.sqlite3';
mkdirSync('storage', { recursive: true });
const db = new Database(FILE);
db.pragma('journal_mode = WAL');
db.pragma('busy_timeout = 5000');
db.exec('CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)');

const json = (response, status, body) => {
  response.writeHead(status, { 'content-type': 'application/json' });
  response.end(JSON.stringify(body));
};
const server = createServer((request, response) => {
  const { pathname } = new URL(request.url ?? '/', 'http://localhost');
  const item = /^\/items\/([\w-]+)$/.exec(pathname);
  if (request.method === 'GET' && pathname === '/items') {
    return json(response, 200, db.prepare('SELECT id, name FROM items ORDER BY id').all());
  }
  if (request.method === 'POST' && item) {
    const { lastInsertRowid } = db.prepare('INSERT INTO items (name) VALUES (?)').run(item[1]);
    return json(response, 200, { id: Number(lastInsertRowid) });
  }
  json(response, 404, { error: 'not found' });
});
server.listen(Number(process.env.PORT ?? 3000), process.env.HOST ?? '127.0.0.1', () => {
  console.log(`listening on http://127.0.0.1:${server.address().port}`);
});

// Its own shutdown, as any app has: `litestream-node run` passes SIGTERM on, and makes the
// final sync once this process has exited.
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.once(signal, () => {
    server.close(() => {
      db.close();
      process.exit(0);
    });
  });
}
