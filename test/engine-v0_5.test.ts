// Litestream 0.5's output, parsed: units on lines recorded from the real 0.5.17 (the files
// in test/fixtures/litestream-0.5.17/, with its per-second noise filtered out).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { familyOf } from '../src/engine/binary.js';
import type { SyncEvent } from '../src/engine/engine.js';
import { adaptEnv } from '../src/engine/v0_5/env.js';
import { engineV0_5 } from '../src/engine/v0_5/index.js';
import { parseLtxJson } from '../src/engine/v0_5/ltx.js';
import { LtxSyncTracker, sameFileName } from '../src/engine/v0_5/sync-tracker.js';
import { renderYaml as renderYamlV0_5 } from '../src/engine/v0_5/yaml.js';
import { configFromEnv, defineConfig } from '../src/index.js';
import { parseLogLine } from '../src/process/log-lines.js';

const recorded = (name: string) =>
  readFileSync(new URL(`./fixtures/litestream-0.5.17/${name}`, import.meta.url), 'utf8').split('\n');

/** Replays recorded lines into a tracker; returns the events it emitted. */
function replay(tracker: LtxSyncTracker, lines: string[]) {
  const events: SyncEvent[] = [];
  for (const raw of lines) {
    if (raw === '' || tracker.ignores(raw)) continue;
    const line = parseLogLine(raw);
    const event = line && tracker.apply(line);
    if (event) events.push(event);
  }
  return events;
}

