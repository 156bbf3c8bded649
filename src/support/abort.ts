import { defaultMaxListeners, setMaxListeners } from 'node:events';
import { LitestreamAbortError } from '../errors.js';

/** Throws a {@link LitestreamAbortError} for `what` when `signal` has aborted. */
export function throwIfAborted(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw new LitestreamAbortError(what, signal.reason);
}

/**
 * `work`, unless `signal` aborts first: then `onAbort()` runs (it undoes what was started
 * and resolves once that is done) and the result rejects with a {@link LitestreamAbortError}.
 */
export async function abortable<T>(
  work: Promise<T>,
  signal: AbortSignal | undefined,
  what: string,
  onAbort: () => Promise<void>,
): Promise<T> {
  if (!signal) return work;
  if (signal.aborted) {
    // Whatever `work` started still has to be undone before the rejection.
    await onAbort().catch(() => {});
    throw new LitestreamAbortError(what, signal.reason);
  }
  let onAbortEvent: (() => void) | undefined;
  const aborted = new Promise<never>((_resolve, reject) => {
    onAbortEvent = () => {
      onAbort().then(
        () => reject(new LitestreamAbortError(what, signal.reason)),
        () => reject(new LitestreamAbortError(what, signal.reason)),
      );
    };
    signal.addEventListener('abort', onAbortEvent, { once: true });
  });
  try {
    return await Promise.race([work, aborted]);
  } finally {
    if (onAbortEvent) signal.removeEventListener('abort', onAbortEvent);
  }
}

/** Resolves once `signal` aborts, or after `ms` (whichever comes first). */
export function abortedWithin(signal: AbortSignal, ms: number): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

/** Abort listeners one database's work may hold at once on a shared signal (its requests, its checks). */
const LISTENERS_PER_DATABASE = 8;

/**
 * Lets `signal` — one of ours, never a caller's — hold the listeners of `databases`
 * databases' work at once. Each request and wait listens on the signal it is given, so a
 * signal shared by many databases' work has that many listeners: fan-out, not a leak, and
 * Node's warning at eleven would reach the app's log.
 */
export function allowListenersFor(signal: AbortSignal, databases: number): void {
  setMaxListeners(defaultMaxListeners + LISTENERS_PER_DATABASE * databases, signal);
}
