// Raw litestream, as a shell entrypoint runs it: the same binary and the same yml the
// library renders, nothing in between. The baselines of the bench.
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { LitestreamConfig } from '../src/config/types.js';
import type { Runtime } from '../src/engine/engine.js';
import { inspectReplica } from '../src/engine/replica-formats.js';
import { resolveRuntime } from '../src/engine/select.js';
import { childEnv } from '../src/process/child-config.js';

let counter = 0;

/** The executable the library would run for `config`, checked, and its engine. */
async function runtimeOf(config: LitestreamConfig): Promise<Runtime> {
  const runtime = await resolveRuntime(config);
  await runtime.verified();
  return runtime;
}

/** Writes the yml the library would render for `config` into a fresh private directory. */
export async function writeYaml(config: LitestreamConfig, logLevel: 'debug' | 'info' = 'debug'): Promise<string> {
  const { engine } = await runtimeOf(config);
  const dir = path.join(os.tmpdir(), `raw-${process.pid}-${counter++}`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const yml = path.join(dir, 'litestream.yml');
  // `info` is what a hand-written yml gets by default; the library asks for `debug`.
  const text = engine.renderYaml(config).replace('  level: debug\n', `  level: ${logLevel}\n`);
  writeFileSync(yml, text, { mode: 0o600 });
  return yml;
}

export interface Raw {
  pid: number | undefined;
  synced(): Promise<boolean>;
  /**
   * SIGTERM, as `docker stop` sends; SIGKILL after `graceMs` (docker's default is 10 s).
   * litestream 0.3.13 can hang when the signal lands during an upload: `killed` says so.
   */
  stop(graceMs?: number): Promise<{ ms: number; code: number | null; killed: boolean }>;
}

/**
 * `litestream replicate` run directly with the same binary and the yml the library
 * renders, its log going to a file (as a shell entrypoint's would go to the container log).
 */
export async function startRaw(config: LitestreamConfig, logLevel: 'debug' | 'info' = 'debug'): Promise<Raw> {
  const { binary, engine } = await runtimeOf(config);
  const yml = await writeYaml(config, logLevel);
  const log = path.join(path.dirname(yml), 'litestream.log');
  const fd = openSync(log, 'w');
  const child = spawn(binary, ['replicate', '-config', yml, '-no-expand-env'], {
    env: childEnv(config, engine),
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    pid: child.pid,
    // Seen from the replica, as the library's format guard sees it: every database has a
    // backup there (litestream 0.5 logs its uploads only at debug level).
    synced: async () => {
      const looks = await Promise.all(
        config.databases.map((db) => {
          const location = db.replicas[0];
          return location ? inspectReplica(location) : undefined;
        }),
      );
      return looks.every((look) => look?.checked === true && look.formats.size > 0);
    },
    stop: async (graceMs = 10_000) => {
      const startedAt = performance.now();
      child.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), graceMs);
      });
      const first = await Promise.race([exited, timedOut]);
      clearTimeout(timer);
      const killed = first === 'timeout';
      if (killed) child.kill('SIGKILL');
      const code = await exited;
      return { ms: performance.now() - startedAt, code, killed };
    },
  };
}

/** Runs `litestream restore` for `database` into `output` and resolves to its wall time in ms. */
export async function rawRestore(
  config: LitestreamConfig,
  yml: string,
  database: string,
  output: string,
): Promise<number> {
  const { binary, engine } = await runtimeOf(config);
  const startedAt = performance.now();
  const child = spawn(
    binary,
    ['restore', '-config', yml, '-no-expand-env', '-if-replica-exists', '-o', output, database],
    { env: childEnv(config, engine), stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output_ = '';
  child.stdout.on('data', (chunk: Buffer) => {
    output_ += chunk;
  });
  child.stderr.on('data', (chunk: Buffer) => {
    output_ += chunk;
  });
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  const ms = performance.now() - startedAt;
  if (code !== 0) throw new Error(`litestream restore exited ${code}: ${output_}`);
  return ms;
}

/** Runs `litestream restore -if-db-not-exists -if-replica-exists` for each database in turn; ms. */
export async function rawWarmRestore(config: LitestreamConfig, yml: string): Promise<number> {
  const { binary, engine } = await runtimeOf(config);
  const startedAt = performance.now();
  for (const db of config.databases) {
    const child = spawn(
      binary,
      ['restore', '-config', yml, '-no-expand-env', '-if-db-not-exists', '-if-replica-exists', db.path],
      {
        env: childEnv(config, engine),
        stdio: 'ignore',
      },
    );
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    if (code !== 0) throw new Error(`litestream restore -if-db-not-exists exited ${code}`);
  }
  return performance.now() - startedAt;
}
