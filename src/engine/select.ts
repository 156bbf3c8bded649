import { checkLocated, knownFamily, type LitestreamBinary, type LitestreamFamily, locateBinary } from '../binary.js';
import type { LitestreamConfig } from '../config.js';
import { logOnce } from '../logger.js';
import type { Engine, Runtime } from './engine.js';
import { engineV0_3 } from './v0_3/index.js';
import { engineV0_5 } from './v0_5/index.js';

const ENGINES: Readonly<Record<LitestreamFamily, Engine>> = { '0.3': engineV0_3, '0.5': engineV0_5 };

/** The engine for a release line. @internal */
export function engineFor(family: LitestreamFamily): Engine {
  return ENGINES[family];
}

/**
 * Finds the config's executable and its engine. The bundled v0.3.13 is known without
 * running it (`litestream version` takes as long as a small restore: callers verify it
 * while their first command runs); any other executable is asked for its version first.
 * Logs which executable and version run, once per config.
 *
 * @throws {@link LitestreamBinaryError} for a missing, broken or unsupported executable.
 */
export async function resolveRuntime(config: LitestreamConfig): Promise<Runtime> {
  const located = locateBinary(config.binaryPath, process.env);
  let verified: Promise<LitestreamBinary> | undefined;
  const verify = () => {
    verified ??= checkLocated(located).then((binary) => {
      logOnce(
        config,
        config.logger,
        'info',
        { component: 'litestream', path: binary.path, version: binary.version, source: binary.source },
        `using litestream ${binary.version} (${binary.source})`,
      );
      return binary;
    });
    return verified;
  };
  const family = knownFamily(located) ?? (await verify()).family;
  return { engine: engineFor(family), binary: located.path, verified: verify };
}
