import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os, { hostname } from 'node:os';
import path from 'node:path';
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { redact, Secret } from '../src/config/secret.js';
import { SyncTracker } from '../src/engine/v0_3/sync-tracker.js';
import { LtxSyncTracker } from '../src/engine/v0_5/sync-tracker.js';
import { forwardedFields, lineSplitter, parseLogLine } from '../src/process/log-lines.js';
import { classifyFailure, expectedRegion, serverCode } from '../src/replica/failure-cause.js';

describe('parseLogLine', () => {
  it('reads litestream JSON lines', () => {
    const line = parseLogLine(
      '{"time":"2026-11-25T18:45:23Z","level":"INFO","msg":"snapshot written","db":"/data/app.db","replica":"s3","position":"4011/00000000:16512","sz":354}',
    );
    expect(line).toEqual({
      time: '2026-11-25T18:45:23Z',
      level: 'info',
      msg: 'snapshot written',
      db: '/data/app.db',
      fields: { replica: 's3', position: '4011/00000000:16512', sz: 354 },
    });
  });

  it("reads slog's text format, quoted values included", () => {
    const line = parseLogLine(
      'time=2026-11-25T18:45:23Z level=ERROR msg="monitor error" db=/data/app.db replica=s3 error="cannot fetch generations: \\"x\\""',
    );
    expect(line).toMatchObject({ level: 'error', msg: 'monitor error', db: '/data/app.db' });
    expect(line?.fields).toMatchObject({ replica: 's3', error: 'cannot fetch generations: "x"' });
  });

  it('keeps a bare line (a Go panic, a usage message) as an info message', () => {
    expect(parseLogLine('panic: runtime error')).toMatchObject({ level: 'info', msg: 'panic: runtime error' });
    expect(parseLogLine('   ')).toBeUndefined();
  });
});

/** A real pino logger (Fastify's) at debug, and the JSON lines it wrote, parsed as a log pipeline would. */
function pinoLines() {
  const written: string[] = [];
  const app = Fastify({ logger: { level: 'debug', stream: { write: (line: string) => written.push(line) } } });
  return { log: app.log, parsed: () => written.map((line) => JSON.parse(line) as Record<string, unknown>) };
}

// A compaction error as Litestream 0.5.17 printed it in a stop right after start here: slog's
// level, then the LTX level under the same key.
const COMPACTION_FAILED =
  '{"time":"2026-12-07T20:43:30.108371618Z","level":"ERROR","msg":"compaction failed","system":"store","db":"a.db","level":9,"error":"invalid argument"}';

describe('forwardedFields', () => {
  it("nests litestream's attributes: after JSON.parse, pino's level, pid, time and hostname are the logger's", () => {
    const { log, parsed } = pinoLines();
    const line = parseLogLine(COMPACTION_FAILED) as NonNullable<ReturnType<typeof parseLogLine>>;
    log.error(forwardedFields(line), line.msg);
    const [entry] = parsed();
    // A `level >= 50` filter finds it: litestream's `level: 9` no longer overwrites pino's.
    expect(entry).toMatchObject({
      level: 50,
      pid: process.pid,
      hostname: hostname(),
      msg: 'compaction failed',
      db: 'a.db',
    });
    expect(typeof entry?.time).toBe('number');
    expect(entry?.litestream).toEqual({
      system: 'store',
      level: 9,
      error: 'invalid argument',
      time: '2026-12-07T20:43:30.108371618Z',
    });
  });

  it("says litestream's own level when the line is logged at another one", () => {
    const line = parseLogLine(COMPACTION_FAILED) as NonNullable<ReturnType<typeof parseLogLine>>;
    expect(forwardedFields(line, 'debug').litestream).toMatchObject({ logLevel: 'error', level: 9 });
    expect(forwardedFields(line).litestream).not.toHaveProperty('logLevel');
    // A bare line (a Go panic) has nothing but its message.
    expect(forwardedFields(parseLogLine('panic: boom') as never)).toEqual({ litestream: {} });
  });

  it('a compaction that a stop interrupts (Litestream 0.5.17) is routine during shutdown, an error otherwise', () => {
    const line = parseLogLine(COMPACTION_FAILED) as NonNullable<ReturnType<typeof parseLogLine>>;
    const tracker = new LtxSyncTracker(['/data/a.db']);
    expect(tracker.isBenign(line)).toBe(false);
    tracker.apply(
      parseLogLine('{"level":"INFO","msg":"signal received, litestream shutting down","signal":15}') as never,
    );
    expect(tracker.isBenign(line)).toBe(true);
    // Another compaction error during shutdown is still one.
    const other = parseLogLine(COMPACTION_FAILED.replace('invalid argument', 'write ltx file: timeout')) as never;
    expect(tracker.isBenign(other)).toBe(false);
  });
});

