import { checkLocated, knownBinary, type LitestreamBinary, type LitestreamFamily, locateBinary } from '../binary.js';
import type { LitestreamConfig } from '../config.js';
import { logOnce } from '../logger.js';
import type { Engine, Runtime, VersionedListing } from './engine.js';
import { engineV0_3 } from './v0_3/index.js';
import { engineV0_5 } from './v0_5/index.js';

const ENGINES: Readonly<Record<LitestreamFamily, Engine>> = { '0.3': engineV0_3, '0.5': engineV0_5 };

/** The engine for a release line. @internal */
export function engineFor(family: LitestreamFamily): Engine {
  return ENGINES[family];
}

/** The release line that has `listing` (each versioned listing exists on exactly one). @internal */
export function familyWithListing(listing: VersionedListing): LitestreamFamily {
  const [family] = Object.values(ENGINES)
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
  const binary = known ? using(known) : await check();
  return {
    engine: engineFor(binary.family),
    binary: located.path,
    verified: async () => binary,
    diagnose: async () => {
      await check();
    },
  };
}
