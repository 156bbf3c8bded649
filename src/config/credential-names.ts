import { settingName } from './setting-names.js';
import type { LitestreamConfig } from './types.js';

/** The credentials a replica request was signed with, named as the user set them. */
export interface CredentialNames {
  /** E.g. `AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN in the environment`. */
  readonly described: string;
  /** Where the session token came from, when one was sent. */
  readonly sessionToken: string | undefined;
}

type Env = Readonly<Record<string, string | undefined>>;

const set = (env: Env, name: string) => (env[name]?.trim() ?? '') !== '';

/**
 * Which credentials litestream signs with for `config`: the keys of the config (named by the
 * option or the variable that gave them), those of the user's litestream.yml, or else what
 * the AWS default chain finds in `env` (litestream's environment before the library adds
 * to it). Litestream's own order: `AWS_*` keys, else `LITESTREAM_*` keys, else a profile,
 * web identity, or the machine's role.
 */
export function credentialNames(config: LitestreamConfig, env: Env = process.env): CredentialNames {
  if (config.credentials && config.configFile) {
    return {
      described: `the access-key-id / secret-access-key of ${config.configFile.path}`,
      sessionToken: undefined,
    };
  }
  if (config.credentials) {
    // The library passes no session token with configured keys (it belongs to other keys).
    const ignored = set(env, 'AWS_SESSION_TOKEN')
      ? ' (AWS_SESSION_TOKEN is set but not sent with them: for temporary credentials, leave these keys unset and use AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN)'
      : '';
    return {
      described: `${settingName(config, 'replica.accessKeyId')} / ${settingName(config, 'replica.secretAccessKey')}${ignored}`,
      sessionToken: undefined,
    };
  }
  const token = set(env, 'AWS_SESSION_TOKEN') ? 'AWS_SESSION_TOKEN' : undefined;
  if (set(env, 'AWS_ACCESS_KEY_ID') || set(env, 'AWS_SECRET_ACCESS_KEY')) {
    const names = ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', ...(token ? [token] : [])];
    return { described: `${names.join(' / ')} in the environment`, sessionToken: token };
  }
  if (set(env, 'LITESTREAM_ACCESS_KEY_ID') || set(env, 'LITESTREAM_SECRET_ACCESS_KEY')) {
    return {
      described: 'LITESTREAM_ACCESS_KEY_ID / LITESTREAM_SECRET_ACCESS_KEY in the environment',
      sessionToken: token,
    };
  }
  if (set(env, 'AWS_PROFILE')) {
    return {
      described: `the profile AWS_PROFILE names (${env.AWS_PROFILE?.trim()}) in the shared AWS credentials file`,
      sessionToken: undefined,
    };
  }
  if (set(env, 'AWS_WEB_IDENTITY_TOKEN_FILE')) {
    return { described: 'the web identity of AWS_WEB_IDENTITY_TOKEN_FILE / AWS_ROLE_ARN', sessionToken: undefined };
  }
  return {
    described:
      "what the AWS default chain found without any key in the environment (the shared credentials file's default profile, or the machine's or container's role)",
    sessionToken: undefined,
  };
}
