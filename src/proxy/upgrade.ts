import type { ClientRequest, IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { createProxyServer } from 'http-proxy-3';
import type { Logger } from '../observability/logger.js';
import type { CloseReason, Metrics } from '../observability/metrics.js';
import type { BufferReclaimer } from '../lib/buffer-reclaimer.js';
import type { ConnectionRegistry, OpenConnection } from './connections.js';
import type { ForwardTarget } from './forward.js';
import { withoutGatewayCookies } from './headers.js';
import { classifyUpstreamError, errorCode } from './upstream-errors.js';
import { closeAtBoundary, FrameBoundary, GOING_AWAY, POLICY_VIOLATION, trackFrames, type RelayDirection } from './ws-frames.js';

export interface Upgrader {
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, target: ForwardTarget): void;
  /**
   * Shutdown: every open WebSocket (and any still in its handshake) gets a 1001 Close frame at its
   * next frame boundary, both ways; what is still open after `deadlineMs` is cut.
   */
  goAway(deadlineMs: number): void;
  /** destroys every open pass-through connection */
  close(): void;
}

/** One upgrade in flight, found again by http-proxy-3's `proxyReqWs` event through its request. */
interface Passage {
  target: ForwardTarget;
  socket: Socket;
  proxyReq?: ClientRequest;
  timer?: NodeJS.Timeout;
  upgraded: boolean;
  timedOut: boolean;
  clientGone: boolean;
  /** stops watching the client during the handshake and puts back what it sent early */
  release?: () => void;
  /** both directions of the relay once upgraded, each with the function that stops tracking it */
  relay?: Array<{ direction: RelayDirection; untrack: () => void }>;
  /** a Close frame is on its way (shutdown, or the session ended) */
  closing: boolean;
  /** its entry in the connection registry, when it belongs to a session */
  connection?: OpenConnection;
}

/** How long a closed WebSocket's peers get to answer the Close frame before the sockets are cut. */
const CLOSE_GRACE_MS = 1000;

/** The Close frame's reason (RFC 6455 §7.1.6: short, for people debugging, not for users). */
const CLOSE_TEXT: Record<Exclude<CloseReason, 'shutdown'>, string> = {
  logout: 'session ended',
  expired: 'session expired',
  policy: 'policy',
};

/** A WebSocket client must wait for the 101; more than this before it is a misbehaving client. */
const MAX_EARLY_BYTES = 64 * 1024;

const REASONS: Record<number, string> = {
  400: 'Bad Request',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  504: 'Gateway Timeout',
};