describe('serverCode', () => {
  it.each([
    // Litestream 0.5 (aws-sdk-go v2), as versitygw answered a bad AWS_SESSION_TOKEN.
    [
      'get v0.3.x time bounds: s3: list generations: operation error S3: ListObjectsV2, https response error StatusCode: 400, RequestID: YKD8, HostID: Mw4n, api error InvalidToken: The provided token is malformed or otherwise invalid.',
      'InvalidToken',
    ],
    // Litestream 0.3 (aws-sdk-go v1).
    [
      'cannot fetch generations: InvalidToken: The provided token is malformed or otherwise invalid.\n\tstatus code: 400, request id: OR78',
      'InvalidToken',
    ],
    ['cannot fetch generations: Forbidden: \n\tstatus code: 403, request id: x', 'Forbidden'],
    // The Node side's own requests.
    ['403 SignatureDoesNotMatch: The request signature we calculated does not match', 'SignatureDoesNotMatch'],
    ['operation error S3: GetObject, https response error StatusCode: 403', 'HTTP 403'],
    ['dial tcp 127.0.0.1:9: connect: connection refused', undefined],
  ])('%s → %s', (text, code) => expect(serverCode(text)).toBe(code));
});

describe('lineSplitter', () => {
  it('joins chunks split mid-line and flushes the last line', () => {
    const lines: string[] = [];
    const splitter = lineSplitter((line) => lines.push(line));
    splitter.push('{"a":');
    splitter.push('1}\n{"b"');
    splitter.push(':2}\nlast');
    splitter.end();
    expect(lines).toEqual(['{"a":1}', '{"b":2}', 'last']);
  });
});

describe('classifyFailure', () => {
  it.each([
    ['cannot fetch generations: InvalidAccessKeyId: The AWS Access Key Id you provided does not exist', 'credentials'],
    ['SignatureDoesNotMatch: The request signature we calculated does not match', 'credentials'],
    ['AccessDenied: Access Denied\n\tstatus code: 403', 'credentials'],
    ['AccessDenied: Invalid signature\n\tstatus code: 403', 'credentials'],
    // versitygw's answer to an unknown key
    ['XAdminUserNotFound: No user exists with the provided access key ID.\n\tstatus code: 404', 'credentials'],
    [
      "AuthorizationHeaderMalformed: The authorization header is malformed; the region 'us-east-1' is wrong; expecting 'eu-west-1'\n\tstatus code: 400",
      'wrong-region',
    ],
    ['cannot fetch generations: NoSuchBucket: The specified bucket does not exist', 'no-bucket'],
    ['dial tcp 127.0.0.1:9: connect: connection refused', 'transient'],
    ['cannot download wal 4011/00000000: EOF', 'transient'],
    // Retried as transient is, then reported as an object cut short.
    ['cannot download wal 0791db968d7f0056/00000000: unexpected EOF', 'ended-early'],
    ['decode database: decode page 1: read page header 2: read compressed data: unexpected EOF', 'ended-early'],
    ['cannot restore snapshot: lz4: invalid frame checksum: got e693f9ab; expected ee945265', 'damaged'],
    [
      'cannot calc restore plan: non-contiguous ltx files: have up to 0000000000000002 but next file starts at 0000000000000004',
      'damaged',
    ],
    ['write /data/app.sqlite3.tmp: no space left on device', 'disk-full'],
    ['ServiceUnavailable: Please reduce your request rate.\n\tstatus code: 503', 'transient'],
    ['invalid -timestamp, must specify in ISO 8601 format', 'other'],
  ])('%s → %s', (text, kind) => expect(classifyFailure(text)).toBe(kind));

  it.each([
    ["the region 'us-east-1' is wrong; expecting 'eu-west-1'", 'eu-west-1'],
    ['the region "eu-west-1" is wrong; expecting "us-east-1"', 'us-east-1'],
    ['AuthorizationHeaderMalformed', undefined],
  ])('expectedRegion(%s) → %s', (text, region) => expect(expectedRegion(text)).toBe(region));
});

