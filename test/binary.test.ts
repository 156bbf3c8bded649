import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BINARY_ENV, ensureRestored, LitestreamBinaryError, resolveBinary, startReplication } from '../src/index.js';
import { seedBackup, stopCleanly, tempDir, testConfig } from './support/fixtures.js';

async function binaryError(promise: Promise<unknown>): Promise<LitestreamBinaryError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(LitestreamBinaryError);
  return error as LitestreamBinaryError;
}

/** How many times a fake litestream that logs its command to `calls` was run to restore. */
function restoresIn(calls: string): number {
  const commands = existsSync(calls) ? readFileSync(calls, 'utf8').split('\n') : [];
  return commands.filter((command) => command === 'restore').length;
}

function script(dir: string, name: string, body: string, mode = 0o755): string {
  const file = path.join(dir, name);
  writeFileSync(file, `#!/bin/sh\n${body}\n`);
  chmodSync(file, mode);
  return file;
}

describe('the litestream binary', () => {
  it('resolves the bundled platform executable directly and checks its version', async () => {
    const binary = await resolveBinary(undefined, {});
    expect(binary.version).toBe('v0.3.13');
    expect(binary.path).toMatch(/@flydotio\/litestream-linux-(x64|arm64)\/litestream$/);
  });

  it('takes an override from the environment variable', async () => {
    const bundled = await resolveBinary(undefined, {});
    // A copy elsewhere, so the result can only come from the variable.
    const copy = path.join(tempDir(), 'litestream');
    copyFileSync(bundled.path, copy);
    chmodSync(copy, 0o755);
    const binary = await resolveBinary(undefined, { [BINARY_ENV]: copy });
    expect(binary).toEqual({ path: copy, version: 'v0.3.13', family: '0.3', source: 'LITESTREAM_BINARY_PATH' });
    // The option wins over the variable.
    expect((await resolveBinary(bundled.path, { [BINARY_ENV]: copy })).path).toBe(bundled.path);
  });

  it("uses a litestream on PATH before the bundled one, but never npm's node_modules/.bin shim", async () => {
    const dir = tempDir();
    const official = path.join(dir, 'usr-local-bin');
    const shims = path.join(dir, 'node_modules', '.bin');
    mkdirSync(official, { recursive: true });
    mkdirSync(shims, { recursive: true });
    script(shims, 'litestream', 'echo v0.3.13');
    script(official, 'litestream', 'echo 0.5.17');
    const PATH = [shims, official].join(path.delimiter);
    expect(await resolveBinary(undefined, { PATH })).toEqual({
      path: path.join(official, 'litestream'),
      version: '0.5.17',
      family: '0.5',
      source: 'PATH',
    });
    // Only the shim on PATH: the bundled executable.
    expect((await resolveBinary(undefined, { PATH: shims })).source).toBe('bundled');
    // The variable wins over PATH.
    const bundled = await resolveBinary(undefined, {});
    expect((await resolveBinary(undefined, { PATH, [BINARY_ENV]: bundled.path })).family).toBe('0.3');
  });

  it('tells a development build apart by its commands', async () => {
    const dir = tempDir();
    const build = script(
      dir,
      'litestream',
      'if [ "$1" = version ]; then echo "(development build)"; else printf "Commands:\n\n    ltx          list LTX files\n"; fi',
    );
    expect(await resolveBinary(build)).toMatchObject({ version: '(development build)', family: '0.5' });
  });

  it('reports a missing binaryPath and how to fix it', async () => {
    const error = await binaryError(resolveBinary('/nonexistent/litestream'));
    expect(error.message).toMatch(/not found at \/nonexistent\/litestream \(from the binaryPath option\)/);
  });

  it('names the environment variable when its path is wrong', async () => {
    const error = await binaryError(resolveBinary(undefined, { [BINARY_ENV]: '/nope/litestream' }));
    expect(error.message).toContain(BINARY_ENV);
  });

  it('reports a file that is not executable', async () => {
    const file = script(tempDir(), 'litestream', 'echo v0.3.13', 0o644);
    const error = await binaryError(resolveBinary(file));
    expect(error.message).toMatch(/is not executable: run `chmod \+x/);
  });

  it('reports a directory', async () => {
    const error = await binaryError(resolveBinary(tempDir()));
    expect(error.message).toMatch(/is not a file/);
  });

  it('refuses an unsupported litestream version', async () => {
    const file = script(tempDir(), 'litestream', 'echo v0.5.2');
    const error = await binaryError(resolveBinary(file));
    expect(error.message).toMatch(
      /"v0\.5\.2", but litestream-node supports v0\.3\.x \(v0\.3\.13 is bundled\) and v0\.5\.7 or later/,
    );
    const older = script(tempDir(), 'litestream', 'echo v0.4.0');
    expect((await binaryError(resolveBinary(older))).message).toMatch(/"v0\.4\.0", but litestream-node supports/);
  });

  it('reports an executable that does not run', async () => {
    const file = script(tempDir(), 'litestream', 'echo broken >&2; exit 3');
    const error = await binaryError(resolveBinary(file));
    expect(error.message).toMatch(/did not run `litestream version`/);
    expect(error.detail).toContain('broken');
  });

  it('a bad binary rejects ready, logs the reason, and leaves nothing running', async () => {
    const dir = tempDir();
    const { config, logger } = testConfig(dir, { binaryPath: path.join(dir, 'missing') });
    const replication = startReplication(config);
    await binaryError(replication.ready);
    expect(replication.status().state).toBe('stopped');
    expect(logger.lines.some((line) => line.level === 'error' && line.message === 'could not start litestream')).toBe(
      true,
    );
    await stopCleanly(replication);
    expect(existsSync(path.join(dir, '.production.sqlite3-litestream-node.pid'))).toBe(false);
  });
});

describe('restore checks the binary while it downloads', () => {
  // ensureRestored runs `litestream version` beside the restore (it costs as much as a small
  // restore); a binary that fails the check still fails the restore, at once and as itself.
  it('a binary of another version fails the restore and places nothing', async () => {
    const dir = tempDir();
    const { config } = await seedBackup(dir);
    // A fake that answers `version` with 0.5, slowly, and "restores" a garbage file at once.
    const calls = path.join(tempDir(), 'calls');
    const fake = script(
      tempDir(),
      'litestream',
      `echo "$1" >> ${calls}; case "$1" in version) sleep 0.5; echo v0.5.2;; *) echo garbage > "$7";; esac`,
    );
    const error = await binaryError(ensureRestored({ ...config, binaryPath: fake }));
    expect(error.message).toMatch(
      /"v0\.5\.2", but litestream-node supports v0\.3\.x \(v0\.3\.13 is bundled\) and v0\.5\.7 or later/,
    );
    const older = script(tempDir(), 'litestream', 'echo v0.4.0');
    expect((await binaryError(resolveBinary(older))).message).toMatch(/"v0\.4\.0", but litestream-node supports/);
    // Never retried: one restore per database at most.
    expect(restoresIn(calls)).toBeLessThanOrEqual(config.databases.length);
    for (const db of config.databases) expect(existsSync(db.path)).toBe(false);
  });

  it('a binary that does not run is reported as such, without retrying the restore', async () => {
    const dir = tempDir();
    const { config } = testConfig(dir, { restore: { retryForMs: 60_000, stallTimeoutMs: 20_000 } });
    const calls = path.join(tempDir(), 'calls');
    const broken = script(tempDir(), 'litestream', `echo "$1" >> ${calls}; echo broken >&2; exit 3`);
    const error = await binaryError(ensureRestored({ ...config, binaryPath: broken }));
    expect(error.message).toMatch(/did not run `litestream version`/);
    expect(restoresIn(calls)).toBeLessThanOrEqual(config.databases.length);
    for (const db of config.databases) expect(existsSync(db.path)).toBe(false);
  });
});

describe('adapters never start a server without its replicator', () => {
  it('the Fastify plugin fails registration when litestream cannot start', async () => {
    const { default: Fastify } = await import('fastify');
    const { default: plugin } = await import('../src/fastify.js');
    const dir = tempDir();
    const { config } = testConfig(dir, { binaryPath: path.join(dir, 'missing') });
    for (const db of config.databases) writeFileSync(db.path, '');
    const app = Fastify();
    await expect(app.register(plugin, { config }).ready()).rejects.toBeInstanceOf(LitestreamBinaryError);
    await app.close();
  });
});