/** A raw upgrade socket has no ServerResponse: errors are written as a minimal HTTP/1.1 response. */
export function endWithStatus(socket: Duplex, status: number, message: string): void {
  if (socket.destroyed || !socket.writable) {
    socket.destroy();
    return;
  }
  const body = `${message}\n`;
  socket.end(
    `HTTP/1.1 ${status} ${REASONS[status] ?? 'Error'}\r\n` +
      'Connection: close\r\n' +
      'Content-Type: text/plain; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

function isWebSocket(req: IncomingMessage): boolean {
  return req.method === 'GET' && req.headers.upgrade?.toLowerCase() === 'websocket';
}

/**
 * WebSocket pass-through on http-proxy-3. The caller has authenticated the request and built its
 * headers; here the outgoing handshake gets exactly those headers and that path (nothing the
 * client sent is merged back in), the handshake is bounded by the route timeout, and every
 * error ends the client socket with a plain 502/504 instead of an uncaught 'error' event.
 */
export function createUpgrader(deps: {
  logger: Logger;
  metrics: Metrics;
  isGatewayCookie?: (name: string) => boolean;
  connections?: ConnectionRegistry;
  /** told of every chunk relayed either way once upgraded, like the forwarder's bodies */
  reclaimer?: BufferReclaimer;
}): Upgrader {
  const { logger: log, metrics } = deps;
  const passages = new WeakMap<IncomingMessage, Passage>();
  const open = new Map<Socket, Passage>();
  /** set once goAway() was called: handshakes that finish later are closed at once */
  let shutdownDeadline: number | undefined;
  // the path is set per request below, so the proxy must not join paths itself
  const proxy = createProxyServer({ ws: true, prependPath: false, ignorePath: true, xfwd: false });

  // client-socket errors (a browser vanishing) arrive here; they are routine, not failures
  proxy.on('error', (error, req, socket) => {
    log.debug({ code: errorCode(error) }, 'upgrade socket error');
    const passage = passages.get(req);
    if (passage) passage.clientGone = true;
    (socket as Duplex).destroy();
  });

  proxy.on('proxyReqWs', (proxyReq, req) => {
    const passage = passages.get(req);
    if (!passage) {
      proxyReq.destroy(new Error('unknown upgrade request'));
      return;
    }
    passage.proxyReq = proxyReq;
    try {
      // http-proxy-3 starts from the client's headers; replace them all with the cleaned set
      for (const name of proxyReq.getHeaderNames()) proxyReq.removeHeader(name);
      for (const [name, value] of Object.entries(passage.target.headers)) proxyReq.setHeader(name, value);
      proxyReq.path = passage.target.path;
    } catch (error) {
      proxyReq.destroy(error as Error);
      return;
    }
    const settle = (): void => clearTimeout(passage.timer);
    // registered before http-proxy-3's own listeners, which relay proxyRes.headers to the client:
    // the upstream's answer may not set the gateway's cookies either
    const scrubCookies = (proxyRes: IncomingMessage): void => {
      const setCookies = proxyRes.headers['set-cookie'];
      if (setCookies === undefined || deps.isGatewayCookie === undefined) return;
      const kept = withoutGatewayCookies(setCookies, deps.isGatewayCookie);
      if (kept) proxyRes.headers['set-cookie'] = kept;
      else delete proxyRes.headers['set-cookie'];
    };
    // also before http-proxy-3's 'upgrade' listener, so the early bytes are back in place when it
    // pipes the sockets
    proxyReq.once('upgrade', (proxyRes: IncomingMessage, proxySocket: Socket) => {
      scrubCookies(proxyRes);
      passage.release?.();
      passage.upgraded = true;
      open.set(passage.socket, passage);
      settle();
      const fromClient = new FrameBoundary();
      passage.relay = [
        { from: proxySocket, to: passage.socket, frames: new FrameBoundary(), toServer: false },
        { from: passage.socket, to: proxySocket, frames: fromClient, toServer: true },
      ].map((direction) => ({ direction, untrack: trackFrames(direction) }));
      const { reclaimer } = deps;
      if (reclaimer) {
        // a listener beside the frame tracker's: the pipe's own chunks, read once, counted once
        const count = (chunk: Buffer): void => reclaimer.passed(chunk.length);
        proxySocket.on('data', count);
        passage.socket.on('data', count);
      }
      track(passage, fromClient);
      // http-proxy-3 pipes the sockets right after this listener; the close frames go out after that
      if (shutdownDeadline !== undefined) {
        const deadline = shutdownDeadline;
        setImmediate(() => sayGoingAway(passage, deadline - Date.now()));
      }
    });
    proxyReq.once('response', (proxyRes: IncomingMessage) => {
      scrubCookies(proxyRes);
      settle();
    });
    proxyReq.once('close', settle);
    const timeoutMs = passage.target.route.timeoutMs;
    if (timeoutMs > 0) {
      passage.timer = setTimeout(() => {
        passage.timedOut = true;
        proxyReq.destroy(new Error('upstream did not answer the upgrade in time'));
      }, timeoutMs);
    }
  });

  function onProxyError(passage: Passage, error: Error): void {
    clearTimeout(passage.timer);
    const { route } = passage.target;
    if (passage.clientGone) return;
    const kind = passage.timedOut ? 'timeout' : classifyUpstreamError(error);
    metrics.upstreamErrors.inc({ route: route.id, kind });
    log.warn({ route: route.id, kind, code: errorCode(error), upgraded: passage.upgraded }, 'upstream upgrade failed');
    if (passage.upgraded) {
      // the 101 is already out: the only honest signal left is closing the connection
      passage.socket.destroy();
      return;
    }
    if (passage.timedOut) endWithStatus(passage.socket, 504, 'Upstream timed out');
    else endWithStatus(passage.socket, 502, 'Upstream unreachable');
  }

  function upgrade(req: IncomingMessage, duplex: Duplex, head: Buffer, target: ForwardTarget): void {
    const socket = duplex as Socket;
    if (!isWebSocket(req)) {
      // http-proxy-3 carries WebSocket handshakes only (GET + Upgrade: websocket)
      socket.on('error', () => socket.destroy());
      endWithStatus(socket, req.method === 'GET' ? 501 : 400, 'Only WebSocket upgrades are supported');
      return;
    }
    const passage: Passage = { target, socket, upgraded: false, timedOut: false, clientGone: false, closing: false };
    passages.set(req, passage);
    socket.on('error', () => {
      passage.clientGone = true;
    });
    const abandon = (): void => {
      if (passage.upgraded) return;
      // the client left during the handshake: do not leave the upstream request hanging
      passage.clientGone = true;
      clearTimeout(passage.timer);
      passage.proxyReq?.destroy();
      socket.destroy();
    };
    socket.once('close', () => {
      open.delete(socket);
      if (passage.connection) deps.connections?.remove(passage.connection);
      abandon();
    });
    try {
      proxy.ws(req, socket, head, { target: target.route.to }, (error) => onProxyError(passage, error));
    } catch (error) {
      // e.g. node:http refusing to build the outgoing request; still an answer, never a throw
      onProxyError(passage, error as Error);
      return;
    }
    watchHandshake(passage, abandon);
  }

  /**
   * A socket nobody reads never notices its peer leaving, so during the handshake the client side
   * is read: an end means the client is gone; bytes sent early (the head, which http-proxy-3 has
   * put back on the socket, or a client that did not wait for the 101) are kept and put back
   * before http-proxy-3 pipes the two sockets together.
   */
  function watchHandshake(passage: Passage, abandon: () => void): void {
    const { socket } = passage;
    if (socket.destroyed) return;
    const early: Buffer[] = [];
    let earlyBytes = 0;
    const onData = (chunk: Buffer): void => {
      earlyBytes += chunk.length;
      if (earlyBytes > MAX_EARLY_BYTES) socket.destroy();
      else early.push(chunk);
    };
    socket.on('data', onData);
    socket.once('end', abandon);
    passage.release = () => {
      socket.off('data', onData);
      socket.off('end', abandon);
      socket.pause();
      if (early.length) socket.unshift(Buffer.concat(early));
    };
  }

  /**
   * A WebSocket of a session is tracked until it closes, so it ends with the session. Activity is
   * the client's data frames only: a page someone watches without touching it is idle, and the
   * pongs a browser sends by itself are no sign of anyone there.
   */
  function track(passage: Passage, fromClient: FrameBoundary): void {
    const { connections } = deps;
    if (!connections || !passage.target.session) return;
    let seen = fromClient.dataFrames;
    passage.connection = {
      handle: passage.target.session.handle,
      kind: 'websocket',
      target: passage.target,
      method: 'GET',
      takeActivity() {
        const active = fromClient.dataFrames !== seen;
        seen = fromClient.dataFrames;
        return active;
      },
      close: (reason) => closeBoth(passage, reason === 'shutdown' ? GOING_AWAY : POLICY_VIOLATION, reason === 'shutdown' ? '' : CLOSE_TEXT[reason], CLOSE_GRACE_MS),
    };
    connections.add(passage.connection);
  }

  /** A Close frame each way at the next frame boundary (RFC 6455 §7.4.1), then a hard stop after `graceMs`. */
  function closeBoth(passage: Passage, code: number, reason: string, graceMs: number): boolean {
    if (passage.closing || !passage.relay || passage.socket.destroyed) return false;
    passage.closing = true;
    for (const { direction, untrack } of passage.relay) closeAtBoundary(direction, untrack, { code, reason });
    const cut = setTimeout(() => {
      for (const { direction } of passage.relay ?? []) direction.to.destroy();
    }, Math.max(0, graceMs));
    cut.unref();
    passage.socket.once('close', () => clearTimeout(cut));
    return true;
  }

  /** Shutdown: 1001 "going away" to the client and to the upstream, then a hard stop. */
  function sayGoingAway(passage: Passage, remainingMs: number): void {
    // the registry no longer answers for it: a session ending meanwhile finds it gone
    if (passage.connection) deps.connections?.remove(passage.connection);
    if (closeBoth(passage, GOING_AWAY, '', remainingMs)) metrics.connectionsClosed.inc({ reason: 'shutdown' });
  }

  return {
    upgrade,
    goAway(deadlineMs) {
      shutdownDeadline = Date.now() + deadlineMs;
      for (const passage of open.values()) sayGoingAway(passage, deadlineMs);
    },
    close() {
      for (const socket of open.keys()) socket.destroy();
      open.clear();
    },
  };
}
