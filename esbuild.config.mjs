// `npm run build`: dist/ as the package ships it (esbuild has no config file of its own:
// this script is its configuration and runs it).
//
// - Each entry (index, fastify, express, cli — the `exports` and the `bin`) is one bundled
//   ES module, with the code two entries share in dist/chunks/: importing the package
//   compiles a few files, not ~90 (ESM resolution and compilation per module was most of
//   the import's cost; docs/performance.md has the figures). Every package stays external
//   (`require`d or imported from node_modules as before: zod, yaml, better-sqlite3's
//   native addon, the AWS credential chain, which the code loads on first use).
// - The declarations are tsc's, one .d.ts per source file as before, so the `types` of
//   each entry and the TSDoc that editors show are unchanged.
//
// dist/ is replaced whole, in one rename, once everything is built: no file of an older
// build is left behind (npm pack ships dist/**/*.js), and a process that starts meanwhile
// sees the old build or the new one, never half of one.
//
// `--modules DIR` also keeps tsc's unbundled JavaScript in DIR (for tests that swap one
// internal module of the library for a wrapper; see test/support/claim-gates).
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readdirSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';

class BuildError extends Error {}

const root = path.dirname(fileURLToPath(import.meta.url));
const { values: flags } = parseArgs({ options: { modules: { type: 'string' } } });

// Beside dist/, so the declaration maps' relative paths to src/ are the same.
const next = path.join(root, `.dist-next-${process.pid}`);
const modules = flags.modules ? path.resolve(root, flags.modules) : undefined;
const nextModules = modules && `${modules}.next-${process.pid}`;
const leftovers = [next, nextModules].filter(Boolean);

/**
 * Puts `staged` in `dir`'s place with two renames (a process that looks meanwhile sees the
 * old one or the new one: the suites of a shared checkout build while others run).
 */
function replace(dir, staged) {
  const old = `${dir}.old-${process.pid}`;
  leftovers.push(old);
  if (existsSync(dir)) renameSync(dir, old);
  renameSync(staged, dir);
}

try {
  const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const compiled = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.json', '--outDir', next], {
    cwd: root,
    stdio: 'inherit',
  });
  // tsc has printed its errors; dist/ stays as it was.
  if (compiled.status !== 0) throw new BuildError(`tsc exited with ${compiled.status ?? compiled.signal}`);
  if (modules) cpSync(next, nextModules, { recursive: true });
  // tsc's JavaScript gives way to the bundles.
  for (const entry of readdirSync(next, { recursive: true, withFileTypes: true })) {
    if (entry.isFile() && /\.js(\.map)?$/.test(entry.name))
      rmSync(path.join(entry.parentPath ?? entry.path, entry.name));
  }

  await build({
    entryPoints: ['src/index.ts', 'src/fastify.ts', 'src/express.ts', 'src/cli.ts'],
    absWorkingDir: root,
    outdir: next,
    entryNames: '[name]',
    chunkNames: 'chunks/[name]-[hash]',
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    packages: 'external',
    // Error classes name themselves after their class (`new.target.name`): a bundle must
    // not rename one to avoid a clash between two modules' top-level names.
    keepNames: true,
    sourcemap: 'linked',
    logLevel: 'warning',
  });

  replace(path.join(root, 'dist'), next);
  if (modules) replace(modules, nextModules);
} catch (error) {
  console.error(`build failed: ${error instanceof BuildError ? error.message : error}`);
  process.exitCode = 1;
} finally {
  for (const dir of leftovers) rmSync(dir, { recursive: true, force: true });
}
