/** \`run\`: any app's command between a restore and a final sync. */
import { runApp } from '../../adapters/run-app.js';
import { UsageError, type Values } from '../arguments.js';
import { loadConfig } from '../config.js';
import type { Io } from '../io.js';

/** `run`: the app's command between a restore and a final sync; resolves to its exit status. */
export async function runCommand(
  values: Values,
  positionals: string[],
  app: readonly string[] | undefined,
  io: Io,
): Promise<number> {
  const [command, ...args] = app ?? [];
  if (command === undefined) {
    throw new UsageError('which command? Put it after --, e.g. litestream-node run -- node server.js');
  }
  const port = values['metrics-port'];
  const metricsPort = port === undefined ? undefined : Number(port);
  if (metricsPort !== undefined && (!Number.isInteger(metricsPort) || metricsPort < 0 || metricsPort > 65_535)) {
    throw new UsageError('--metrics-port takes a port number, e.g. 9090');
  }
  if (values['health-details'] && metricsPort === undefined) {
    throw new UsageError('--health-details needs --metrics-port: it changes what /health there answers');
  }
  const config = loadConfig('run', values.config, positionals, io);
  return runApp(config, command, args, {
    metricsPort,
    healthDetails: values['health-details'] === true,
    passSecrets: values['pass-secrets'] === true,
    onMetricsListening: (listening) =>
      io.stderr(`litestream-node: metrics on http://127.0.0.1:${listening}/metrics, health on /health\n`),
  });
}
