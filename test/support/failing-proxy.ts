// A loopback TCP proxy in front of a real S3 server that a test makes fail the way S3
// outages do, one kind at a time: `refused` (nothing listens on the port any more), `hang`
// (connections are accepted and nothing answers; those open freeze), `server-error` (every
// request is answered 503 ServiceUnavailable), `credentials` (each request's signature is
// spoiled on the way, so the real server rejects it: 403 SignatureDoesNotMatch). Each fault
// first cuts the connections open, as a server going down does. `heal()` ends the fault.
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { Transform } from 'node:stream';
import { onCleanup } from './fixtures.js';

export type ProxyFault = 'refused' | 'hang' | 'server-error' | 'credentials';

export interface FailingProxy {
  /** `http://127.0.0.1:<port>`. */
  readonly endpoint: string;
  readonly port: number;
  /** Starts failing now. */
  fail(fault: ProxyFault): Promise<void>;
  /** Passes requests through again. */
  heal(): Promise<void>;
  /** Drops every open connection (clients reconnect). */
  dropConnections(): void;
  /** When the first connection reached the proxy during the fault (not seen for `refused`). */
  readonly firstFailedAt: number | undefined;
}

const SERVICE_UNAVAILABLE = [
  'HTTP/1.1 503 Service Unavailable',
  'Content-Type: application/xml',
  'Connection: close',
  'Retry-After: 1',
  '',
  '<?xml version="1.0" encoding="UTF-8"?><Error><Code>ServiceUnavailable</Code><Message>Please reduce your request rate.</Message></Error>',
].join('\r\n');

/** Replaces every hex digit of each `Signature=` with 0: same length, so the framing holds. */
function spoilSignatures(): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      const text = chunk.toString('latin1');
      const spoiled = text.replace(/(Signature=)([0-9a-f]{64})/g, (_match, name: string) => `${name}${'0'.repeat(64)}`);
      done(null, Buffer.from(spoiled, 'latin1'));
    },
  });
}

export async function failingProxy(target: string): Promise<FailingProxy> {
  const { hostname, port: targetPort } = new URL(target);
  let fault: ProxyFault | undefined;
  let firstFailedAt: number | undefined;
  const sockets = new Set<Socket>();
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    return socket;
  };
  const onConnection = (client: Socket) => {
    track(client);
    if (fault !== undefined) firstFailedAt ??= Date.now();
    client.on('error', () => client.destroy());
    if (fault === 'hang') {
      // Accepted, never read, never answered.
      client.pause();
      return;
    }
    if (fault === 'server-error') {
      // Answered once the request's head has arrived.
      let head = '';
      client.on('data', (chunk: Buffer) => {
        head += chunk.toString('latin1');
        if (head.includes('\r\n\r\n') && client.writable) client.end(SERVICE_UNAVAILABLE);
      });
      return;
    }
    const upstream = track(createConnection({ host: hostname, port: Number(targetPort) }));
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    // While hanging, the server ending a frozen connection must not reach the client.
    const endFromServer = () => {
      if (fault !== 'hang') end();
    };
    client.on('error', end);
    client.on('close', end);
    upstream.on('error', endFromServer);
    upstream.on('close', endFromServer);
    (fault === 'credentials' ? client.pipe(spoilSignatures()) : client).pipe(upstream);
    upstream.pipe(client);
  };
  let server: Server = createServer(onConnection);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const listen = async () => {
    server = createServer(onConnection);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', resolve);
    });
  };
  const close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  const dropConnections = () => {
    for (const socket of sockets) socket.destroy();
  };
  onCleanup(async () => {
    dropConnections();
    if (server.listening) await close();
  });
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    fail: async (kind) => {
      firstFailedAt = undefined;
      if (kind === 'hang') {
        // Open connections freeze too: a request in flight gets no answer.
        for (const socket of sockets) {
          socket.unpipe();
          socket.pause();
        }
        fault = kind;
        return;
      }
      fault = kind;
      dropConnections();
      if (kind === 'refused') await close();
    },
    heal: async () => {
      const was = fault;
      fault = undefined;
      // Frozen or failing connections end; clients reconnect to a proxy that passes again.
      dropConnections();
      if (was === 'refused') await listen();
    },
    dropConnections,
    get firstFailedAt() {
      return firstFailedAt;
    },
  };
}
