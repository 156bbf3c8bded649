import type { LitestreamConfig } from '../config/types.js';
import { logOnce } from '../logging/logger.js';
import { checkLocated, knownBinary, type LitestreamBinary, type LitestreamFamily, locateBinary } from './binary.js';
import type { Engine, Runtime, VersionedListing } from './engine.js';

// Each engine is a chunk of its own in the build, loaded once a runtime knows which release
// line runs (beside the boot's first S3 request), not by the import of the package: an app
// runs one of them, and the import is every cold boot's cost.
const ENGINES: Readonly<Record<LitestreamFamily, () => Promise<Engine>>> = {
  '0.3': async () => (await import('./v0_3/index.js')).engineV0_3,
  '0.5': async () => (await import('./v0_5/index.js')).engineV0_5,
};

/** The engine for a release line (loaded on first use). @internal */
export function engineFor(family: LitestreamFamily): Promise<Engine> {
  return ENGINES[family]();
}

/** The release line that has `listing` (each versioned listing exists on exactly one). @internal */
export async function familyWithListing(listing: VersionedListing): Promise<LitestreamFamily> {
  const engines = await Promise.all(Object.values(ENGINES).map((load) => load()));
  const [family] = engines
    .filter((engine) => engine.listings.own[listing] !== undefined)
    .map((engine) => engine.family);
  if (family === undefined) throw new Error(`no engine lists ${listing}`);
  return family;
}

/**
 * Finds the config's executable and its engine. The bundled v0.3.13 is known without
 * running it (`litestream version` costs a Go process start beside the first restore on a
 * cold boot): it is only run to explain a command that failed. Any other executable is
 * asked for its version first. Logs which executable and version run, once per config.
 *
 * @throws {@link LitestreamBinaryError} for a missing, broken or unsupported executable.
 */
export async function resolveRuntime(config: LitestreamConfig): Promise<Runtime> {
  const located = locateBinary(config.binaryPath, process.env);
  const using = (binary: LitestreamBinary) => {
    logOnce(
      config,
      config.logger,
      'info',
      { component: 'litestream', path: binary.path, version: binary.version, source: binary.source },
      `using litestream ${binary.version} (${binary.source})`,
    );
    return binary;
  };
  let checked: Promise<LitestreamBinary> | undefined;
  const check = () => {
    checked ??= checkLocated(located).then(using);
    return checked;
  };
  const known = knownBinary(located);
  // An executable other than the bundled one is asked for its version first (a process
  // start): both engines load meanwhile, so the one it names is ready when it answers.
  if (!known) for (const load of Object.values(ENGINES)) load().catch(() => {});
  const binary = known ? using(known) : await check();
  return {
    engine: await engineFor(binary.family),
    binary: located.path,
    verified: async () => binary,
    diagnose: async () => {
      await check();
    },
  };
}
