import type { LitestreamConfig } from './types.js';

/**
 * How a message names one of `config`'s settings: the environment variable that gave it
 * when the config came from `configFromEnv` (`LITESTREAM_LEASE`), else the option
 * (`lease.whenHeld`). `option` is the option's path, as `defineConfig` takes it.
 */
export function settingName(config: LitestreamConfig, option: string): string {
  return config.settingNames?.[option] ?? option;
}
