// Boot to first query, as a container starts: `bare` is the app of a shell entrypoint (the
// database was restored by `litestream restore` before it started); `library` imports
// litestream-node and restores with ensureRestored. Timed by run.ts from fork to answer.
import Database from 'better-sqlite3';
import type { LitestreamOptions } from '../src/index.js';

interface BootJob {
  arm: 'bare' | 'library';
  options: LitestreamOptions;
  database: string;
}

async function boot(job: BootJob): Promise<number> {
  if (job.arm === 'library') {
    // The built package, as an app imports it (by its own name).
    const entry = 'litestream-node';
    const { defineConfig, ensureRestored } = (await import(entry)) as typeof import('../src/index.js');
    await ensureRestored(defineConfig({ ...job.options, logger: false }));
  }
  const db = new Database(job.database, { fileMustExist: true });
  try {
    return (db.prepare('SELECT count(*) AS n FROM items').get() as { n: number }).n;
  } finally {
    db.close();
  }
}

process.once('message', (job: BootJob) => {
  boot(job).then(
    (rows) => process.send?.({ result: { rows } }, () => process.exit(0)),
    (error: unknown) => process.send?.({ error: String((error as Error)?.stack ?? error) }, () => process.exit(1)),
  );
});
process.on('disconnect', () => process.exit(1));
