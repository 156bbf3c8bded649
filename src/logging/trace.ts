/**
 * A development aid, off unless asked for: with `LITESTREAM_NODE_TRACE=1` in the
 * environment, the boot's steps are recorded as performance marks named
 * `litestream-node:<step>` (read them with `performance.getEntriesByType('mark')`; see
 * bench/trace-boot.ts). Off, a call costs one environment lookup and records nothing, so
 * no timeline grows in a long-running app.
 * @internal
 */
export function traceMark(step: string, detail?: Record<string, unknown>): void {
  if (process.env.LITESTREAM_NODE_TRACE !== '1') return;
  performance.mark(`litestream-node:${step}`, detail === undefined ? undefined : { detail });
}

/** Marks when `promise` settles (fulfilled or not); returns it unchanged. @internal */
export function traceSettled<T>(step: string, promise: Promise<T>, detail?: Record<string, unknown>): Promise<T> {
  if (process.env.LITESTREAM_NODE_TRACE !== '1') return promise;
  promise.then(
    () => traceMark(step, detail),
    () => traceMark(`${step} (failed)`, detail),
  );
  return promise;
}
