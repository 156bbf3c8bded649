// Runs the built litestream-node CLI in a process of its own, as a user would.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The built CLI's entry file. */
export const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

/** How one CLI run ended. */
export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI with `env` (and the current PATH) as its whole environment. */
export function cli(args: string[], env: Record<string, string>, cwd?: string): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { env: { PATH: process.env.PATH ?? '', ...env }, cwd, timeout: 60_000 },
      (error, stdout, stderr) => {
        resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
      },
    );
  });
}