describe('Litestream 0.5 log lines', () => {
  it('take the log level from the first "level" key (compaction lines print a second one)', () => {
    const line = parseLogLine(
      '{"time":"2026-12-02T12:56:15.598Z","level":"INFO","msg":"compaction complete","system":"store","db":"a.db","level":1,"txid":{"min":"0000000000000001","max":"0000000000000001"},"size":9459}',
    );
    expect(line?.level).toBe('info');
    expect(line?.fields.level).toBe(1);
    expect(parseLogLine('{"level":"ERROR","msg":"sync error","db":"a.db","level":0}')?.level).toBe('error');
  });

  it('a normal run and SIGTERM: opened at its first sync, synced per TXID, the final sync landed', () => {
    const tracker = new LtxSyncTracker(['/tmp/me05/a.db', '/tmp/me05/b.db']);
    const events = replay(tracker, recorded('replicate-then-sigterm.jsonl'));
    const synced = events.filter((event) => event.kind === 'synced');
    // One event per transaction that reached the replica (1, then 2), none for idle catch-ups.
    expect(synced.map((event) => event.kind === 'synced' && event.txid)).toEqual([1, 2]);
    expect(synced.every((event) => event.db === '/tmp/me05/a.db')).toBe(true);
    expect(tracker.isShuttingDown).toBe(true);
    expect(tracker.finalSyncLanded('/tmp/me05/a.db')).toBe(true);
    const [a, b] = tracker.snapshot();
    expect(a).toMatchObject({
      initialized: true,
      synced: true,
      txid: 2,
      lastError: undefined,
      uploadingSince: undefined,
    });
    // b.db never existed: never opened, and "no database found" is not an error.
    expect(b).toMatchObject({ initialized: false, synced: false, txid: undefined, lastError: undefined });
    expect(tracker.allSynced(false, (db) => db.endsWith('b.db'))).toBe(true);
  });

  it('SIGTERM with the replica unreachable: litestream exits 0, but the final sync did not land', () => {
    const tracker = new LtxSyncTracker(['/data/z.db']);
    const events = replay(tracker, recorded('sigterm-replica-unreachable.jsonl'));
    expect(tracker.isShuttingDown).toBe(true);
    expect(tracker.finalSyncLanded('/data/z.db')).toBe(false);
    const error = events.find((event) => event.kind === 'error');
    expect(error).toMatchObject({
      db: '/data/z.db',
      message: expect.stringMatching(/^shutdown sync failed after timeout: /),
    });
    // The last upload (TXID 5) was in flight when the signal came.
    expect(tracker.snapshot()[0]?.txid).toBe(4);
  });

  it("lastSyncAt: litestream's own time of a read the replica holds, never a read still in progress", () => {
    const tracker = new LtxSyncTracker(['/data/a.db']);
    const at = (second: number) => new Date(Date.UTC(2026, 11, 3, 12, 0, second));
    const line = (fields: object) =>
      parseLogLine(JSON.stringify(fields)) as NonNullable<ReturnType<typeof parseLogLine>>;
    const tx = (n: number) => n.toString(16).padStart(16, '0');
    // A read logged at `printed`, seen here 250 ms later (a busy event loop).
    const read = (printed: number, txid: number) =>
      tracker.apply(
        line({ time: at(printed).toISOString(), level: 'DEBUG', msg: 'sync', db: 'a.db', txid: tx(txid) }),
        at(printed + 0.25),
      );
    const replicaSync = (second: number, replica: number, db: number) =>
      tracker.apply(
        line({ level: 'INFO', msg: 'replica sync', db: 'a.db', txid: { replica: tx(replica), db: tx(db) } }),
        at(second),
      );
    const uploaded = (second: number, txid: number) =>
      tracker.apply(
        parseLogLine(
          `{"level":"INFO","msg":"ltx file uploaded","db":"a.db","level":0,"maxTXID":"${tx(txid)}"}`,
        ) as NonNullable<ReturnType<typeof parseLogLine>>,
        at(second),
      );
    const lastSyncAt = () => tracker.snapshot()[0]?.lastSyncAt;

    read(1, 1);
    replicaSync(1.5, 0, 1);
    uploaded(1.6, 1);
    // Its own time, not when this process read the line.
    expect(lastSyncAt()).toEqual(at(1));
    // The read for transaction 2 is logged (2.0 s), and the replica syncs before its file
    // exists: litestream reports the database at 1, caught up. A commit at 1.9 s may be in
    // transaction 2 only: lastSyncAt must not move to 2.0 s.
    read(2, 2);
    replicaSync(2.1, 1, 1);
    expect(lastSyncAt()).toEqual(at(1));
    // The next read is for 3: the read at 2.0 s made transaction 2; once uploaded, it counts.
    read(3, 3);
    expect(lastSyncAt()).toEqual(at(1));
    uploaded(3.2, 2);
    expect(lastSyncAt()).toEqual(at(2));
    // Idle: a read for 3 again means the one at 3.0 s found nothing new, so everything before
    // it is in transaction 2, which the replica holds.
    read(4, 3);
    expect(lastSyncAt()).toEqual(at(3));
    read(5, 3);
    expect(lastSyncAt()).toEqual(at(4));
  });

  it('a compaction failing during shutdown does not fail the final sync; a sync error does', () => {
    const line = (fields: object) =>
      parseLogLine(JSON.stringify(fields)) as NonNullable<ReturnType<typeof parseLogLine>>;
    const finalSync = (error: object) => {
      const tracker = new LtxSyncTracker(['/data/a.db']);
      tracker.apply(line({ level: 'INFO', msg: 'signal received, litestream shutting down', signal: 15 }));
      tracker.apply(
        line({
          level: 'DEBUG',
          msg: 'replica sync',
          db: 'a.db',
          txid: { replica: '0000000000000003', db: '0000000000000003' },
        }),
      );
      tracker.apply(line(error));
      return tracker.finalSyncLanded('/data/a.db');
    };
    // Seen after a SIGKILLed litestream was restarted and then stopped.
    expect(finalSync({ level: 'ERROR', msg: 'compaction failed', db: 'a.db', error: 'invalid argument' })).toBe(true);
    expect(
      finalSync({ level: 'ERROR', msg: 'shutdown sync failed after timeout', db: 'a.db', error: 'write ltx file' }),
    ).toBe(false);
  });

  it('an upload that never ends is a stall, and no line of another database counts', () => {
    const tracker = new LtxSyncTracker(['/data/a.db']);
    const at = new Date('2026-12-02T12:00:00Z');
    const sync = (replica: string, db: string) =>
      parseLogLine(JSON.stringify({ level: 'DEBUG', msg: 'replica sync', db: 'a.db', txid: { replica, db } }));
    tracker.apply(sync('0000000000000000', '0000000000000001') as never, at);
    expect(tracker.writing()).toBe(true);
    expect(tracker.stalled(() => 5_000, at.getTime() + 5_000)).toEqual(['/data/a.db']);
    tracker.apply(
      parseLogLine(
        '{"level":"DEBUG","msg":"ltx file uploaded","db":"other.db","level":0,"maxTXID":"0000000000000001"}',
      ) as never,
    );
    expect(tracker.writing()).toBe(true);
    tracker.apply(
      parseLogLine(
        '{"level":"DEBUG","msg":"ltx file uploaded","db":"a.db","level":0,"maxTXID":"0000000000000001"}',
      ) as never,
    );
    expect(tracker.writing()).toBe(false);
    expect(tracker.snapshot()[0]?.synced).toBe(true);
  });

  it('databases with the same file name cannot be told apart in its log', () => {
    expect(sameFileName(['/tenants/a/app.db', '/tenants/b/app.db'])).toEqual([
      '/tenants/a/app.db',
      '/tenants/b/app.db',
    ]);
    expect(sameFileName(['/data/app.db', '/data/queue.db'])).toBeUndefined();
  });
});

