// A minimal app in its own process, for crash tests: restores, replicates, reports on
// stdout as JSON lines, and writes rows on request. Configured by the seed's variables.
import { createInterface } from 'node:readline';
import Database from 'better-sqlite3';
import { configFromEnv, ensureRestored, startReplication } from '../../dist/index.js';

const report = (event) => process.stdout.write(`${JSON.stringify(event)}\n`);
const config = configFromEnv(process.env, { logger: false, syncInterval: '1s' });
try {
  const restored = await ensureRestored(config);
  report({ event: 'restored', outcomes: restored.map((r) => r.outcome) });
  const replication = startReplication();
  replication.on('spawn', ({ pid }) => report({ event: 'spawn', pid }));
  await replication.ready;
  report({ event: 'ready', pid: replication.status().pid });
  const stop = async () => {
    const result = await replication.stop();
    report({ event: 'stopped', clean: result.clean });
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  for await (const line of createInterface({ input: process.stdin })) {
    const [command, label, count] = line.split(' ');
    if (command === 'write') {
      const db = new Database(config.databases[0].path);
      db.pragma('busy_timeout = 5000');
      db.exec('CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, label TEXT NOT NULL, body TEXT NOT NULL)');
      const insert = db.prepare('INSERT INTO items (label, body) VALUES (?, ?)');
      const ids = [];
      for (let i = 0; i < Number(count); i++) ids.push(Number(insert.run(label, label).lastInsertRowid));
      db.close();
      report({ event: 'written', ids });
    }
  }
} catch (error) {
  report({ event: 'error', name: error.name, message: error.message });
  process.exit(1);
}
