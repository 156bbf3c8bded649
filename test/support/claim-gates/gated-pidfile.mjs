// The library's real pidfile module, with gates: each claimDatabase call (numbered from 1 in
// this process) waits at `claim N` before it claims and at `claimed N` after (refused or
// not), and refuseIfClaimed reports what it found. The test sees each gate as an IPC message
// and opens it with `{ open: name }`: it decides the order in which two apps claim.
import * as real from '../../../dist/pidfile.js';

export * from '../../../dist/pidfile.js';

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

let claims = 0;

export async function claimDatabase(...args) {
  const n = ++claims;
  await gate(`claim ${n}`);
  let outcome;
  try {
    outcome = await real.claimDatabase(...args);
  } catch (error) {
    await gate(`claimed ${n}`, { refused: true, error: error.message });
    throw error;
  }
  await gate(`claimed ${n}`, { refused: false, outcome });
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
