/**
 * The AWS credentials of the S3 requests the Node process makes itself (the replica lease,
 * the replica format check, the damaged-object checks), found the way litestream finds its
 * own, so both act as one identity:
 *
 * 1. static keys: the replica's `accessKeyId`/`secretAccessKey` (or a litestream.yml's), else
 *    `LITESTREAM_ACCESS_KEY_ID`/`LITESTREAM_SECRET_ACCESS_KEY`, else
 *    `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY` (with `AWS_SESSION_TOKEN`);
 * 2. otherwise the AWS default chain (`@aws-sdk/credential-providers`' `fromNodeProviderChain`):
 *    the shared config and credentials files (`AWS_PROFILE`, `credential_process`, SSO, roles),
 *    web identity (`AWS_WEB_IDENTITY_TOKEN_FILE` + `AWS_ROLE_ARN`), the ECS container endpoint
 *    (`AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`/`FULL_URI`), EC2 instance metadata (IMDSv2).
 *
 * The chain is loaded (~100 ms) only when no static keys are set, and its keys are refreshed
 * before they expire.
 *
 * @packageDocumentation
 */

import { Secret } from '../config/secret.js';
import { CredentialsError, LitestreamAbortError } from '../errors.js';
import { throwIfAborted } from '../support/abort.js';
import { loadCredentialProviders } from '../support/load-on-use.js';

/** Keys to sign requests with. Only the request signer reads their values. */
export interface S3Credentials {
  readonly accessKeyId: Secret;
  readonly secretAccessKey: Secret;
  /** Temporary credentials' token (`AWS_SESSION_TOKEN`), sent as `x-amz-security-token`. */
  readonly sessionToken?: Secret | undefined;
}

/** Credentials that are fetched, and fetched again before they expire. */
export interface S3CredentialSource {
  /** Where they come from, for messages. */
  readonly description: string;
  /**
   * The current keys: those in hand while they are good for a while yet, else fresh ones.
   * `forceRefresh` fetches new ones (the server said the ones in hand expired).
   *
   * @throws {@link CredentialsError} when there are none, or the source failed.
   * @throws LitestreamAbortError when `signal` aborts.
   */
  get(options?: { signal?: AbortSignal | undefined; forceRefresh?: boolean }): Promise<S3Credentials>;
}

/** Keys as a credential provider hands them out. */
export interface AwsIdentity {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string | undefined;
  readonly expiration?: Date | undefined;
}

/** Whether `credentials` must be fetched (a source) rather than used as they are. */
export function isCredentialSource(credentials: S3Credentials | S3CredentialSource): credentials is S3CredentialSource {
  return 'get' in credentials;
}

/** The static keys' sources, in the order they are looked at (litestream's own). */
export const STATIC_SOURCES = [
  'replica.accessKeyId/replica.secretAccessKey (or the keys in a litestream.yml)',
  'LITESTREAM_ACCESS_KEY_ID/LITESTREAM_SECRET_ACCESS_KEY',
  'AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (with AWS_SESSION_TOKEN)',
] as const;

/** The AWS default chain's sources, in the order it tries them. */
export const CHAIN_SOURCES = [
  'the shared config and credentials files (~/.aws/config, ~/.aws/credentials, or AWS_CONFIG_FILE/AWS_SHARED_CREDENTIALS_FILE; profile AWS_PROFILE, else "default"; with credential_process, SSO or a role)',
  'web identity (AWS_WEB_IDENTITY_TOKEN_FILE with AWS_ROLE_ARN, as EKS sets them)',
  'the ECS container endpoint (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI or AWS_CONTAINER_CREDENTIALS_FULL_URI)',
  'EC2 instance metadata (IMDSv2; AWS_EC2_METADATA_SERVICE_ENDPOINT, unless AWS_EC2_METADATA_DISABLED)',
] as const;

