import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Secret } from '../config/secret.js';
import type { LitestreamConfig } from '../config/types.js';
import { FileSystemError } from '../errors.js';
import type { Logger } from '../logging/logger.js';
import { noticeOncePerProcess } from '../logging/process-notices.js';
import { CONTROL_SOCKET_NAME, MAX_SOCKET_PATH_BYTES } from './control-socket.js';
import { ownedName, sweepLeftovers } from './owner.js';

/**
 * What a child's config file and environment need of the engine of its release line (the
 * engine's `Engine` has these): its YAML, and what its environment must change.
 */
export interface ChildConfigEngine {
  readonly family: string;
  renderYaml(
    config: LitestreamConfig,
    standIns?: ReadonlyMap<string, string>,
    control?: { readonly socketPath: string },
  ): string;
  adaptEnv(env: NodeJS.ProcessEnv): string | undefined;
}

/**
 * The child's environment: the parent's, with the configured credentials set as both
 * `LITESTREAM_*` and `AWS_*` (Litestream copies the former only when the latter are
 * unset, so an unrelated `AWS_ACCESS_KEY_ID` in the parent would otherwise win), then
 * whatever the engine's release line needs. What the engine changed is logged once per
 * process at info, at debug after that.
 */
export function childEnv(
  config: LitestreamConfig,
  engine: ChildConfigEngine,
  base: NodeJS.ProcessEnv = process.env,
): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base };
  const credentials = config.credentials;
  if (credentials) {
    setCredential(env, ['LITESTREAM_ACCESS_KEY_ID', 'AWS_ACCESS_KEY_ID'], credentials.accessKeyId);
    setCredential(env, ['LITESTREAM_SECRET_ACCESS_KEY', 'AWS_SECRET_ACCESS_KEY'], credentials.secretAccessKey);
    // A session token belongs to other keys; sending it with these would fail every request.
    delete env.AWS_SESSION_TOKEN;
  }
  const notice = engine.adaptEnv(env);
  if (notice !== undefined) {
    // The library handles it: worth knowing once per process, not on every command.
    noticeOncePerProcess(config.logger, 'info', notice, { component: 'litestream', family: engine.family }, notice);
  }
  return env;
}

function setCredential(env: NodeJS.ProcessEnv, names: string[], secret: Secret): void {
  for (const name of names) env[name] = secret.reveal();
}

/** A rendered litestream.yml in a private directory, removed by `dispose()`. */
export interface ConfigFile {
  readonly path: string;
  /** The control socket litestream listens on, beside the file (when one was asked for). */
  readonly socketPath: string | undefined;
  /** The path litestream knows `database` by in this file (a stand-in, or itself). */
  pathOf(database: string): string;
  dispose(): Promise<void>;
}

/**
 * Writes the YAML into a fresh `0700` temp directory as a `0600` file.
 *
 * `standInsFor` lists databases to replace by an empty file in that directory, with the
 * same replica: some litestream commands (`generations`) insist on a local file even when
 * they only read the replica. `pathOf` maps each real path to its stand-in.
 */
export async function writeConfigFile(
  config: LitestreamConfig,
  engine: ChildConfigEngine,
  standInsFor: readonly string[] = [],
  options: { controlSocket?: boolean } = {},
): Promise<ConfigFile> {
  // A few hundred bytes in the system temp directory, written synchronously: that costs
  // tens of microseconds, while each asynchronous step waits its turn in a thread pool
  // that a cold boot keeps busy (the claim, the sweeps), and litestream starts after it.
  const dir = await privateTempDir('config');
  const standIns = new Map<string, string>();
  const file = path.join(dir, 'litestream.yml');
  // In the same 0700 directory: only this user reaches it, and it goes (or is swept) with it.
  const socket = path.join(dir, CONTROL_SOCKET_NAME);
  const socketPath = options.controlSocket && Buffer.byteLength(socket) <= MAX_SOCKET_PATH_BYTES ? socket : undefined;
  if (options.controlSocket && socketPath === undefined) {
    noticeOncePerProcess(
      config.logger,
      'warn',
      'control-socket-path',
      { component: 'litestream', path: socket },
      `the temp directory's path is too long for litestream's control socket (${MAX_SOCKET_PATH_BYTES} bytes at most): sync() waits for litestream's regular syncs instead. Set TMPDIR to a shorter directory to have it sync at once.`,
    );
  }
  try {
    for (const [index, database] of standInsFor.entries()) {
      const standIn = path.join(dir, `${index}-${path.basename(database)}`);
      writeFileSync(standIn, '', { mode: 0o600 });
      standIns.set(database, standIn);
    }
    const control = socketPath === undefined ? undefined : { socketPath };
    writeFileSync(file, engine.renderYaml(config, standIns, control), { mode: 0o600, flag: 'wx' });
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw new FileSystemError('writing a private litestream.yml in', `${os.tmpdir()}/`, error);
  }
  return {
    path: file,
    socketPath,
    pathOf: (database) => standIns.get(database) ?? database,
    dispose: () => removeTempDir(dir),
  };
}

/**
 * Removes `dir`. A caller need not wait for it: if the process exits first, the directory
 * is removed synchronously at its exit (one that cannot be removed, by the next boot's sweep).
 */
function removeTempDir(dir: string): Promise<void> {
  const atExit = () => {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // Swept by the next boot.
    }
  };
  process.once('exit', atExit);
  return rm(dir, { recursive: true, force: true }).finally(() => process.off('exit', atExit));
}

/** What every private temp directory's name starts with, in the system temp directory. */
const TEMP_PREFIX = 'litestream-node-';

/**
 * A fresh `0700` directory in the system temp directory, named for this process (see
 * `ownedName`) so that what a SIGKILLed app leaves there is swept by the next one
 * ({@link sweepTempDirs}).
 */
export async function privateTempDir(purpose: 'config' | 'verify'): Promise<string> {
  // mkdtemp appends the random part.
  const prefix = path.join(os.tmpdir(), ownedName(TEMP_PREFIX, `${purpose}-`));
  try {
    return mkdtempSync(prefix);
  } catch (error) {
    throw new FileSystemError('creating a private temp directory in', `${os.tmpdir()}/`, error);
  }
}

/** Removes the private temp directories of litestream-node processes that died. */
export async function sweepTempDirs(logger: Logger): Promise<void> {
  await sweepLeftovers(os.tmpdir(), TEMP_PREFIX, logger);
}
