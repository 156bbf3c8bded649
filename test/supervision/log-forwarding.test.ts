// Log forwarding: what an app's logger receives for each line litestream prints.
import { describe, expect, it } from 'vitest';
import type { LitestreamLogLine } from '../../src/process/log-lines.js';
import { describeLine, LogForwarding } from '../../src/supervision/log-forwarding.js';
import { recordingLogger } from './fakes.js';

function line(level: string, msg: string, fields: Record<string, unknown> = {}, db?: string): LitestreamLogLine {
  return { time: '2026-12-07T23:00:00Z', level, msg, db, fields };
}

describe('LogForwarding', () => {
  it("logs each line at litestream's level, 'warning' as warn and an unknown level as info", () => {
    const logger = recordingLogger();
    const forwarding = new LogForwarding(logger, () => false);
    for (const level of ['debug', 'info', 'warn', 'warning', 'error', 'trace']) forwarding.forward(line(level, level));
    expect(logger.lines.map((entry) => [entry.message, entry.level])).toEqual([
      ['debug', 'debug'],
      ['info', 'info'],
      ['warn', 'warn'],
      ['warning', 'warn'],
      ['error', 'error'],
      ['trace', 'info'],
    ]);
  });

  it("logs a routine error at debug, saying litestream's own level, and nests litestream's fields", () => {
    const logger = recordingLogger();
    const forwarding = new LogForwarding(logger, (entry) => entry.msg === 'routine');
    forwarding.forward(line('error', 'routine', { level: 9, pid: 4 }, '/data/app.db'));
    expect(logger.lines).toEqual([
      {
        level: 'debug',
        message: 'routine',
        fields: {
          db: '/data/app.db',
          // Litestream's `level` and `pid` never overwrite the logger's own keys.
          litestream: { level: 9, pid: 4, time: '2026-12-07T23:00:00Z', logLevel: 'error' },
        },
      },
    ]);
  });

  it('names a shutdown error by message, database and error', () => {
    expect(describeLine(line('error', 'sync error', { error: 'timeout' }, '/d.db'))).toBe(
      'sync error (/d.db): timeout',
    );
    expect(describeLine(line('error', 'sync error'))).toBe('sync error');
  });
});
