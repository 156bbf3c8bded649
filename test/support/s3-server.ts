// A real S3-compatible server (versitygw or SeaweedFS) on 127.0.0.1 with free ports and a
// data directory of its own, for one test file or one test. It can be paused (a half-open
// server), crashed and restarted on the same data directory and ports, as an outage would.
// Each instance lives in a directory under the run's directory and records its pid there,
// so the suite's teardown kills what a dead worker left running (see s3-global.ts).
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, openSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { type S3Target, s3Request } from './s3-client.js';

export type S3ServerKind = 'versitygw' | 'seaweedfs';

/** An installed server binary, as the tool installer reports it. */
export interface S3Tool {
  label: string;
  version: string;
  binary: string;
}

/** Credentials of every test server; the secret is distinctive so a leak is easy to grep. */
export const S3_CREDENTIALS = {
  bucket: 'litestream-test',
  region: 'us-east-1',
  accessKeyId: 'LSNODETESTKEY',
  secretAccessKey: 'sEcReT-lsnode-0c9b7e51-dont-leak',
};

/** The key pair a server accepts (another one than {@link S3_CREDENTIALS}'s, for a test of unusual keys). */
export interface S3Keys {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

const READY_WITHIN_MS = 30_000;
const STOP_WITHIN_MS = 5_000;

/** A port nobody listens on right now (loopback). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

async function freePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}

async function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.on('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

// SeaweedFS's plugin worker dials the admin server's HTTP port + 10000 whatever
// -admin.port.grpc says, so that port must be ours too.
async function adminPortPair(taken: readonly number[]): Promise<number> {
  for (;;) {
    const port = await freePort();
    if (port + 10_000 < 65_536 && !taken.includes(port) && (await isFree(port + 10_000))) return port;
  }
}

/** What one kind of server needs to start: its arguments and the files it leaves outside its directory. */
interface Launch {
  args: string[];
  env?: Record<string, string>;
  /** Paths outside the instance directory the server creates (removed after it exits). */
  strays: string[];
}

async function launchVersitygw(dataDir: string, keys: S3Keys): Promise<Launch & { port: number }> {
  const [port] = (await freePorts(1)) as [number];
  return {
    port,
    args: ['--port', `127.0.0.1:${port}`, '--region', S3_CREDENTIALS.region, '--quiet', 'posix', dataDir],
    // In its environment, not its arguments: the suite checks that the secret never shows in `ps`.
    env: { ROOT_ACCESS_KEY_ID: keys.accessKeyId, ROOT_SECRET_ACCESS_KEY: keys.secretAccessKey },
    strays: [],
  };
}

async function launchSeaweedfs(instanceDir: string, dataDir: string, keys: S3Keys): Promise<Launch & { port: number }> {
  const ports = await freePorts(9);
  const admin = await adminPortPair(ports);
  const [s3, s3Grpc, master, masterGrpc, volume, volumeGrpc, filer, filerGrpc, metrics] = ports as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const identities = path.join(instanceDir, 's3.json');
  await writeFile(
    identities,
    JSON.stringify({
      identities: [
        {
          name: 'test',
          credentials: [{ accessKey: keys.accessKeyId, secretKey: keys.secretAccessKey }],
          actions: ['Admin', 'Read', 'Write', 'List', 'Tagging'],
        },
      ],
    }),
  );
  const grpcPorts = [s3Grpc, masterGrpc, volumeGrpc, filerGrpc, admin + 10_000];
  return {
    port: s3,
    args: [
      'mini',
      `-dir=${dataDir}`,
      '-ip=127.0.0.1',
      '-ip.bind=127.0.0.1',
      `-s3.port=${s3}`,
      `-s3.port.grpc=${s3Grpc}`,
      `-master.port=${master}`,
      `-master.port.grpc=${masterGrpc}`,
      `-volume.port=${volume}`,
      `-volume.port.grpc=${volumeGrpc}`,
      `-filer.port=${filer}`,
      `-filer.port.grpc=${filerGrpc}`,
      `-admin.port=${admin}`,
      `-admin.port.grpc=${admin + 10_000}`,
      `-metricsPort=${metrics}`,
      '-s3.port.iceberg=0',
      '-s3.port.lance=0',
      '-webdav=false',
      '-admin.ui=false',
      `-s3.config=${identities}`,
      `-filer.localSocket=${path.join(instanceDir, 'filer.sock')}`,
      `-s3.localSocket=${path.join(instanceDir, 's3.sock')}`,
    ],
    // Its gRPC servers also listen on unix sockets with fixed names in /tmp.
    strays: grpcPorts.flatMap((port) =>
      ['s3', 'master', 'volume', 'filer', 'admin'].map((part) => `/tmp/seaweedfs-${part}-grpc-${port}.sock`),
    ),
  };
}

/** One running (or crashed) test server. */
export class S3Server implements S3Target {
  readonly bucket = S3_CREDENTIALS.bucket;
  readonly region = S3_CREDENTIALS.region;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly endpoint: string;
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();