describe('redact', () => {
  it('removes every occurrence of every secret', () => {
    const secret = new Secret('s3cr3t/+key');
    expect(redact('a s3cr3t/+key b s3cr3t/+key', [secret, undefined])).toBe('a [redacted] b [redacted]');
    expect(`${secret}`).toBe('[redacted]');
    expect(JSON.stringify({ secret })).toBe('{"secret":"[redacted]"}');
  });
});

describe('SyncTracker uploads', () => {
  const db = '/data/app.db';
  const line = (msg: string, level = 'info') => ({ time: '', level, msg, db, fields: { position: 'g/00000001:0' } });

  it('an upload ends when it is written, or when the sync, snapshotter or retainer that ran it fails', () => {
    const tracker = new SyncTracker([db]);
    const at = new Date('2026-11-25T12:00:00Z');
    const uploading = () => tracker.snapshot()[0]?.uploadingSince;
    tracker.apply(line('write snapshot'), at);
    expect(uploading()).toEqual(at);
    tracker.apply(line('snapshotter error', 'error'), at);
    expect(uploading()).toBeUndefined();

    tracker.apply(line('write snapshot'), at);
    tracker.apply(line('retainer error', 'error'), at);
    expect(uploading()).toBeUndefined();

    // A WAL upload and a scheduled snapshot at once: the older one counts; a failed WAL sync
    // leaves the snapshot in flight.
    const later = new Date(at.getTime() + 1_000);
    tracker.apply(line('write wal segment'), at);
    tracker.apply(line('write snapshot'), later);
    tracker.apply(line('wal segment written'), later);
    expect(uploading()).toEqual(later);
    expect(tracker.stalled(() => 500, later.getTime() + 500)).toEqual([db]);
    expect(tracker.stalled(() => 5_000, later.getTime() + 500)).toEqual([]);
    tracker.apply(line('snapshot written'), later);
    expect(uploading()).toBeUndefined();
    expect(tracker.writing()).toBe(false);

    tracker.apply(line('write wal segment'), at);
    tracker.apply(line('monitor error', 'error'), at);
    expect(tracker.writing()).toBe(false);
  });
});

describe('SyncTracker errors', () => {
  const db = '/data/app.db';

  it('a resumed database starting a new generation is routine, not an error', () => {
    const tracker = new SyncTracker([db]);
    // What litestream 0.3.13 logs when it starts on a database the app closed since it last ran.
    const event = tracker.apply({
      time: '',
      level: 'warn',
      msg: 'init: cannot determine last wal position, clearing generation',
      db,
      fields: { error: 'primary wal header: EOF' },
    });
    expect(event).toBeUndefined();
    expect(tracker.snapshot()[0]?.lastError).toBeUndefined();
    // A real warning still is one.
    const failed = tracker.apply({ time: '', level: 'warn', msg: 'monitor error', db, fields: { error: 'boom' } });
    expect(failed).toMatchObject({ kind: 'error', message: 'monitor error: boom' });
  });
});

