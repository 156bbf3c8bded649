// A listener's bug must not take replication down: events are emitted from stream and
// child-process callbacks, where a throw would be uncaught.
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { emitSafely } from '../../src/supervision/safe-emit.js';
import { recordingLogger } from './fakes.js';

describe('emitSafely', () => {
  it('logs a throwing listener by event name and returns; the next event reaches every listener', () => {
    const logger = recordingLogger();
    const emitter = new EventEmitter<{ sync: [string] }>();
    const seen: string[] = [];
    emitter.on('sync', (db) => {
      if (db === 'bad') throw new Error('listener bug');
      seen.push(`first ${db}`);
    });
    emitter.on('sync', (db) => seen.push(`second ${db}`));

    expect(() => emitSafely(emitter, logger, 'sync', 'bad')).not.toThrow();
    emitSafely(emitter, logger, 'sync', 'good');

    // As with emit, the listeners after the one that threw are skipped for that event.
    expect(seen).toEqual(['first good', 'second good']);
    expect(logger.lines).toEqual([
      {
        level: 'error',
        message: 'a listener of the "sync" event threw; replication goes on',
        fields: { event: 'sync', error: 'listener bug' },
      },
    ]);
  });

  it('a listener that throws a non-Error is logged too', () => {
    const logger = recordingLogger();
    const emitter = new EventEmitter<{ ready: [] }>();
    emitter.on('ready', () => {
      throw 'plain string';
    });
    emitSafely(emitter, logger, 'ready');
    expect(logger.lines[0]?.fields).toEqual({ event: 'ready', error: 'plain string' });
  });
});
