/**
 * Litestream 0.5's control socket: HTTP over a Unix socket the library configures in the
 * child's private directory (`socket: { enabled: true, path, permissions: 0600 }`, 0.5.7+).
 * `POST /sync` with `wait: true` (0.5.9+) syncs one database now and answers once the replica
 * holds it.
 *
 * @packageDocumentation
 */
import { loadHttp } from '../support/load-on-use.js';

/** The control socket's file name in the child's private directory. */
export const CONTROL_SOCKET_NAME = 'control.sock';

/**
 * The longest socket path every platform accepts (`sun_path` is 108 bytes on Linux, 104 on
 * macOS, the terminating NUL included).
 */
export const MAX_SOCKET_PATH_BYTES = 103;

/** What `POST /sync` answered. */
export interface SocketSyncAnswer {
  /** `synced` (written and uploaded), `no_change` (nothing new; pending uploads were made). */
  readonly status: string;
  /** The database's local position after the sync. */
  readonly txid: number;
  /** The position the replica holds. */
  readonly replicatedTxid: number;
}

/**
 * The socket could not be used or litestream refused the sync: `retry` when it may pass
 * (litestream is starting or restarting, the database is not open yet, the replica failed).
 */
export class ControlSocketFailure extends Error {
  readonly retry: boolean;
  /** The HTTP status, when litestream answered. */
  readonly status: number | undefined;

  constructor(message: string, retry: boolean, status?: number) {
    super(message);
    this.retry = retry;
    this.status = status;
  }
}

/**
 * Asks litestream to sync `database` now and to answer once the replica holds it, waiting
 * at most `timeoutMs` (litestream's own wait is given in whole seconds, rounded up).
 */
export function syncThroughSocket(
  socketPath: string,
  database: string,
  options: { timeoutMs: number; signal: AbortSignal },
): Promise<SocketSyncAnswer> {
  const body = JSON.stringify({
    path: database,
    wait: true,
    timeout: Math.max(1, Math.ceil(options.timeoutMs / 1000)),
  });
  return new Promise((resolve, reject) => {
    if (options.signal.aborted) {
      reject(new ControlSocketFailure('the sync was given up', false));
      return;
    }
    const request = loadHttp(false).request(
      {
        socketPath,
        path: '/sync',
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        signal: options.signal,
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', (error) => reject(new ControlSocketFailure(error.message, true)));
        response.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const status = response.statusCode ?? 0;
          let parsed: Record<string, unknown> | undefined;
          try {
            parsed = JSON.parse(text) as Record<string, unknown>;
          } catch {
            parsed = undefined;
          }
          if (status !== 200) {
            const said = typeof parsed?.error === 'string' ? parsed.error : text.trim().slice(0, 300);
            // 404: litestream does not know the database (yet); 409: not open yet; 5xx: the sync failed.
            reject(new ControlSocketFailure(`litestream answered ${status}: ${said}`, status !== 400, status));
            return;
          }
          const txid = Number(parsed?.txid);
          const replicatedTxid = Number(parsed?.replicated_txid);
          if (!Number.isSafeInteger(txid) || !Number.isSafeInteger(replicatedTxid)) {
            reject(new ControlSocketFailure(`litestream's answer is not understood: ${text.slice(0, 300)}`, false));
            return;
          }
          resolve({ status: String(parsed?.status), txid, replicatedTxid });
        });
      },
    );
    request.on('error', (error: NodeJS.ErrnoException) => {
      if (options.signal.aborted) reject(new ControlSocketFailure('the sync was given up', false));
      // No socket (litestream not started yet, or restarting), or it went away mid-request.
      else reject(new ControlSocketFailure(`the control socket did not answer: ${error.code ?? error.message}`, true));
    });
    request.end(body);
  });
}