  private constructor(
    readonly kind: S3ServerKind,
    readonly tool: S3Tool,
    /** Holds the data directory, the server's log, its pid and config. */
    readonly instanceDir: string,
    readonly dataDir: string,
    private readonly launch: Launch & { port: number },
    keys: S3Keys,
  ) {
    this.endpoint = `http://127.0.0.1:${launch.port}`;
    this.accessKeyId = keys.accessKeyId;
    this.secretAccessKey = keys.secretAccessKey;
  }

  /**
   * Starts a server of `kind` with an empty bucket, in a new directory under `runDir`. A port
   * found free can be taken by another process before the server binds it (many servers,
   * proxies and clients come and go at once): the server then exits, or another one answers
   * in its place. Either way it is started again on new ports, up to three times.
   */
  static async start(
    kind: S3ServerKind,
    tool: S3Tool,
    runDir: string,
    keys: S3Keys = S3_CREDENTIALS,
  ): Promise<S3Server> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await S3Server.#startOnce(kind, tool, runDir, keys);
      } catch (error) {
        if (!(error instanceof PortTakenError) || attempt === 3) throw error;
      }
    }
  }

  static async #startOnce(kind: S3ServerKind, tool: S3Tool, runDir: string, keys: S3Keys): Promise<S3Server> {
    await mkdir(runDir, { recursive: true });
    const instanceDir = await mkdtemp(path.join(runDir, `${kind}-`));
    const dataDir = path.join(instanceDir, 'data');
    await mkdir(dataDir);
    const launch =
      kind === 'versitygw' ? await launchVersitygw(dataDir, keys) : await launchSeaweedfs(instanceDir, dataDir, keys);
    await writeFile(path.join(instanceDir, 'strays.json'), JSON.stringify(launch.strays));
    const server = new S3Server(kind, tool, instanceDir, dataDir, launch, keys);
    try {
      await server.#spawn();
      const created = await s3Request(server, { method: 'PUT', signal: AbortSignal.timeout(READY_WITHIN_MS) }).catch(
        (error: Error) => {
          throw server.#portTaken() ? new PortTakenError(server.label) : error;
        },
      );
      // Ours, not another server on a port it took first: (versitygw) the bucket is a directory
      // in its own data directory.
      if (server.#portTaken() || (created.ok && !server.#madeBucket())) throw new PortTakenError(server.label);
      if (!created.ok) throw new Error(`creating the bucket: ${created.status} ${await created.text()}`);
    } catch (error) {
      await server.stop();
      throw error;
    }
    return server;
  }

  /** The server's log says it could not bind its port. */
  #portTaken(): boolean {
    try {
      return /address already in use/.test(readFileSync(path.join(this.instanceDir, 'server.log'), 'utf8'));
    } catch {
      return false;
    }
  }

  /** The bucket is in this server's data directory (versitygw's layout; SeaweedFS's is its own). */
  #madeBucket(): boolean {
    return this.kind !== 'versitygw' || existsSync(path.join(this.dataDir, this.bucket));
  }

  /** A label for messages and test names: `versitygw v1.8.0`. */
  get label(): string {
    return `${this.tool.label} ${this.tool.version}`;
  }

  get pid(): number | undefined {
    return this.#child?.exitCode === null && this.#child.signalCode === null ? this.#child.pid : undefined;
  }

  async #spawn(): Promise<void> {
    const log = openSync(path.join(this.instanceDir, 'server.log'), 'a');
    const child = spawn(this.tool.binary, this.launch.args, {
      stdio: ['ignore', log, log],
      env: { ...process.env, ...this.launch.env },
    });
    this.#child = child;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    this.#exited = exited;
    const spawned = new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    });
    await spawned;
    await writeFile(path.join(this.instanceDir, 'pid'), String(child.pid));
    let gone = false;
    void exited.then(() => {
      gone = true;
    });
    const deadline = Date.now() + READY_WITHIN_MS;
    for (;;) {
      if (gone && this.#portTaken()) throw new PortTakenError(this.label);
      if (gone) throw new Error(`${this.label} exited while starting: ${this.#logTail()}`);
      try {
        const response = await s3Request(this, { bucket: '', signal: AbortSignal.timeout(2_000) });
        if (response.ok) return;
        await response.body?.cancel();
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline && this.#portTaken()) throw new PortTakenError(this.label);
      if (Date.now() > deadline)
        throw new Error(`${this.label} did not answer within ${READY_WITHIN_MS} ms: ${this.#logTail()}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  #logTail(): string {
    try {
      return readFileSync(path.join(this.instanceDir, 'server.log'), 'utf8').trim().split('\n').slice(-5).join(' / ');
    } catch {
      return 'no log';
    }
  }

  /** Freezes the server (SIGSTOP): connections open, nothing answered — a half-open outage. */
  pause(): void {
    this.#child?.kill('SIGSTOP');
  }

  /** Lets a paused server go on. */
  resume(): void {
    this.#child?.kill('SIGCONT');
  }

  /** Kills the server with SIGKILL, as a crash would; its data directory stays. */
  async crash(): Promise<void> {
    this.#child?.kill('SIGCONT');
    this.#child?.kill('SIGKILL');
    await this.#exited;
    await removeStrays(this.launch.strays);
  }

  /** Starts a crashed server again on the same ports and data directory. */
  async restart(): Promise<void> {
    if (this.pid !== undefined) throw new Error(`${this.label} is still running`);
    await this.#spawn();
  }

  /** Stops the server (SIGTERM, then SIGKILL) and removes its directory. */
  async stop(): Promise<void> {
    const child = this.#child;
    if (child && this.pid !== undefined) {
      child.kill('SIGCONT');
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_WITHIN_MS);
      await this.#exited;
      clearTimeout(timer);
    }
    await removeStrays(this.launch.strays);
    await rm(this.instanceDir, { recursive: true, force: true });
  }
}

/** The server could not have the port it was given: another process took it first. */
class PortTakenError extends Error {
  constructor(label: string) {
    super(`${label}: another process took its port before it could bind it`);
    this.name = 'PortTakenError';
  }
}

async function removeStrays(strays: readonly string[]): Promise<void> {
  await Promise.all(strays.map((stray) => rm(stray, { force: true })));
}

/**
 * Kills the servers recorded under `runDir` that are still running (their worker died
 * before it could stop them), removes what they left outside it, then the directory.
 */
export async function sweepServers(runDir: string): Promise<void> {
  const instances = await readdir(runDir).catch(() => [] as string[]);
  for (const name of instances) {
    const instanceDir = path.join(runDir, name);
    const pid = Number(await readFile(path.join(instanceDir, 'pid'), 'utf8').catch(() => ''));
    if (pid > 0 && ownsDirectory(pid, instanceDir)) {
      process.kill(pid, 'SIGKILL');
      await waitGone(pid);
    }
    const strays = JSON.parse(await readFile(path.join(instanceDir, 'strays.json'), 'utf8').catch(() => '[]'));
    await removeStrays(strays);
  }
  await rm(runDir, { recursive: true, force: true });
}

/** True when `pid` is a server started on `instanceDir` (not a recycled pid). */
function ownsDirectory(pid: number, instanceDir: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(instanceDir);
  } catch {
    return false;
  }
}

async function waitGone(pid: number): Promise<void> {
  const deadline = Date.now() + STOP_WITHIN_MS;
  while (Date.now() < deadline) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
