/**
 * `litestream-node run -- <command…>`: any app, unchanged. Restores what is missing, starts
 * replication, runs the command with signals forwarded, and when it exits makes the final
 * sync and exits with the command's own status.
 */
import { createServer, type Server } from 'node:http';
import { constants } from 'node:os';
import type { LitestreamConfig } from '../config/types.js';
import { LitestreamAbortError, LitestreamError } from '../errors.js';
import { Litestream } from '../litestream.js';
import { spawnChild } from '../process/spawn.js';
import { appEnvironment } from './app-env.js';
import { BootSequence } from './boot.js';
import { type BootState, healthAnswer } from './health.js';

/** Options of {@link runApp}. */
export interface RunAppOptions {
  /**
   * Serve `/metrics` (databases labelled by file name) and `/health` (`{ state, healthy,
   * reason }`) on 127.0.0.1 at this port (0: any free one).
   */
  metricsPort?: number | undefined;
  /**
   * `/health` also answers with the full status: absolute database paths, litestream's
   * pid, the last error's text, the lease holder's host and pid. Default false.
   */
  healthDetails?: boolean | undefined;
  /**
   * Give the app litestream-node's own secret variables too (the replica's keys, the alert
   * URLs: see `LIBRARY_SECRET_VARIABLES`). Default false: the app gets its environment
   * without them; litestream still gets what it needs.
   */
  passSecrets?: boolean | undefined;
  /** Called once the metrics server listens, with its port. */
  onMetricsListening?: (port: number) => void;
}

/** Signals passed on to the command; SIGINT and SIGTERM also give up a restore in progress. */
const FORWARDED: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

/**
 * Runs `command args…` between a restore and a final sync; resolves to the exit status to
 * exit with: the command's own, 128 + the signal's number when a signal ended it, 127 when
 * it could not be started. Rejects (the command never started) when the restore fails, e.g.
 * during an outage, so that the app never starts on an empty database.
 */
export async function runApp(
  config: LitestreamConfig,
  command: string,
  args: readonly string[],
  options: RunAppOptions = {},
): Promise<number> {
  const litestream = new Litestream(config);
  const logger = config.logger;
  const boot = new AbortController();
  // Where the boot stands, for /health.
  const sequence = new BootSequence(litestream, 'restoring');
  let child: ReturnType<typeof spawnChild> | undefined;
  let stoppedBy: NodeJS.Signals | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (child) {
      child.kill(signal);
      return;
    }
    if (signal === 'SIGINT' || signal === 'SIGTERM') {
      stoppedBy = signal;
      boot.abort(new Error(`interrupted by ${signal}`));
    }
  };
  for (const signal of FORWARDED) process.on(signal, onSignal);
  let metrics: Server | undefined;
  try {
    // First, so that a port in use fails before anything is restored, and the restore shows.
    if (options.metricsPort !== undefined) {
      metrics = await serveMetrics(
        litestream,
        options.metricsPort,
        () => sequence.state,
        options.healthDetails === true,
      );
      options.onMetricsListening?.((metrics.address() as { port: number }).port);
    }
    try {
      await sequence.run(boot.signal);
    } catch (error) {
      await litestream.stop().catch(() => {});
      if (stoppedBy && error instanceof LitestreamAbortError) return signalStatus(stoppedBy);
      throw error;
    }
    if (stoppedBy) {
      await litestream.stop();
      return signalStatus(stoppedBy);
    }
    // The app's own process group: a terminal's Ctrl-C reaches this process alone, which
    // passes it on once. Its environment lacks litestream-node's secrets unless asked for:
    // litestream got them already, and the app has no use for the replica's keys.
    child = spawnChild(command, args, appEnvironment(process.env, options.passSecrets === true), {
      ownProcessGroup: true,
      inheritOutput: true,
    });
    logger.info({ command, appPid: child.pid }, 'running the app');
    const exit = await child.exited;
    const status =
      exit.error !== undefined ? 127 : exit.signal !== undefined ? signalStatus(exit.signal) : (exit.exitCode ?? 1);
    if (exit.error) {
      logger.error({ command, error: exit.error.message }, `could not start ${command}: check the command and PATH`);
    } else {
      logger.info({ command, exitCode: exit.exitCode, signal: exit.signal }, 'the app exited; making the final sync');
    }
    const stopped = await litestream.stop();
    if (!stopped.clean) {
      logger.error(
        { killed: stopped.killed, errors: stopped.errors },
        'the final sync did not complete: the replica may miss the last writes',
      );
    }
    return status;
  } finally {
    for (const signal of FORWARDED) process.off(signal, onSignal);
    if (metrics) await new Promise<void>((resolve) => metrics?.close(() => resolve()));
  }
}

/** The exit status of a process ended by `signal`, as a shell gives it. */
function signalStatus(signal: NodeJS.Signals): number {
  return 128 + (constants.signals[signal] ?? 0);
}

/**
 * `/metrics` (Prometheus; databases labelled by file name) and `/health` (200 when healthy,
 * else 503; `{ state, healthy, reason }`, the full status with `details`) on the loopback
 * interface.
 */
async function serveMetrics(
  litestream: Litestream,
  port: number,
  booting: () => BootState,
  details: boolean,
): Promise<Server> {
  const server = createServer((request, response) => {
    const { pathname } = new URL(request.url ?? '/', 'http://localhost');
    if (request.method === 'GET' && pathname === '/metrics') {
      response.writeHead(200, { 'content-type': Litestream.metricsContentType });
      response.end(litestream.metrics());
      return;
    }
    if (request.method === 'GET' && pathname === '/health') {
      const answer = healthAnswer(booting(), () => litestream.status(), details);
      response.writeHead(answer.statusCode, { 'content-type': 'application/json' });
      response.end(JSON.stringify(answer.body));
      return;
    }
    response.writeHead(404, { 'content-type': 'text/plain' });
    response.end('not found: GET /metrics or /health\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) =>
      reject(new LitestreamError(`could not serve metrics on 127.0.0.1:${port}: ${error.message}`, { cause: error })),
    );
    server.listen(port, '127.0.0.1', resolve);
  });
  server.unref();
  return server;
}
