#!/usr/bin/env node
// What a restored boot costs in replica storage: litestream uploads a full copy of the
// database after every restore (0.3.13: a new generation and its snapshot; 0.5.18: a first
// level-0 LTX file holding every page, which compaction then copies into each level). This
// measures it with the real binaries on a file replica, the way litestream-node runs them
// (restore into an empty directory, then `replicate` with the same settings it renders),
// and checks that every row written across the boots is in a fresh restore at the end.
//
//   node bench/restored-boot-storage.mjs [--litestream 0.3|0.5|both] [--mib 8] [--boots 3] [--compaction]
//
// --compaction (0.5): also waits for the level-1 compaction (up to 30 s at the default levels)
// after each boot, and prints what each level holds. Figures are bytes in the replica
// directory, per boot and in total; nothing outside a temp directory is touched.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { cacheDir } from '../test/tools/install.mjs';

const { values } = parseArgs({
  options: {
    litestream: { type: 'string', default: 'both' },
    mib: { type: 'string', default: '8' },
    boots: { type: 'string', default: '3' },
    compaction: { type: 'boolean', default: false },
    retention: { type: 'string', default: '168h' },
    'snapshot-interval': { type: 'string', default: '24h' },
    linger: { type: 'string', default: '0' },
  },
});
const MIB = 1024 * 1024;
const binaries = {
  0.3: path.resolve('node_modules/@flydotio/litestream-linux-x64/litestream'),
  0.5: path.join(cacheDir, 'litestream05-v0.5.18', 'litestream'),
};

/** Bytes under `dir`, per path relative to it (files only). */
function filesUnder(dir, base = dir, out = new Map()) {
  if (!existsSync(dir)) return out;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) filesUnder(full, base, out);
    else out.set(path.relative(base, full), statSync(full).size);
  }
  return out;
}
const total = (files) => [...files.values()].reduce((a, b) => a + b, 0);
const mib = (bytes) => (Math.abs(bytes) < MIB ? `${(bytes / 1024).toFixed(1)} KiB` : `${(bytes / MIB).toFixed(2)} MiB`);

/** Bytes per group: 0.5 `ltx/<level>`, 0.3 `generations/<id>`. */
function groups(files) {
  const out = new Map();
  for (const [name, size] of files) {
    const key = name.split(path.sep).slice(0, 2).join('/');
    out.set(key, (out.get(key) ?? 0) + size);
  }
  return out;
}
const byGroup = (files) =>
  Object.fromEntries([...groups(files)].sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, mib(v)]));

/** Bytes each group gained (or lost) between two listings. */
function added(beforeFiles, afterFiles) {
  const a = groups(beforeFiles);
  const b = groups(afterFiles);
  const keys = [...new Set([...a.keys(), ...b.keys()])].sort();
  return Object.fromEntries(
    keys.flatMap((key) => {
      const delta = (b.get(key) ?? 0) - (a.get(key) ?? 0);
      return delta === 0 ? [] : [[key, mib(delta)]];
    }),
  );
}

function yaml(family, db, replica) {
  // The settings litestream-node renders (its defaults: 168h retention, 24h snapshots), with a
  // 1 s sync interval for the run.
  const retention = values.retention;
  const interval = values['snapshot-interval'];
  const top = family === '0.5' ? `snapshot:\n  interval: ${interval}\n  retention: ${retention}\n` : '';
  const perReplica =
    family === '0.3' ? `        retention: ${retention}\n        snapshot-interval: ${interval}\n` : '';
  return `logging:\n  type: json\n  level: debug\n${top}dbs:\n  - path: ${db}\n    replicas:\n      - type: file\n        path: ${replica}\n        sync-interval: 1s\n${perReplica}`;
}

function makeDatabase(file, bytes) {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.exec('CREATE TABLE items (id INTEGER PRIMARY KEY, boot INTEGER NOT NULL, body BLOB NOT NULL)');
  const insert = db.prepare('INSERT INTO items (boot, body) VALUES (0, ?)');
  // Half random, half repetitive: lz4 compresses it about as much as typical app data.
  const filler = Buffer.alloc(512, 'litestream-node row ');
  const fill = db.transaction(() => {
    for (let i = 0; i < 1000; i++)
      insert.run(Buffer.concat([Buffer.from(crypto.getRandomValues(new Uint8Array(512))), filler]));
  });
  while (Number(db.pragma('page_count', { simple: true })) * 4096 < bytes) fill();
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
}

function addRows(file, boot, count) {
  const db = new Database(file);
  db.pragma('busy_timeout = 5000');
  db.pragma('journal_mode = WAL');
  const insert = db.prepare('INSERT INTO items (boot, body) VALUES (?, ?)');
  db.transaction(() => {
    for (let i = 0; i < count; i++) insert.run(boot, Buffer.from(`boot ${boot} row ${i}`));
  })();
  db.close();
}

function rows(file) {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return db.prepare('SELECT count(*) AS n FROM items').get().n;
  } finally {
    db.close();
  }
}