/**
 * Static keys from the environment, with Litestream's own precedence: `LITESTREAM_*`
 * overrides `AWS_*`, key by key; `AWS_SESSION_TOKEN` goes with them. Undefined without a pair.
 */
export function staticCredentialsFromEnv(env: Readonly<Record<string, string | undefined>>): S3Credentials | undefined {
  const accessKeyId = env.LITESTREAM_ACCESS_KEY_ID || env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = env.LITESTREAM_SECRET_ACCESS_KEY || env.AWS_SECRET_ACCESS_KEY;
  if (!accessKeyId || !secretAccessKey) return undefined;
  const sessionToken = env.AWS_SESSION_TOKEN;
  return {
    accessKeyId: new Secret(accessKeyId),
    secretAccessKey: new Secret(secretAccessKey),
    sessionToken: sessionToken ? new Secret(sessionToken) : undefined,
  };
}

/**
 * The credentials of a request: the configured keys, else the environment's static keys, else
 * the AWS default chain of this process.
 */
export function credentialsFor(
  configured: S3Credentials | undefined,
  env: Readonly<Record<string, string | undefined>>,
): S3Credentials | S3CredentialSource {
  return configured ?? staticCredentialsFromEnv(env) ?? defaultChain();
}

const FETCHING = 'fetching AWS credentials';
/** How long fetching keys may take before the attempt counts as failed (a source that hangs). */
const FETCH_TIMEOUT_MS = 10_000;
/** Keys are fetched again this long before they expire at the latest... */
const REFRESH_BEFORE_MS = 5 * 60_000;
/** ...and keys in hand are still used when a refresh fails while they are good for this long. */
const STILL_GOOD_MS = 15_000;

/** What {@link RefreshingCredentials} fetches keys with. */
export type FetchCredentials = (signal: AbortSignal) => Promise<AwsIdentity>;

interface Held {
  readonly credentials: S3Credentials;
  readonly obtainedAt: number;
  readonly expiresAt: number | undefined;
}

/**
 * Keys fetched when first needed and again before they expire: once less than five minutes
 * or half their lifetime is left, whichever is shorter (short-lived keys are not fetched
 * for every request). Concurrent callers share one fetch. A fetch that fails while the keys in
 * hand are good for a while yet keeps them; one that hangs fails after {@link FETCH_TIMEOUT_MS}.
 */
export class RefreshingCredentials implements S3CredentialSource {
  readonly description: string;
  readonly #fetch: FetchCredentials;
  readonly #now: () => number;
  readonly #timeoutMs: number;
  #held: Held | undefined;
  #fetching: Promise<Held> | undefined;

  constructor(description: string, fetch: FetchCredentials, options: { now?: () => number; timeoutMs?: number } = {}) {
    this.description = description;
    this.#fetch = fetch;
    this.#now = options.now ?? Date.now;
    this.#timeoutMs = options.timeoutMs ?? FETCH_TIMEOUT_MS;
  }

