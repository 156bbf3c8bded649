import path from 'node:path';
import { credentialNames } from '../config/credential-names.js';
import { describeReplica } from '../config/derived.js';
import { settingName } from '../config/setting-names.js';
import type { DatabaseConfig, LitestreamConfig } from '../config/types.js';
import { LitestreamError, type LitestreamErrorOptions, ReplicaUnreachableError } from '../errors.js';
import { credentialCodeMeaning, expectedRegion, type FailureKind, serverCode } from './failure-cause.js';

/** What was being done when litestream failed, for the message. */
export interface FailureContext {
  /** A verb phrase completed by the database path: `restore`, `list the generations of`. */
  doing: string;
  /** How many attempts were made, when retried. */
  attempts?: number;
  /** The retry budget, when retried. */
  retryForMs?: number;
  /** What the user can rely on afterwards, e.g. `No database was created.` */
  consequence?: string;
  /** The damaged objects Node found, each `<key>: <what is wrong>` (`damaged`, `ended-early`). */
  damaged?: readonly string[];
  /** The class for failures that are not about reaching the replica. */
  otherError?: new (
    message: string,
    options: LitestreamErrorOptions,
  ) => LitestreamError;
}

/** What a user can still do about a damaged backup. */
const EARLIER_POINT =
  'An earlier point in time that does not need the damaged part may still restore: list them with `litestream-node backups`, and restore one with `litestream-node restore` and --timestamp (or --txid on Litestream 0.5, --generation and --index on 0.3) into another file; or restore from another copy of the replica.';

/** The first line of litestream's output, for a one-line message. */
export function firstLine(text: string): string {
  return text.split('\n')[0]?.trim() || 'no reason given';
}

/**
 * Turns a classified litestream failure into a typed error whose message names the
 * database, the replica and the fix. `detail` is litestream's (already redacted) output.
 */
export function replicaError(
  config: LitestreamConfig,
  db: DatabaseConfig,
  kind: FailureKind,
  detail: string,
  context: FailureContext,
): LitestreamError {
  const where = describeReplica(config, db);
  const options = { database: db.path, detail };
  const after = context.consequence ? ` ${context.consequence}` : '';
  const doing = `${context.doing} ${db.path}`;
  // The objects Node found damaged come first, then what litestream said.
  const damaged = (said: string) =>
    damagedBackupError(
      config,
      db,
      context.damaged?.length ? `${context.damaged.join('; ')} (${said})` : said,
      { ...options, consequence: context.consequence },
      context.otherError,
    );
  switch (kind) {
    case 'credentials':
      return new ReplicaUnreachableError(
        `The replica ${where} rejected the credentials (${doing}): ${credentialsProblem(config, detail)}.${after}`,
        options,
      );
    case 'wrong-region': {
      const expected = expectedRegion(detail);
      const region = config.replica?.type === 's3' ? config.replica.region : undefined;
      const signedFor = region ? ` signed for region ${region}` : '';
      const wants = expected ? `the bucket's region is ${expected}` : `that is not the bucket's region`;
      return new ReplicaUnreachableError(
        `The replica ${where} refused requests${signedFor} (${doing}): ${wants}; set ${replicaSetting(config, 'region')} to the bucket's region.${after}`,
        options,
      );
    }
    case 'no-bucket':
      return new ReplicaUnreachableError(
        `The bucket of ${where} does not exist (${doing}): create it, or fix ${replicaSetting(config, 'bucket')}.${after}`,
        options,
      );
    case 'damaged':
      return damaged(`litestream could not ${doing}: ${firstLine(detail)}`);
    case 'ended-early': {
      if (context.attempts === undefined) return unreachable(config, where, doing, context, options);
      const attempts = `an object of it ended early on each of ${context.attempts} attempts over ${context.retryForMs ?? 0} ms (${doing}; last error: ${firstLine(detail)})`;
      if (context.damaged?.length) return damaged(attempts);
      // Every attempt read the same object to an early end: it is cut short on the server.
      const ErrorClass = context.otherError ?? LitestreamError;
      return new ErrorClass(
        `The backup of ${db.path} in ${where} may be damaged: ${attempts}, as one cut short on the server does, or a connection that drops mid-download every time. ${EARLIER_POINT}${after}`,
        options,
      );
    }
    case 'transient':
      return unreachable(config, where, doing, context, options);
    case 'disk-full': {
      const ErrorClass = context.otherError ?? LitestreamError;
      const dir = path.dirname(db.path);
      return new ErrorClass(
        `The disk is full: litestream could not ${doing} into ${dir} (no space left on device). Free space on the disk that holds ${dir} (the restore needs about the database's size, twice while it is checked and moved into place), then start again.${after}`,
        options,
      );
    }
    default: {
      const ErrorClass = context.otherError ?? LitestreamError;
      return new ErrorClass(`litestream could not ${doing} from ${where}: ${firstLine(detail)}.${after}`, options);
    }
  }
}

/** The replica could not be reached: a `transient` failure once its retries are spent. */
function unreachable(
  config: LitestreamConfig,
  where: string,
  doing: string,
  context: FailureContext,
  options: { database: string; detail: string },
): LitestreamError {
  const tries =
    context.attempts === undefined ? '' : `, ${context.attempts} attempts over ${context.retryForMs ?? 0} ms`;
  const raise = context.attempts === undefined ? '' : ', or raise restore.retryForMs';
  const after = context.consequence ? ` ${context.consequence}` : '';
  const endpoint = replicaSetting(config, 'endpoint');
  return new ReplicaUnreachableError(
    `The replica ${where} could not be reached (${doing}${tries}; last error: ${firstLine(options.detail)}): check ${endpoint} and the network${raise}.${after}`,
    options,
  );
}

/**
 * What the server said about the credentials (its error code, and what that code means),
 * and the credentials in use, named as the user set them.
 */
export function credentialsProblem(config: LitestreamConfig, detail: string, env?: NodeJS.ProcessEnv): string {
  const code = serverCode(detail);
  const meaning = code === undefined ? undefined : credentialCodeMeaning(code);
  const answered =
    code === undefined
      ? `the server refused them (${firstLine(detail)})`
      : `the server answered ${code}${meaning ? `: ${meaning}` : ''}`;
  const used = credentialNames(config, env);
  const tokenProblem = code === 'InvalidToken' || code === 'ExpiredToken';
  const check =
    tokenProblem && used.sessionToken
      ? `check ${used.sessionToken} (a session token belongs to the temporary keys it came with, and expires with them)`
      : "check them and the key's permissions";
  return `${answered}. The requests were signed with ${used.described}: ${check}`;
}

/** A replica setting as the user set it: its variable, its option, or its key in their litestream.yml. */
function replicaSetting(config: LitestreamConfig, key: 'bucket' | 'region' | 'endpoint'): string {
  if (config.configFile) return `the replica's ${key} in ${config.configFile.path}`;
  return settingName(config, `replica.${key}`);
}

/**
 * The backup of `db` is damaged (`why`: what showed it): the error says so, what still
 * restores, and `consequence`.
 */
export function damagedBackupError(
  config: LitestreamConfig,
  db: DatabaseConfig,
  why: string,
  options: LitestreamErrorOptions & { consequence?: string | undefined },
  ErrorClass: FailureContext['otherError'] = LitestreamError,
): LitestreamError {
  const { consequence, ...errorOptions } = options;
  return new ErrorClass(
    `The backup of ${db.path} in ${describeReplica(config, db)} is damaged: ${why}. ${EARLIER_POINT}${consequence ? ` ${consequence}` : ''}`,
    errorOptions,
  );
}
