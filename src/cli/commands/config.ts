/** \`config\`: the litestream.yml litestream-node generates, secrets masked. */
import { resolveRuntime } from '../../engine/select.js';
import type { Command } from '../command.js';
import { selected } from '../config.js';

export const config: Command = async ({ config: loaded, positionals }) => {
  const chosen = selected(loaded, positionals);
  const runtime = await resolveRuntime(loaded);
  const yaml = runtime.engine.renderYaml(chosen);
  // The generated YAML with every credential shown as \`[redacted]\`.
  if (chosen.credentials) {
    return `${yaml}\n# Credentials: in litestream's environment (LITESTREAM_ACCESS_KEY_ID=[redacted], LITESTREAM_SECRET_ACCESS_KEY=[redacted]).\n`;
  }
  if (chosen.replica?.type === 's3')
    return `${yaml}\n# Credentials: none configured; litestream uses the AWS default chain.\n`;
  return yaml;
};
