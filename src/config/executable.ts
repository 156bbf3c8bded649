/**
 * Whether a litestream executable the user named can run: checked where the setting is
 * read, so that the error names the option or variable the path came from.
 *
 * @packageDocumentation
 */
import { accessSync, constants, statSync } from 'node:fs';
import { LitestreamBinaryError } from '../errors.js';

/** `file`, when it is an executable file; else a typed error naming `source` (the option or variable that gave it) and the fix. */
export function assertExecutable(file: string, source: string): string {
  const stat = statSync(file, { throwIfNoEntry: false });
  if (!stat) {
    throw new LitestreamBinaryError(
      `litestream executable not found at ${file} (from ${source}): fix the path, or unset it to use litestream from PATH or the bundled one.`,
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
