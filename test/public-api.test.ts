// The public API, compared with committed snapshots in test/public-api/: what an app can
// import from each entry (`litestream-node`, `/fastify`, `/express`) and the bin, by name and
// kind at run time, and each entry's declarations as API Extractor's report lists them
// (every exported symbol's declaration text, no file paths: moving an internal module
// changes nothing, changing an exported type does). Also the package.json fields that say
// where the entries are. The reports are API Extractor's markdown, kept as `.api.snap` so
// the formatter leaves them as the tool writes them.
//
// A deliberate change to the API (a new export, a changed type): update the snapshots with
//   npx vitest run test/public-api.test.ts --project versitygw -u
// and commit test/public-api/ with the change, so the review shows what users see.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Extractor, ExtractorConfig, ExtractorLogLevel } from '@microsoft/api-extractor';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SNAPSHOTS = path.join(ROOT, 'test', 'public-api');

interface Manifest {
  name: string;
  type: string;
  main: string;
  types: string;
  exports: Record<string, string | { types: string; default: string }>;
  bin: Record<string, string>;
}
const manifest = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as Manifest;

/** Each entry by the name an app uses, with its built declaration file (dist/ is built by the global setup). */
const entries = [
  ...Object.entries(manifest.exports)
    .filter(([, target]) => typeof target !== 'string')
    .map(([subpath, target]) => ({
      name: path.posix.join(manifest.name, subpath),
      specifier: path.posix.join(manifest.name, subpath),
      types: (target as { types: string }).types,
    })),
  // The bin's module, as the CLI tests and a user's shell load it.
  ...Object.entries(manifest.bin).map(([name, file]) => ({
    name: `bin ${name}`,
    specifier: pathToFileURL(path.join(ROOT, file)).href,
    types: file.replace(/\.js$/, '.d.ts'),
  })),
];

/** A file name for an entry's snapshot: `index`, `fastify`, `express`, `bin-litestream-node`. */
const snapshotName = (entry: { name: string }) =>
  entry.name === manifest.name ? 'index' : entry.name.replace(`${manifest.name}/`, '').replace(/\W+/g, '-');

const work = mkdtempSync(path.join(os.tmpdir(), 'public-api-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('the public API', () => {
  it('keeps the package.json fields that locate the entries', async () => {
    const { name, type, main, types, exports, bin } = manifest;
    await expect(`${JSON.stringify({ name, type, main, types, exports, bin }, null, 2)}\n`).toMatchFileSnapshot(
      path.join(SNAPSHOTS, 'package-entries.json'),
    );
  });

  it('exports the same names, of the same kinds, from every entry and the bin', async () => {
    // A fresh process that imports the package by its own name (Node resolves a package's
    // self-reference through its `exports`), as an app does: the built files, not src/.
    const script = `
      const entries = ${JSON.stringify(entries.map(({ name, specifier }) => ({ name, specifier })))};
      const out = {};
      for (const { name, specifier } of entries) {
        const m = await import(specifier);
        out[name] = Object.fromEntries(Object.keys(m).sort().map((key) => [key, kindOf(m[key])]));
      }
      function kindOf(value) {
        if (typeof value !== 'function') return typeof value;
        return /^class[\\s{]/.test(Function.prototype.toString.call(value)) ? 'class' : 'function';
      }
      console.log(JSON.stringify(out, null, 2));
    `;
    const stdout = await new Promise<string>((resolve, reject) =>
      execFile(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT }, (error, out, err) =>
        error ? reject(new Error(`${error.message}\n${err}`)) : resolve(out),
      ),
    );
    await expect(stdout).toMatchFileSnapshot(path.join(SNAPSHOTS, 'runtime-exports.json'));
  });

  for (const entry of entries) {
    it(`declares the same types for ${entry.name}`, async () => {
      await expect(apiReport(entry.types, snapshotName(entry))).toMatchFileSnapshot(
        path.join(SNAPSHOTS, `${snapshotName(entry)}.api.snap`),
      );
    });
  }
});

/**
 * API Extractor's report of one entry's declarations: every symbol the entry exports, with
 * its declaration (members, signatures, TSDoc release tags), wherever in dist/ it is
 * declared; a symbol that an exported one refers to but the entry does not export is named
 * in a warning line.
 */
function apiReport(types: string, name: string): string {
  const reportFileName = `${name}.api.md`;
  const config = ExtractorConfig.prepare({
    configObject: {
      projectFolder: ROOT,
      newlineKind: 'lf',
      mainEntryPointFilePath: path.join(ROOT, types),
      compiler: {
        // Only the entry: the declarations it reaches come with it, and tsconfig.json's
        // `include` (src/) would bring the sources along.
        overrideTsconfig: {
          compilerOptions: {
            target: 'ES2022',
            lib: ['ES2023'],
            module: 'NodeNext',
            moduleResolution: 'NodeNext',
            strict: true,
            skipLibCheck: true,
            types: ['node'],
            typeRoots: [path.join(ROOT, 'node_modules', '@types')],
          },
          files: [path.join(ROOT, types)],
        },
      },
      apiReport: { enabled: true, reportFileName, reportFolder: work, reportTempFolder: work },
      docModel: { enabled: false },
      dtsRollup: { enabled: false },
      tsdocMetadata: { enabled: false },
      messages: {
        compilerMessageReporting: { default: { logLevel: ExtractorLogLevel.Error } },
        extractorMessageReporting: {
          default: { logLevel: ExtractorLogLevel.None },
          // Named in the report, so a change to such a type is at least seen by name.
          'ae-forgotten-export': { logLevel: ExtractorLogLevel.None, addToApiReportFile: true },
        },
        tsdocMessageReporting: { default: { logLevel: ExtractorLogLevel.None } },
      },
    },
    configObjectFullPath: undefined,
    packageJsonFullPath: path.join(ROOT, 'package.json'),
  });
  const errors: string[] = [];
  const result = Extractor.invoke(config, {
    localBuild: true,
    messageCallback: (message) => {
      if (message.logLevel === ExtractorLogLevel.Error) errors.push(message.text);
      message.handled = true;
    },
  });
  if (!result.succeeded || errors.length > 0)
    throw new Error(`API Extractor failed for ${types}: ${errors.join('\n')}`);
  // A warning that belongs to no declaration is listed at the end with its source file and
  // line (`// src/fastify.ts:67:3 - (ae-forgotten-export) …`): without them, a move of that
  // file leaves the report as it was.
  return readFileSync(path.join(work, reportFileName), 'utf8').replace(/^\/\/ \S+:\d+:\d+ - \(/gm, '// (');
}
