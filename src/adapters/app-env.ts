import { ENV } from '../config/from-env.js';

/**
 * The variables that hold litestream-node's own secrets: the replica's keys, and the alert
 * URLs (a heartbeat or webhook URL is a credential: whoever has it can ping or post). The
 * app `litestream-node run` starts does not need them, so it does not get them unless asked.
 * (`AWS_*` credentials are the platform's, which the app may use itself: they are passed on.)
 */
export const LIBRARY_SECRET_VARIABLES: readonly string[] = Object.freeze([
  ENV.accessKeyId,
  ENV.secretAccessKey,
  ENV.heartbeatUrl,
  ENV.alertWebhookUrl,
]);

/** The environment for the app: `env` without {@link LIBRARY_SECRET_VARIABLES}, unless `passSecrets`. */
export function appEnvironment(env: NodeJS.ProcessEnv, passSecrets: boolean): NodeJS.ProcessEnv {
  if (passSecrets) return env;
  const kept = { ...env };
  for (const name of LIBRARY_SECRET_VARIABLES) delete kept[name];
  return kept;
}
