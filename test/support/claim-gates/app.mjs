// An app that boots the way a user's does (ensureRestored, then startReplication), run with
// register.mjs so its claims wait at the test's gates. It reports over IPC: `restored`,
// `ready` (replicating) or `error`, each log line as `log`, and `stopped` after SIGTERM.
import { configFromEnv, ensureRestored, startReplication } from '../../../.cache/dist-modules/index.js';

const send = (message) => new Promise((resolve) => process.send(message, () => resolve()));
const log = (level) => (fields, msg) => void send({ event: 'log', level, msg, ...fields });
const logger = { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };

try {
  const config = configFromEnv(process.env, { logger });
  const restored = await ensureRestored(config);
  await send({ event: 'restored', outcomes: restored.map((result) => result.outcome) });
  const replication = startReplication(config);
  await replication.ready;
  await send({ event: 'ready', pid: replication.status().pid });
  process.once('SIGTERM', async () => {
    const result = await replication.stop();
    await send({ event: 'stopped', clean: result.clean });
    process.exit(0);
  });
} catch (error) {
  await send({ event: 'error', name: error.name, message: error.message });
  process.exit(1);
}
