import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { tempDir } from './support/fixtures.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(command, args, { cwd, env, timeout: 120_000, maxBuffer: 10_000_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('the published package', () => {
  it('holds only what users need, and installs and loads with import, require and the bin', async () => {
    const dir = tempDir();
    // dist/ was built by the global setup; --ignore-scripts keeps prepack from rebuilding it
    // under the other test files that are using it.
    const packed = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], ROOT);
    expect(packed.code, packed.stderr).toBe(0);
    const [manifest] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as {
      filename: string;
      files: { path: string }[];
    }[];
    const files = (manifest?.files ?? []).map((file) => file.path);
    expect(files).toContain('dist/index.js');
    expect(files).toContain('dist/index.d.ts');
    expect(files).toContain('dist/cli.js');
    expect(files).toContain('LICENSE');
    for (const file of files) expect(file).toMatch(/^(dist\/[\w/-]+\.(js|d\.ts)|README\.md|LICENSE|package\.json)$/);

    writeFileSync(path.join(dir, 'package.json'), '{"name":"consumer","version":"1.0.0","private":true}');
    const installed = await run(
      'npm',
      ['install', path.join(dir, manifest?.filename ?? ''), '--ignore-scripts', '--no-audit', '--no-fund'],
      dir,
    );
    expect(installed.code, installed.stderr).toBe(0);

    const required = await run(
      process.execPath,
      [
        '-e',
        "const m = require('litestream-node'); const f = require('litestream-node/fastify'); const e = require('litestream-node/express'); console.log(typeof m.defineConfig, typeof f.default, typeof e.expressLitestream)",
      ],
      dir,
    );
    expect(required.stdout.trim(), required.stderr).toBe('function function function');
    const imported = await run(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        "import { configFromEnv } from 'litestream-node'; import plugin from 'litestream-node/fastify'; import { expressLitestream } from 'litestream-node/express'; console.log(typeof configFromEnv, typeof plugin, typeof expressLitestream)",
      ],
      dir,
    );
    expect(imported.stdout.trim(), imported.stderr).toBe('function function function');
    const bin = await run(path.join(dir, 'node_modules', '.bin', 'litestream-node'), ['--help'], dir);
    expect(bin.code, bin.stderr).toBe(0);
    expect(bin.stdout).toMatch(/^Usage: litestream-node <command>/);
  });
});
