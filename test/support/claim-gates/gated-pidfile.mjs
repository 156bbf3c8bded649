// The library's real pidfile module (from tsc's unbundled build: dist/ is bundled), with
// gates: the Nth claimDatabase call for a database file in this process waits at
// `claim <file name> N` before it claims and at `claimed <file name> N` after (refused or
// not), and refuseIfClaimed reports what it found.
// The test sees each gate as an IPC message and opens it with `{ open: name }`: it decides
// the order in which two apps claim.
import path from 'node:path';
import * as real from '../../../.cache/dist-modules/process/pidfile.js';

export * from '../../../.cache/dist-modules/process/pidfile.js';

const opened = new Set();
const waiters = new Map();
process.on('message', (message) => {
  if (typeof message?.open !== 'string') return;
  opened.add(message.open);
  waiters.get(message.open)?.();
});

function gate(name, fields = {}) {
  process.send?.({ gate: name, ...fields });
  if (opened.has(name)) return Promise.resolve();
  return new Promise((resolve) => waiters.set(name, resolve));
}

const claims = new Map();

export async function claimDatabase(database, ...rest) {
  const name = path.basename(database);
  const n = (claims.get(name) ?? 0) + 1;
  claims.set(name, n);
  await gate(`claim ${name} ${n}`);
  let outcome;
  try {
    outcome = await real.claimDatabase(database, ...rest);
  } catch (error) {
    await gate(`claimed ${name} ${n}`, { refused: true, error: error.message });
    throw error;
  }
  await gate(`claimed ${name} ${n}`, { refused: false, outcome });
  return outcome;
}

export async function refuseIfClaimed(...args) {
  try {
    await real.refuseIfClaimed(...args);
    process.send?.({ event: 'refuseIfClaimed', refused: false });
  } catch (error) {
    process.send?.({ event: 'refuseIfClaimed', refused: true, error: error.message });
    throw error;
  }
}
