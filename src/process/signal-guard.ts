/**
 * A boot interrupted by a signal cleans up before the process ends. Without a listener,
 * SIGTERM ends Node at once, and a `litestream restore` it started keeps downloading into a
 * temp file until its next log line finds the pipe closed. While a restore runs, a
 * SIGTERM/SIGINT/SIGHUP first gives it up (litestream is killed, its temp files removed),
 * then the process ends as it would have: the signal is raised again when no other
 * listener was there to handle it. An app with its own handler keeps it; the restore then
 * rejects with `LitestreamAbortError`.
 *
 * @packageDocumentation
 */

const SIGNALS: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP'];
/** However the cleanup goes, the process ends within this after the signal. */
const CLEANUP_LIMIT_MS = 3_000;

/**
 * Runs `work` with a signal that aborts on the first of {@link SIGNALS} (or when `given`
 * aborts). Listeners are removed when `work` settles.
 */
export async function cleanUpOnSignal<T>(
  given: AbortSignal | undefined,
  work: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const controller = new AbortController();
  const signal = given ? AbortSignal.any([given, controller.signal]) : controller.signal;
  let raise: NodeJS.Signals | undefined;
  const onSignal = (name: NodeJS.Signals) => {
    // Prepended, so it runs first: any other listener is still counted (an app's `once` too).
    if (raise === undefined && process.listenerCount(name) === 1) raise = name;
    controller.abort(new Error(`${name} received`));
    if (raise !== undefined) setTimeout(end, CLEANUP_LIMIT_MS).unref();
  };
  const remove = () => {
    for (const name of SIGNALS) process.off(name, onSignal);
  };
  let ended = false;
  const end = () => {
    remove();
    if (ended || raise === undefined) return;
    ended = true;
    process.kill(process.pid, raise);
  };
  for (const name of SIGNALS) process.prependListener(name, onSignal);
  try {
    return await work(signal);
  } finally {
    if (raise !== undefined) end();
    else remove();
  }
}