  async get(options: { signal?: AbortSignal | undefined; forceRefresh?: boolean } = {}): Promise<S3Credentials> {
    const { signal, forceRefresh = false } = options;
    throwIfAborted(signal, FETCHING);
    const held = this.#held;
    if (held && !forceRefresh && !this.#due(held)) return held.credentials;
    try {
      return (await untilAborted(this.#refresh(), signal, () => new LitestreamAbortError(FETCHING, signal?.reason)))
        .credentials;
    } catch (error) {
      if (signal?.aborted) throw error;
      // A source that blinks while the keys in hand still work is no reason to fail a request.
      if (held && !forceRefresh && held.expiresAt !== undefined && held.expiresAt - this.#now() > STILL_GOOD_MS) {
        return held.credentials;
      }
      throw error;
    }
  }

  /** Whether `held` should be replaced: past the refresh point of its lifetime. */
  #due(held: Held): boolean {
    if (held.expiresAt === undefined) return false;
    const lifetime = held.expiresAt - held.obtainedAt;
    return held.expiresAt - this.#now() <= Math.min(REFRESH_BEFORE_MS, lifetime / 2);
  }

  #refresh(): Promise<Held> {
    if (this.#fetching) return this.#fetching;
    const fetching = this.#fetchOnce().finally(() => {
      if (this.#fetching === fetching) this.#fetching = undefined;
    });
    this.#fetching = fetching;
    return fetching;
  }

  async #fetchOnce(): Promise<Held> {
    const timeout = AbortSignal.timeout(this.#timeoutMs);
    const work = this.#fetch(timeout);
    // A source that never answers must not hold every request (and the boot) forever.
    const identity = await untilAborted(work, timeout, () => timeout.reason).catch((error: unknown) => {
      work.catch(() => {});
      if (timeout.aborted) {
        throw new CredentialsError(
          `The AWS credentials for the Node process's own S3 requests did not arrive from ${this.description} within ${this.#timeoutMs} ms: check that it answers.`,
          [this.description],
          true,
        );
      }
      throw error;
    });
    const now = this.#now();
    const expiresAt = identity.expiration?.getTime();
    if (!identity.accessKeyId || !identity.secretAccessKey) {
      throw new CredentialsError(
        `${capitalized(this.description)} handed out credentials without an access key id or secret.`,
        [this.description],
        true,
      );
    }
    if (expiresAt !== undefined && !(expiresAt > now)) {
      throw new CredentialsError(
        `${capitalized(this.description)} handed out credentials that expired at ${identity.expiration?.toISOString()} (the clock here says ${new Date(now).toISOString()}): check the source, and this machine's clock.`,
        [this.description],
        true,
      );
    }
    const held: Held = {
      credentials: {
        accessKeyId: new Secret(identity.accessKeyId),
        secretAccessKey: new Secret(identity.secretAccessKey),
        sessionToken: identity.sessionToken ? new Secret(identity.sessionToken) : undefined,
      },
      obtainedAt: now,
      expiresAt,
    };
    this.#held = held;
    return held;
  }
}

/**
 * The environment variables the AWS default chain reads: one chain (one set of cached keys)
 * per combination, so a process whose environment changes gets the keys it now names.
 */
const CHAIN_VARIABLES = [
  'AWS_PROFILE',
  'AWS_CONFIG_FILE',
  'AWS_SHARED_CREDENTIALS_FILE',
  'AWS_REGION',
  'AWS_ROLE_ARN',
  'AWS_ROLE_SESSION_NAME',
  'AWS_WEB_IDENTITY_TOKEN_FILE',
  'AWS_ENDPOINT_URL',
  'AWS_ENDPOINT_URL_STS',
  'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI',
  'AWS_CONTAINER_CREDENTIALS_FULL_URI',
  'AWS_CONTAINER_AUTHORIZATION_TOKEN',
  'AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE',
  'AWS_EC2_METADATA_DISABLED',
  'AWS_EC2_METADATA_SERVICE_ENDPOINT',
  'AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE',
] as const;

// Per process, as the chain itself is: it reads this process's environment and files.
const chains = new Map<string, RefreshingCredentials>();

/**
 * The AWS default chain of this process (its environment and files), loaded when first asked
 * for keys. The same object while the chain's variables stay the same.
 */
export function defaultChain(): S3CredentialSource {
  const key = CHAIN_VARIABLES.map((name) => process.env[name] ?? '').join('\0');
  let chain = chains.get(key);
  if (!chain) {
    chain = new RefreshingCredentials('the AWS default credential chain', fetchFromDefaultChain);
    chains.set(key, chain);
  }
  return chain;
}

/** The provider errors' debug lines: `@smithy/property-provider -> <why a source was passed over>`. */
const PASSED_OVER = /^@smithy\/property-provider (?:->|\(!\)) (.*)$/s;

/** One run of the AWS default chain; a fresh one each time (the SDK's own cache could hold a hung fetch). */
export async function fetchFromDefaultChain(signal: AbortSignal): Promise<AwsIdentity> {
  const passedOver: string[] = [];
  const quiet = () => {};
  // The SDK logs each source it passes over at debug: kept for the error's detail, nothing printed.
  const logger = {
    debug: (message: unknown) => {
      const match = typeof message === 'string' ? PASSED_OVER.exec(message) : null;
      if (match?.[1]) passedOver.push(match[1].trim());
    },
    info: quiet,
    warn: quiet,
    error: quiet,
    trace: quiet,
  };
  const { fromNodeProviderChain } = loadCredentialProviders();
  try {
    return await fromNodeProviderChain({ logger })({ forceRefresh: true });
  } catch (error) {
    if (signal.aborted) throw error;
    throw chainError(error, passedOver);
  }
}

/** What a failed run of the chain means: no credentials anywhere, or a configured source that failed. */
function chainError(error: unknown, passedOver: readonly string[]): CredentialsError {
  const env = process.env;
  const sources = [...STATIC_SOURCES, ...CHAIN_SOURCES];
  // Only messages the SDK wrote itself: others (a JSON parser's) may quote what the source sent.
  const said =
    error instanceof Error && /ProviderError$/.test(error.name)
      ? error.message
      : error instanceof Error
        ? `${error.name} (what it sent is not shown)`
        : 'unknown error';
  const detail = [...passedOver, said].join('\n');
  const remote = remoteSource(env);
  if (remote !== undefined) {
    return new CredentialsError(
      `The AWS credentials for the Node process's own S3 requests could not be fetched from ${remote} (${said.split('\n')[0]}): check that it answers with credentials. No static keys are set (${STATIC_SOURCES.join(', ')}), so the AWS default chain was used.`,
      sources,
      true,
      { cause: error, detail },
    );
  }
  const profile = env.AWS_PROFILE ? ` (AWS_PROFILE is "${env.AWS_PROFILE}")` : '';
  return new CredentialsError(
    `The Node process has no AWS credentials for its own S3 requests (the replica lease, the replica format check), which guard the replica: it tried ${STATIC_SOURCES.join(', ')}, then the AWS default chain: ${CHAIN_SOURCES.join(', ')}${profile}. Give it the credentials litestream uses through one of those (e.g. an IAM role, or LITESTREAM_ACCESS_KEY_ID and LITESTREAM_SECRET_ACCESS_KEY).`,
    sources,
    false,
    { cause: error, detail },
  );
}

/** The remote credential source the environment configures, if any, by host (never the path or a token). */
function remoteSource(env: NodeJS.ProcessEnv): string | undefined {
  if (env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI) {
    return 'the ECS container endpoint (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI, at 169.254.170.2)';
  }
  if (env.AWS_CONTAINER_CREDENTIALS_FULL_URI) {
    return `the container credentials endpoint (AWS_CONTAINER_CREDENTIALS_FULL_URI, at ${hostOf(env.AWS_CONTAINER_CREDENTIALS_FULL_URI)})`;
  }
  if (env.AWS_WEB_IDENTITY_TOKEN_FILE)
    return 'web identity (AWS_WEB_IDENTITY_TOKEN_FILE with AWS_ROLE_ARN, through STS)';
  if (env.AWS_EC2_METADATA_SERVICE_ENDPOINT) {
    return `EC2 instance metadata (AWS_EC2_METADATA_SERVICE_ENDPOINT, at ${hostOf(env.AWS_EC2_METADATA_SERVICE_ENDPOINT)})`;
  }
  return undefined;
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return 'an address that is not a URL';
  }
}

function capitalized(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** `work`, or a rejection with `aborted()` once `signal` aborts. */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal | undefined, aborted: () => unknown): Promise<T> {
  if (!signal) return work;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(aborted());
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
