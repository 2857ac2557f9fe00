/**
 * The HTTP operations surface (DESIGN §5), on node:http:
 *   GET /health             200 when Sluice accepts clients and has a usable, writable writeHost
 *                           and does not refuse writes (cluster.cooperation: an instance without a
 *                           majority of the servers refuses them); 503 + JSON reason otherwise
 *                           (HAProxy `option httpchk GET /health`, a keepalived check script).
 *   GET /health?role=read   200 when at least one host is readable (read-only HAProxy backend).
 *   GET /metrics            Prometheus text (prom-client, private registry).
 *   GET /status.json        backends, writer, counters, cooperation (`cluster`), recent transitions.
 *   GET /                   status page (polls /status.json).
 * HEAD is answered like GET without a body; other methods get 405, other paths 404.
 */
import http from 'node:http';
import type net from 'node:net';
import type { Logger } from 'pino';
import type { HttpSources } from './sources.js';
import { createMetrics } from './metrics.js';
import { StatusTracker } from './status.js';
import { STATUS_PAGE_HTML } from './status-page.js';
import { listenOn } from '../../frontend/listen.js';

export interface HttpServerHandle {
  readonly address: { host: string; port: number };
  close(): Promise<void>;
}

const JSON_TYPE = 'application/json; charset=utf-8';

export async function startHttpServer(src: HttpSources, host: string, port: number, log: Logger): Promise<HttpServerHandle> {
  const metrics = createMetrics(src);
  const tracker = new StatusTracker(src);

  const send = (req: http.IncomingMessage, res: http.ServerResponse, code: number, type: string, body: string): void => {
    res.writeHead(code, {
      'content-type': type,
      'content-length': Buffer.byteLength(body),
      'cache-control': 'no-store',
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  };
  const sendJson = (req: http.IncomingMessage, res: http.ServerResponse, code: number, value: unknown): void =>
    send(req, res, code, JSON_TYPE, `${JSON.stringify(value)}\n`);

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://sluice.invalid');
    } catch {
      sendJson(req, res, 400, { error: 'bad request target' });
      return;
    }
    const known = ['/', '/health', '/metrics', '/status.json'].includes(url.pathname);
    if (!known) {
      sendJson(req, res, 404, { error: 'not found', path: url.pathname });
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      sendJson(req, res, 405, { error: 'method not allowed' });
      return;
    }
    switch (url.pathname) {
      case '/health': {
        const role = url.searchParams.get('role') ?? 'write';
        if (role !== 'write' && role !== 'read') {
          sendJson(req, res, 400, { error: `unknown role ${JSON.stringify(role)} (write or read)` });
          return;
        }
        const h = tracker.health(role);
        sendJson(req, res, h.ok ? 200 : 503, h.body);
        return;
      }
      case '/metrics':
        send(req, res, 200, metrics.contentType, await metrics.render());
        return;
      case '/status.json':
        sendJson(req, res, 200, tracker.snapshot(await src.dataPath.snapshot()));
        return;
      default:
        send(req, res, 200, 'text/html; charset=utf-8', STATUS_PAGE_HTML);
    }
  };

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      log.warn({ err: (err as Error).message, url: req.url }, 'http: request failed');
      if (!res.headersSent) sendJson(req, res, 500, { error: 'internal error' });
      else res.destroy();
    });
  });
  server.on('clientError', (_err, socket: net.Socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
    else socket.destroy();
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.keepAliveTimeout = 5_000;

  const address = await listenOn(server, host, port).catch((err: unknown) => {
    metrics.close();
    tracker.close();
    throw err;
  });
  server.on('error', (err) => log.error({ err: err.message }, 'http: server error'));
  log.info({ http: address }, 'http operations endpoint listening');

  return {
    address,
    async close() {
      metrics.close();
      tracker.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
