import { createServer as createHttpServer, request as httpRequest } from 'node:http';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { Transform } from 'node:stream';
import { onCleanup } from './fixtures.js';

/** A loopback TCP proxy to `target` that a test can hold (connections wait) and release. */
export interface HoldingProxy {
  readonly endpoint: string;
  /** New connections wait, unanswered, until `release()`. */
  hold(): void;
  /** Like `hold()`, and open connections freeze too: requests in flight get no answer. */
  stall(): void;
  /**
   * Open connections freeze for good, as half-open ones do, and so do the next few opened
   * (a server that closes idle connections, as real ones do, may leave none open; and the
   * app's own requests, the lease's and the probe's, may open one before litestream does);
   * later connections go through.
   */
  freezeOpen(): void;
  /** Ends `hold()` or `stall()`: waiting connections go through, frozen ones flow again. */
  release(): void;
  /** Drops every connection and refuses new ones, as an outage would, until `restore()`. */
  cut(): void;
  restore(): void;
  /** How many connections are waiting. */
  readonly waiting: number;
}

/**
 * How many new connections a half-open link swallows: litestream's next one may come after
 * one of the app's (its lease renewal, its probe), which would otherwise take the only one.
 */
const FROZEN_NEW_CONNECTIONS = 3;

export async function holdingProxy(target: string): Promise<HoldingProxy> {
  const { hostname, port } = new URL(target);
  let held = false;
  let down = false;
  /** New connections still to freeze (see freezeOpen). */
  let freezeNext = 0;
  const waiting: Socket[] = [];
  const sockets = new Set<Socket>();
  const pairs = new Set<[Socket, Socket]>();
  const pipe = (client: Socket) => {
    const upstream = createConnection({ host: hostname, port: Number(port) });
    const pair: [Socket, Socket] = [client, upstream];
    sockets.add(upstream);
    pairs.add(pair);
    upstream.on('close', () => {
      sockets.delete(upstream);
      // While stalled the pair stays: release() passes the close on to the client.
      if (!held) pairs.delete(pair);
    });
    client.pipe(upstream).pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end);
    upstream.on('error', end);
  };
  const server: Server = createServer((client) => {
    if (down) {
      client.destroy();
      return;
    }
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.pause();
    if (freezeNext > 0) {
      // Accepted and never answered, for good: the client's request goes nowhere.
      freezeNext--;
      return;
    }
    if (held) waiting.push(client);
    else pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onCleanup(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const address = server.address() as { port: number };
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    hold: () => {
      held = true;
    },
    stall: () => {
      held = true;
      for (const [client, upstream] of pairs) {
        client.unpipe(upstream);
        upstream.unpipe(client);
        client.pause();
        upstream.pause();
      }
    },
    freezeOpen: () => {
      freezeNext = FROZEN_NEW_CONNECTIONS;
      for (const pair of pairs) {
        const [client, upstream] = pair;
        client.unpipe(upstream);
        upstream.unpipe(client);
        client.pause();
        upstream.pause();
        pairs.delete(pair);
      }
    },
    release: () => {
      held = false;
      for (const pair of pairs) {
        const [client, upstream] = pair;
        if (upstream.destroyed) {
          // The server gave up on the connection during the stall: the client learns it now.
          client.destroy();
          pairs.delete(pair);
          continue;
        }
        if (client.isPaused()) client.pipe(upstream);
        if (upstream.isPaused()) upstream.pipe(client);
      }
      for (const client of waiting.splice(0)) pipe(client);
    },
    cut: () => {
      down = true;
      for (const socket of sockets) socket.destroy();
    },
    restore: () => {
      down = false;
    },
    get waiting() {
      return waiting.length;
    },
  };
}

/**
 * A loopback TCP proxy to `target` whose traffic passes, each way, through a stream made for
 * each connection (straight through where none is given).
 */
async function pipingProxy(
  target: string,
  through: { readonly toServer?: () => Transform; readonly toClient?: () => Transform },
): Promise<{ endpoint: string }> {
  const { hostname, port } = new URL(target);
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = createConnection({ host: hostname, port: Number(port) });
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    (through.toServer ? client.pipe(through.toServer()) : client).pipe(upstream);
    (through.toClient ? upstream.pipe(through.toClient()) : upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onCleanup(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { endpoint: `http://127.0.0.1:${(server.address() as { port: number }).port}` };
}

/**
 * A loopback TCP proxy to `target` whose traffic flows at `bytesPerSecond` each way (only
 * towards the server with `uploadsOnly`): a restore or an upload through it is slow but
 * steadily progressing, as on a slow link. `sentBytes()` counts what has reached the server.
 */
export async function throttledProxy(
  target: string,
  bytesPerSecond: number,
  { uploadsOnly = false } = {},
): Promise<{ endpoint: string; sentBytes(): number }> {
  let sent = 0;
  const paced = (count: boolean) => () =>
    new Transform({
      transform(chunk: Buffer, _encoding, done) {
        setTimeout(
          () => {
            if (count) sent += chunk.length;
            done(null, chunk);
          },
          (chunk.length / bytesPerSecond) * 1000,
        );
      },
    });
  const { endpoint } = await pipingProxy(target, {
    toServer: paced(true),
    ...(uploadsOnly ? {} : { toClient: paced(false) }),
  });
  return { endpoint, sentBytes: () => sent };
}

// ISO 8601 times (S3 listings' LastModified) and HTTP dates (Date, Last-Modified headers).
const ISO_TIME = /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{3})?Z/g;
const HTTP_DATE =
  /(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT/g;
/** Longer than any time above: what is held back in case a time is split across reads. */
const HOLD_BACK = 40;

/** `text` (latin1, so one character per byte) with every time in it moved by `offsetMs`. */
function shiftTimes(text: string, offsetMs: number): string {
  return text
    .replace(ISO_TIME, (time) => {
      const shifted = new Date(Date.parse(time) + offsetMs).toISOString();
      return time.includes('.') ? shifted : shifted.replace(/\.\d{3}Z$/, 'Z');
    })
    .replace(HTTP_DATE, (date) => new Date(Date.parse(date) + offsetMs).toUTCString());
}

/**
 * A loopback TCP proxy to an S3 server whose answers carry times `offsetMs` later than the
 * server's clock (listings, `Date` and `Last-Modified`): a server, or a machine, whose clock
 * is that far from the app's. Every time keeps its length, so the HTTP framing stays valid.
 */
export function skewedClockProxy(target: string, offsetMs: number): Promise<{ endpoint: string }> {
  const shifting = () => {
    let held = '';
    let flushTimer: NodeJS.Timeout | undefined;
    return new Transform({
      transform(chunk: Buffer, _encoding, done) {
        clearTimeout(flushTimer);
        const text = held + chunk.toString('latin1');
        // Never cut inside a time: the cut moves back to the start of one that crosses it.
        let cut = Math.max(0, text.length - HOLD_BACK);
        for (const pattern of [ISO_TIME, HTTP_DATE]) {
          for (const match of text.matchAll(pattern)) {
            if (match.index < cut && match.index + match[0].length > cut) cut = match.index;
          }
        }
        held = text.slice(cut);
        // An answer's last bytes are not held back for long: nothing may follow them.
        flushTimer = setTimeout(() => {
          if (held === '') return;
          this.push(Buffer.from(shiftTimes(held, offsetMs), 'latin1'));
          held = '';
        }, 2);
        done(null, Buffer.from(shiftTimes(text.slice(0, cut), offsetMs), 'latin1'));
      },
      flush(done) {
        clearTimeout(flushTimer);
        done(null, held === '' ? undefined : Buffer.from(shiftTimes(held, offsetMs), 'latin1'));
      },
    });
  };
  return pipingProxy(target, { toClient: shifting });
}

/**
 * An HTTP proxy to an S3 server that holds every conditional create (`PUT` with
 * `If-None-Match: *`) after the first for `delayMs` before passing it on; other requests go
 * through at once. `idle()` resolves when no request is in flight.
 */
export async function slowCreatesProxy(
  target: string,
  delayMs: number,
): Promise<{ endpoint: string; creates(): number; idle(): Promise<void> }> {
  const upstream = new URL(target);
  let creates = 0;
  let inFlight = 0;
  let wake: (() => void) | undefined;
  const server = createHttpServer((request, response) => {
    inFlight++;
    const isCreate = request.method === 'PUT' && request.headers['if-none-match'] === '*';
    const delay = isCreate && creates++ > 0 ? delayMs : 0;
    const body: Buffer[] = [];
    request.on('data', (chunk: Buffer) => body.push(chunk));
    request.on('end', () => {
      setTimeout(() => {
        const forwarded = httpRequest(
          {
            host: upstream.hostname,
            port: upstream.port,
            method: request.method,
            path: request.url,
            headers: request.headers,
          },
          (answer) => {
            response.writeHead(answer.statusCode ?? 502, answer.headers);
            answer.pipe(response);
            answer.on('end', () => {
              inFlight--;
              if (inFlight === 0) wake?.();
            });
          },
        );
        forwarded.on('error', () => response.destroy());
        forwarded.end(Buffer.concat(body));
      }, delay);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onCleanup(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    creates: () => creates,
    idle: () =>
      inFlight === 0
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            wake = resolve;
          }),
  };
}
