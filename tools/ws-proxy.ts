// The Neon serverless driver speaks the Postgres protocol over a WebSocket. Locally there is no
// Neon edge in front of Postgres, so this tiny proxy takes `ws://host:port/v1?address=db:5432`
// and pipes the WebSocket to a TCP connection. Loopback targets only: it must never become an
// open relay. Enabled in the Worker only by the explicit NEON_WS_PROXY variable.
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import type * as WS from 'ws';
import { isMain } from './is-main.ts';

// Vite (vitest globalSetup) resolves `ws` to its browser stub; require() gets the Node build.
const { WebSocketServer } = createRequire(import.meta.url)('ws') as typeof WS;

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);

export interface WsProxy {
  /** host:port, the value for NEON_WS_PROXY. */
  address: string;
  close(): Promise<void>;
}

export async function startWsProxy(port = 0, host = '127.0.0.1'): Promise<WsProxy> {
  const wss = new WebSocketServer({ host, port, path: '/v1' });
  wss.on('connection', (socket, request) => {
    const target = new URL(request.url ?? '', 'http://proxy').searchParams.get('address') ?? '';
    const [, targetHost, targetPort] = /^(.+):(\d+)$/.exec(target) ?? [];
    if (!targetHost || !LOOPBACK.has(targetHost)) {
      socket.close(1008, 'only loopback targets');
      return;
    }
    const tcp = net.connect(Number(targetPort), targetHost);
    tcp.setNoDelay(true);
    tcp.on('data', (chunk) => socket.send(chunk));
    tcp.on('close', () => socket.close());
    tcp.on('error', () => socket.close());
    socket.on('message', (data) => tcp.write(data as Buffer));
    socket.on('close', () => tcp.destroy());
    socket.on('error', () => tcp.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    wss.once('listening', resolve);
    wss.once('error', reject);
  });
  const { port: bound } = wss.address() as AddressInfo;
  return {
    address: `${host}:${bound}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of wss.clients) client.terminate();
        wss.close(() => resolve());
      }),
  };
}

// `node tools/ws-proxy.ts [port]`: the proxy on its own, in its own process (the benchmark runs it
// so, to keep it off the load generator's event loop). Prints its address, then serves until killed.
if (isMain(import.meta.url)) {
  const proxy = await startWsProxy(Number(process.argv[2] ?? 0));
  process.stdout.write(`${proxy.address}\n`);
}