describe('Litestream 0.5 listings and versions', () => {
  it('parses `ltx -level all -json`, after log lines, into typed rows', () => {
    const stdout = [
      '{"time":"2026-12-02T12:56:37Z","level":"DEBUG","msg":"s3 request","db":"a.db"}',
      '[',
      '  {"level": 0, "min_txid": "0000000000000001", "max_txid": "0000000000000002", "size": 9459, "timestamp": "2026-12-02T12:56:14Z"},',
      '  {"level": 9, "min_txid": "0000000000000001", "max_txid": "000000000000002a", "size": 829, "timestamp": "2026-12-02T12:56:17Z"}',
      ']',
    ].join('\n');
    expect(parseLtxJson(stdout)).toEqual([
      { level: 0, minTxid: 1, maxTxid: 2, size: 9459, createdAt: new Date('2026-12-02T12:56:14Z') },
      { level: 9, minTxid: 1, maxTxid: 42, size: 829, createdAt: new Date('2026-12-02T12:56:17Z') },
    ]);
    expect(parseLtxJson('[]\n')).toEqual([]);
    expect(() => parseLtxJson('level  min_txid\n')).toThrow(/no JSON list/);
  });

  it('knows the release lines it drives from `litestream version`', () => {
    expect(familyOf('v0.3.13')).toBe('0.3');
    expect(familyOf('0.5.17')).toBe('0.5');
    expect(familyOf('v0.5.18')).toBe('0.5');
    // 0.5 before 0.5.7 cannot restore what 0.3 wrote; 0.4 and 1.x are unknown.
    expect(familyOf('0.5.6')).toBeUndefined();
    expect(familyOf('v0.4.0')).toBeUndefined();
    expect(familyOf('v1.0.0')).toBeUndefined();
    expect(familyOf('(development build)')).toBeUndefined();
  });
});

describe("Litestream 0.5's environment", () => {
  it('gets AWS_CA_BUNDLE as SSL_CERT_FILE, which it can use, and says so', () => {
    const env: NodeJS.ProcessEnv = { AWS_CA_BUNDLE: '/etc/ca.pem', PATH: '/bin' };
    expect(adaptEnv(env)).toMatch(/AWS_CA_BUNDLE is set.*as SSL_CERT_FILE/);
    expect(env).toEqual({ SSL_CERT_FILE: '/etc/ca.pem', PATH: '/bin' });
  });

  it('keeps an SSL_CERT_FILE the user set, and says nothing when there is nothing to change', () => {
    const env: NodeJS.ProcessEnv = { AWS_CA_BUNDLE: '/etc/ca.pem', SSL_CERT_FILE: '/mine.pem' };
    expect(adaptEnv(env)).toMatch(/removed .* uses SSL_CERT_FILE \(\/mine\.pem\)/);
    expect(env).toEqual({ SSL_CERT_FILE: '/mine.pem' });
    const empty: NodeJS.ProcessEnv = { AWS_CA_BUNDLE: '' };
    expect(adaptEnv(empty)).toBeUndefined();
    expect(empty).toEqual({});
    expect(adaptEnv({ PATH: '/bin' })).toBeUndefined();
  });
});

describe("Litestream 0.5's control socket in the litestream.yml", () => {
  const socketPath = '/tmp/litestream-node-1-2-x.config-abc/control.sock';

  it('is enabled at the private path, 0600 (384 in decimal), only when asked for', () => {
    const config = defineConfig({
      databases: ['/data/app.db'],
      replica: { type: 'file', path: '/backups' },
      logger: false,
    });
    const rendered = renderYamlV0_5(config, new Map(), { socketPath });
    expect(rendered).toContain(`socket:\n  enabled: true\n  path: "${socketPath}"\n  permissions: 384\n`);
    expect(renderYamlV0_5(config)).not.toContain('socket:');
    expect(engineV0_5.syncsOnRequest('v0.5.9')).toBe(true);
    expect(engineV0_5.syncsOnRequest('v0.5.18')).toBe(true);
    expect(engineV0_5.syncsOnRequest('v0.5.8')).toBe(false);
  });

  it("replaces a socket the user's own litestream.yml enables, and says so once", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'socket-yml-'));
    try {
      const file = path.join(dir, 'litestream.yml');
      writeFileSync(
        file,
        'socket:\n  enabled: true\n  path: /var/run/litestream.sock\ndbs:\n  - path: /data/app.db\n    replica:\n      type: file\n      path: /backups/app.db\n',
      );
      const lines: string[] = [];
      const say = (_fields: object, message: string) => lines.push(message);
      const logger = { debug: say, info: say, warn: say, error: say };
      const config = configFromEnv({ LITESTREAM_ENABLED: 'true', LITESTREAM_CONFIG: file }, { logger });
      const rendered = renderYamlV0_5(config, new Map(), { socketPath });
      expect(rendered).toContain(socketPath);
      expect(rendered).not.toContain('/var/run/litestream.sock');
      renderYamlV0_5(config, new Map(), { socketPath });
      expect(lines.filter((line) => line.includes('will not reach it'))).toHaveLength(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
