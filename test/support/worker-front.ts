// The network between the bridge and the Worker, with a switch: every request and WebSocket
// upgrade goes through to the real Worker byte for byte, except requests to a path being refused,
// which get what the Worker itself answers when its database cannot take them (503
// database_unavailable, Retry-After). That is how a test holds back the bridge's inbound records
// (/internal/telephony/inbound/batch) while everything else (route sync, media) flows. The Worker
// behind it can be switched, as when it restarts on another address.

import { createServer, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';

export interface WorkerFront {
  url: string;
  /** Requests to paths starting with `prefix` are answered 503 until admit(). */
  refuse(prefix: string): void;
  admit(): void;
  /** How many requests were refused so far. */
  readonly refused: number;
  /** From now on, go to this Worker. */
  retarget(workerUrl: string): void;
  close(): Promise<void>;
}

const REFUSAL = JSON.stringify({
  type: 'urn:vca:problem:database_unavailable',
  title: 'Service unavailable',
  status: 503,
  detail: 'The database is unreachable. Try again shortly.',
  code: 'database_unavailable',
});

export async function startWorkerFront(workerUrl: string): Promise<WorkerFront> {
  let target = new URL(workerUrl);
  let refusing: string | undefined;
  let refused = 0;
  const tunnels = new Set<{ destroy(): void }>();

  const server = createServer((request, response) => {
    if (refusing && request.url?.startsWith(refusing)) {
      refused++;
      request.resume();
      response.writeHead(503, { 'content-type': 'application/problem+json', 'retry-after': '1' });
      return response.end(REFUSAL);
    }
    const upstream = httpRequest(
      {
        host: target.hostname,
        port: target.port,
        method: request.method,
        path: request.url,
        headers: withHost(request.headers, target.host),
      },
      (answer) => {
        response.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(response);
      },
    );
    upstream.on('error', () => {
      if (!response.headersSent) response.writeHead(502);
      response.end();
    });
    request.pipe(upstream);
  });

  server.on('upgrade', (request, socket, head) => {
    const upstream = connect(Number(target.port), target.hostname, () => {
      const lines = [`${request.method} ${request.url} HTTP/1.1`];
      for (let i = 0; i < request.rawHeaders.length; i += 2) {
        const name = request.rawHeaders[i] as string;
        lines.push(`${name}: ${name.toLowerCase() === 'host' ? target.host : request.rawHeaders[i + 1]}`);
      }
      upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
      upstream.write(head);
      upstream.pipe(socket);
      socket.pipe(upstream);
    });
    tunnels.add(socket);
    tunnels.add(upstream);
    upstream.on('error', () => socket.destroy());
    socket.on('error', () => upstream.destroy());
    upstream.on('close', () => {
      tunnels.delete(upstream);
      socket.destroy();
    });
    socket.on('close', () => {
      tunnels.delete(socket);
      upstream.destroy();
    });
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    refuse: (prefix) => {
      refusing = prefix;
    },
    admit: () => {
      refusing = undefined;
    },
    get refused() {
      return refused;
    },
    retarget: (url) => {
      target = new URL(url);
    },
    close: () => {
      for (const tunnel of tunnels) tunnel.destroy();
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function withHost(headers: IncomingHttpHeaders, host: string): IncomingHttpHeaders {
  return { ...headers, host };
}