/** Runs a litestream command to its end; rejects on a non-zero exit. */
function run(binary, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (out += c));
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${args[0]} exited ${code}: ${out}`))));
  });
}

/** Starts `replicate`; collects its JSON log lines. */
function replicate(binary, config) {
  const child = spawn(binary, ['replicate', '-config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines = [];
  let buffer = '';
  const take = (chunk) => {
    buffer += chunk;
    const parts = buffer.split('\n');
    buffer = parts.pop() ?? '';
    for (const part of parts) {
      try {
        lines.push(JSON.parse(part));
      } catch {
        // not JSON
      }
    }
  };
  child.stdout.on('data', take);
  child.stderr.on('data', take);
  const exited = new Promise((resolve) => child.on('exit', resolve));
  return {
    lines,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Waits until the replica's size has not changed for `quietMs` after it first changed from `before`. */
async function settle(replica, before, quietMs = 3_000, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  let last = total(filesUnder(replica));
  let since = Date.now();
  while (Date.now() < deadline) {
    await sleep(250);
    const now = total(filesUnder(replica));
    if (now !== last) {
      last = now;
      since = Date.now();
    } else if (now !== before && Date.now() - since >= quietMs) return;
  }
  throw new Error(`the replica did not settle within ${timeoutMs} ms`);
}

/** What litestream said about why it uploaded a full copy. */
function reasons(lines) {
  const why = lines
    .filter(
      (line) =>
        /new generation|behind replica|fetched latest L0|snapshot written|snapshot complete|compaction complete/.test(
          line.msg,
        ) ||
        (line.msg === 'sync' && line.reason),
    )
    .map(
      (line) =>
        `${line.msg}${line.reason ? ` (${line.reason})` : ''}${line.msg === 'compaction complete' ? ` L${line.level}` : ''}`,
    );
  return [...new Set(why)].join('; ');
}

async function waitFor(check, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (check()) return;
    await sleep(250);
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function measure(family) {
  const binary = binaries[family];
  const work = mkdtempSync(path.join(tmpdir(), `restored-boot-${family}-`));
  const db = path.join(work, 'app.db');
  const replica = path.join(work, 'replica');
  const config = path.join(work, 'litestream.yml');
  writeFileSync(config, yaml(family, db, replica));
  const bytes = Number(values.mib) * MIB;
  const boots = Number(values.boots);
  let expected = 0;
  const report = [];
  try {
    makeDatabase(db, bytes);
    expected = rows(db);
    const dbSize = statSync(db).size;
    console.log(`\nlitestream ${family}: database ${mib(dbSize)} (${expected} rows), ${boots} restored boots`);

    // The first boot: a new database, replicated from scratch.
    let child = replicate(binary, config);
    await settle(replica, 0);
    addRows(db, 0, 10);
    expected += 10;
    await sleep(3_000);
    await child.stop();
    let before = filesUnder(replica);
    report.push({ boot: 'first (new database)', added: added(new Map(), before), replica: mib(total(before)) });

    // A plain restart of the same copy (its litestream meta directory kept), for comparison.
    child = replicate(binary, config);
    await sleep(4_000);
    addRows(db, 0, 10);
    expected += 10;
    await sleep(3_000);
    await child.stop();
    let after = filesUnder(replica);
    report.push({
      boot: 'restart (copy kept)',
      added: added(before, after),
      replica: mib(total(after)),
      litestream: reasons(child.lines),
    });
    before = after;

    for (let boot = 1; boot <= boots; boot++) {
      // A new machine: no database, no meta directory; restore, then replicate.
      for (const leftover of [db, `${db}-wal`, `${db}-shm`, path.join(work, '.app.db-litestream')]) {
        rmSync(leftover, { recursive: true, force: true });
      }
      await run(binary, ['restore', '-config', config, '-o', db, db]);
      const restoredRows = rows(db);
      if (restoredRows !== expected)
        throw new Error(`boot ${boot}: restored ${restoredRows} rows, expected ${expected}`);
      child = replicate(binary, config);
      await settle(replica, total(before));
      const firstSync = filesUnder(replica);
      addRows(db, boot, 10);
      expected += 10;
      await sleep(3_000);
      if (family === '0.5' && values.compaction) {
        // Level 1 compacts every 30 s on the clock: wait for one that covers this boot.
        const l1Before = new Set(filesUnder(path.join(replica, 'ltx', '1')).keys());
        await waitFor(
          () => [...filesUnder(path.join(replica, 'ltx', '1')).keys()].some((name) => !l1Before.has(name)),
          45_000,
          'a level-1 compaction',
        );
        await sleep(2_000);
      }
      await child.stop();
      after = filesUnder(replica);
      report.push({
        boot: `restored #${boot}`,
        'first sync added': added(before, firstSync),
        added: added(before, after),
        replica: mib(total(after)),
        litestream: reasons(child.lines),
      });
      before = after;
    }

    // --linger: replicate once more and watch retention remove what it may.
    const linger = Number(values.linger);
    if (linger > 0) {
      child = replicate(binary, config);
      await sleep(linger * 1000);
      await child.stop();
      after = filesUnder(replica);
      report.push({
        boot: `replicating ${linger} s more (retention ${values.retention}, snapshots every ${values['snapshot-interval']})`,
        added: added(before, after),
        replica: mib(total(after)),
        litestream: reasons(child.lines),
      });
      before = after;
    }

    // Every row of every boot is in a fresh restore.
    const check = path.join(work, 'check.db');
    await run(binary, ['restore', '-config', config, '-o', check, db]);
    const restored = rows(check);
    for (const entry of report) console.log(JSON.stringify(entry));
    console.log(`replica per level/generation at the end: ${JSON.stringify(byGroup(filesUnder(replica)))}`);
    console.log(
      `fresh restore: ${restored} rows of ${expected} written${restored === expected ? '' : ' — ROWS MISSING'}`,
    );
    if (restored !== expected) process.exitCode = 1;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

const families = values.litestream === 'both' ? ['0.3', '0.5'] : [values.litestream];
for (const family of families) await measure(family);