describe('SyncTracker final sync', () => {
  const db = '/data/app.db';
  const gen = '20c9b0312cdd7cf8';
  const line = (msg: string, fields: Record<string, unknown> = {}) => ({ time: '', level: 'info', msg, db, fields });
  const at = (index: number, offset: number) => `${gen}/${index.toString(16).padStart(8, '0')}:${offset}`;

  it('sees the deadlock litestream 0.3.13 logged: final sync in the replica, a cancelled upload never ended', () => {
    // The log of a real hang (litestream 0.3.13 against S3), sizes kept.
    const tracker = new SyncTracker([db]);
    tracker.apply(line('replica sync: calc new pos', { position: at(0, 0) }));
    tracker.apply(line('write wal segment', { position: at(0, 0) }));
    tracker.apply(line('wal segment written', { position: at(0, 0), sz: 1413192 }));
    tracker.shuttingDown();
    // The regular sync that started as the signal arrived, then the final sync.
    tracker.apply(line('replica sync', { position: at(0, 1841672) }));
    tracker.apply(line('write wal segment', { position: at(0, 1413192) }));
    expect(tracker.finalSyncLanded(db)).toBe(false);
    tracker.apply(line('replica sync', { position: at(0, 1845792) }));
    tracker.apply(line('write wal segment', { position: at(0, 1413192) }));
    tracker.apply(line('wal segment written', { position: at(0, 1413192), sz: 432600 }));
    expect(tracker.finalSyncLanded(db)).toBe(true);
    expect(tracker.hasOpenUpload(db)).toBe(true);
  });

  it('a clean shutdown: landed, no upload left open; across a WAL index, and with nothing to send', () => {
    const tracker = new SyncTracker([db]);
    tracker.apply(line('replica sync: calc new pos', { position: at(0, 0) }));
    tracker.shuttingDown();
    tracker.apply(line('replica sync', { position: at(1, 4152) }));
    tracker.apply(line('write wal segment', { position: at(0, 16512) }));
    tracker.apply(line('monitor error', { error: 'context canceled' }));
    tracker.apply(line('write wal segment', { position: at(0, 16512) }));
    tracker.apply(line('wal segment written', { position: at(0, 16512), sz: 7461320 }));
    expect(tracker.finalSyncLanded(db)).toBe(false);
    tracker.apply(line('write wal segment', { position: at(1, 0) }));
    tracker.apply(line('wal segment written', { position: at(1, 0), sz: 4152 }));
    expect(tracker.finalSyncLanded(db)).toBe(true);
    expect(tracker.hasOpenUpload(db)).toBe(false);

    // The next process: the replica already ends where its final sync aims.
    tracker.restarted();
    tracker.shuttingDown();
    expect(tracker.finalSyncLanded(db)).toBe(false);
    tracker.apply(line('replica sync', { position: at(1, 4152) }));
    expect(tracker.finalSyncLanded(db)).toBe(true);
  });

  it('a sync before the signal never counts as the final one', () => {
    const tracker = new SyncTracker([db]);
    tracker.apply(line('replica sync', { position: at(0, 100) }));
    tracker.apply(line('write wal segment', { position: at(0, 0) }));
    tracker.apply(line('wal segment written', { position: at(0, 0), sz: 100 }));
    expect(tracker.finalSyncLanded(db)).toBe(false);
  });
});

/** A time of the test's day, `s` seconds past noon. */
const second = (s: number) => new Date(Date.UTC(2026, 11, 3, 12, 0, s));

/** A litestream 0.3 log line about `db`, as litestream printed it (its own time, `printed`). */
const loggedLine = (db: string, msg: string, printed: number, fields: Record<string, unknown> = {}) => ({
  time: second(printed).toISOString(),
  level: 'debug',
  msg,
  db,
  fields,
});

describe('SyncTracker lastSyncAt', () => {
  const db = '/data/app.db';
  const gen = '20c9b0312cdd7cf8';
  // Each line as litestream printed it (its own time) and as this process read it (later).
  const line = (msg: string, printed: number, fields: Record<string, unknown> = {}) =>
    loggedLine(db, msg, printed, fields);
  const at = (offset: number) => `${gen}/00000000:${offset}`;

  it("is when the WAL copy the replica reaches began, by litestream's clock, not when the segment was written", () => {
    const tracker = new SyncTracker([db]);
    // Copy 1 begins at 1.0 s and holds commits up to offset 100.
    tracker.apply(line('sync', 1), second(1.2));
    tracker.apply(line('sync: ok', 1.1), second(1.3));
    tracker.apply(line('replica sync', 1.2, { position: at(100) }), second(1.4));
    // Copy 2 begins at 1.5 s, while the segment of copy 1 uploads: a commit at 1.6 s is in
    // neither copy 1 nor, perhaps, copy 2's target.
    tracker.apply(line('sync', 1.5), second(1.5));
    tracker.apply(line('wal segment written', 1.7, { position: at(0), sz: 100 }), second(1.8));
    expect(tracker.snapshot()[0]?.lastSyncAt).toEqual(second(1));
    tracker.apply(line('sync: ok', 1.9, {}), second(1.9));
    // A segment that does not reach its sync's target moves nothing.
    tracker.apply(line('replica sync', 2, { position: at(300) }), second(2));
    tracker.apply(line('wal segment written', 2.1, { position: at(100), sz: 100 }), second(2.1));
    expect(tracker.snapshot()[0]?.lastSyncAt).toEqual(second(1));
    tracker.apply(line('wal segment written', 2.2, { position: at(200), sz: 100 }), second(2.2));
    expect(tracker.snapshot()[0]?.lastSyncAt).toEqual(second(1.5));
  });
});

describe('SyncTracker durableSince (what sync() waits for on 0.3)', () => {
  const gen = '20c9b0312cdd7cf8';

  /** A database in a temp directory, with litestream 0.3's shadow WAL of `bytes` for `gen`. */
  function shadowWal(bytes: number): { db: string; grow: (more: number) => void; dir: string } {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'durable-since-'));
    const db = path.join(dir, 'app.db');
    const walDir = path.join(dir, '.app.db-litestream', 'generations', gen, 'wal');
    mkdirSync(walDir, { recursive: true });
    const file = path.join(walDir, '00000000.wal');
    writeFileSync(file, Buffer.alloc(bytes));
    return { db, dir, grow: (more) => appendFileSync(file, Buffer.alloc(more)) };
  }

  it("a line without litestream's own time dates nothing; another generation's position proves nothing", () => {
    const { db, dir } = shadowWal(4152);
    try {
      const tracker = new SyncTracker([db]);
      const timed = (msg: string, printed: number, fields: Record<string, unknown> = {}) =>
        loggedLine(db, msg, printed, fields);
      tracker.apply({ ...timed('sync', 1), time: undefined }, second(9));
      tracker.apply(timed('sync: new generation', 1, { generation: gen }), second(9));
      tracker.apply(timed('sync: ok', 1.1), second(9));
      tracker.apply(timed('wal segment written', 1.3, { position: `${gen}/00000000:0`, sz: 4152 }), second(9));
      expect(tracker.durableSince(db)).toBeUndefined();
      tracker.apply(timed('sync', 2), second(2));
      tracker.apply(timed('sync: ok', 2.1), second(2.1));
      expect(tracker.durableSince(db)).toEqual(second(2));
      // The replica's end in another generation does not cover this one's shadow WAL.
      tracker.apply(
        timed('wal segment written', 2.3, { position: 'aaaaaaaaaaaaaaaa/00000005:0', sz: 99999 }),
        second(2.3),
      );
      tracker.apply(timed('sync', 3), second(3));
      tracker.apply(timed('sync: ok', 3.1), second(3.1));
      expect(tracker.durableSince(db)).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('an idle database: the last WAL copy, once the shadow WAL ends where the replica ends', () => {
    const { db, dir, grow } = shadowWal(4152);
    try {
      const line = (msg: string, printed: number, fields: Record<string, unknown> = {}) =>
        loggedLine(db, msg, printed, fields);
      const tracker = new SyncTracker([db]);
      tracker.apply(line('sync', 1), second(1));
      tracker.apply(line('sync: new generation', 1, { generation: gen }), second(1));
      tracker.apply(line('sync: ok', 1.1), second(1.1));
      tracker.apply(line('replica sync', 1.2, { position: `${gen}/00000000:4152` }), second(1.2));
      tracker.apply(line('wal segment written', 1.3, { position: `${gen}/00000000:0`, sz: 4152 }), second(1.3));
      expect(tracker.durableSince(db)).toEqual(second(1));
      // Idle: litestream copies the WAL every second, uploads nothing, logs no replica sync.
      tracker.apply(line('sync', 5), second(5));
      tracker.apply(line('sync: ok', 5.1), second(5.1));
      expect(tracker.durableSince(db)).toEqual(second(5));
      // A commit the next copy took into the shadow WAL, not uploaded yet: not durable past
      // the copy before it, which the replica holds.
      grow(4120);
      tracker.apply(line('sync', 6), second(6));
      tracker.apply(line('sync: ok', 6.1), second(6.1));
      expect(tracker.durableSince(db)).toEqual(second(5));
      // The replica's own sync read the database before that copy ended, and logs it after:
      // its target is the old end, whatever the order of the lines.
      tracker.apply(line('replica sync', 6.2, { position: `${gen}/00000000:4152` }), second(6.2));
      tracker.apply(line('replica sync: calc new pos', 6.2, { position: `${gen}/00000000:4152` }), second(6.2));
      expect(tracker.durableSince(db)).toEqual(second(5));
      // Uploaded: the replica ends where the shadow WAL does again.
      tracker.apply(line('replica sync', 6.5, { position: `${gen}/00000000:8272` }), second(6.5));
      tracker.apply(line('wal segment written', 6.6, { position: `${gen}/00000000:4152`, sz: 4120 }), second(6.6));
      expect(tracker.durableSince(db)).toEqual(second(6));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
